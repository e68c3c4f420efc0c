package file

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// Small protowire helpers shared by the container and encoding codecs. The
// decoders only ever slice their input, so malformed bytes cannot cause large
// allocations.

var errProto = errors.New("lance file: truncated or malformed protobuf")

// maxNesting bounds recursion while decoding nested encodings, so a crafted
// file cannot exhaust the stack.
const maxNesting = 32

type pbField struct {
	num protowire.Number
	typ protowire.Type
	b   []byte // payload for BytesType
	x   uint64 // value for varint / fixed types
}

// pbWalk calls fn for every field of message b.
func pbWalk(b []byte, fn func(f pbField) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errProto
		}
		b = b[n:]
		f := pbField{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			f.x, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var y uint32
			y, n = protowire.ConsumeFixed32(b)
			f.x = uint64(y)
		case protowire.Fixed64Type:
			f.x, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			f.b, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return errProto
		}
		b = b[n:]
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

func (f pbField) wantBytes(what string) ([]byte, error) {
	if f.typ != protowire.BytesType {
		return nil, fmt.Errorf("lance file: %s: unexpected wire type %d", what, f.typ)
	}
	return f.b, nil
}

func (f pbField) wantVarint(what string) (uint64, error) {
	if f.typ != protowire.VarintType {
		return 0, fmt.Errorf("lance file: %s: unexpected wire type %d", what, f.typ)
	}
	return f.x, nil
}

// appendUint64s appends repeated uint64 values to dst for a field that may be
// packed or not (proto3 writers pack, but both forms are legal). max bounds
// the number of values so a crafted message cannot make us allocate much.
func appendUint64s(dst []uint64, f pbField, what string, max int) ([]uint64, error) {
	switch f.typ {
	case protowire.VarintType:
		if len(dst) >= max {
			return nil, fmt.Errorf("lance file: %s: too many values", what)
		}
		return append(dst, f.x), nil
	case protowire.BytesType:
		b := f.b
		for len(b) > 0 {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return nil, errProto
			}
			if len(dst) >= max {
				return nil, fmt.Errorf("lance file: %s: too many values", what)
			}
			dst = append(dst, v)
			b = b[n:]
		}
		return dst, nil
	}
	return nil, fmt.Errorf("lance file: %s: unexpected wire type %d", what, f.typ)
}

// Encoding helpers.

func pbVarint(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// pbVarintNZ writes a proto3 scalar, omitting the default value like Lance.
func pbVarintNZ(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	return pbVarint(b, num, v)
}

func pbBytes(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func pbPacked(b []byte, num protowire.Number, vs []uint64) []byte {
	if len(vs) == 0 {
		return b
	}
	var p []byte
	for _, v := range vs {
		p = protowire.AppendVarint(p, v)
	}
	return pbBytes(b, num, p)
}

// google.protobuf.Any {1 type_url, 2 value}.
func marshalAny(typeURL string, value []byte) []byte {
	b := pbBytes(nil, 1, []byte(typeURL))
	return pbBytes(b, 2, value)
}

func unmarshalAny(b []byte) (typeURL string, value []byte, err error) {
	err = pbWalk(b, func(f pbField) error {
		switch f.num {
		case 1:
			v, err := f.wantBytes("Any.type_url")
			typeURL = string(v)
			return err
		case 2:
			v, err := f.wantBytes("Any.value")
			value = v
			return err
		}
		return nil
	})
	return typeURL, value, err
}
