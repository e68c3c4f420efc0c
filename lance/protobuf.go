package lance

import (
	"fmt"
	"math"
	"sort"

	"google.golang.org/protobuf/encoding/protowire"
)

// This file holds the small hand-written protobuf toolkit used by the
// manifest and transaction codecs. Everything is bounds-checked: malformed
// input yields an error, never a panic.

// pbValue is one decoded field occurrence.
type pbValue struct {
	num protowire.Number
	typ protowire.Type
	u   uint64 // varint, fixed32 and fixed64 payloads
	b   []byte // bytes payload (aliases the input)
	raw []byte // the whole field including its tag (aliases the input)
}

// walkFields calls fn for every top-level field of the message in b.
func walkFields(b []byte, fn func(v pbValue) error) error {
	for len(b) > 0 {
		start := b
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("bad tag: %w", protowire.ParseError(n))
		}
		b = b[n:]
		v := pbValue{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			x, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return fmt.Errorf("field %d: bad varint: %w", num, protowire.ParseError(m))
			}
			v.u, n = x, m
		case protowire.Fixed32Type:
			x, m := protowire.ConsumeFixed32(b)
			if m < 0 {
				return fmt.Errorf("field %d: bad fixed32: %w", num, protowire.ParseError(m))
			}
			v.u, n = uint64(x), m
		case protowire.Fixed64Type:
			x, m := protowire.ConsumeFixed64(b)
			if m < 0 {
				return fmt.Errorf("field %d: bad fixed64: %w", num, protowire.ParseError(m))
			}
			v.u, n = x, m
		case protowire.BytesType:
			x, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return fmt.Errorf("field %d: bad length-delimited value: %w", num, protowire.ParseError(m))
			}
			v.b, n = x, m
		default:
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return fmt.Errorf("field %d: bad value: %w", num, protowire.ParseError(m))
			}
			n = m
		}
		b = b[n:]
		v.raw = start[:len(start)-len(b)]
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}

func (v pbValue) wantVarint() (uint64, error) {
	if v.typ != protowire.VarintType {
		return 0, fmt.Errorf("field %d: wire type %d, want varint", v.num, v.typ)
	}
	return v.u, nil
}

func (v pbValue) wantBytes() ([]byte, error) {
	if v.typ != protowire.BytesType {
		return nil, fmt.Errorf("field %d: wire type %d, want length-delimited", v.num, v.typ)
	}
	return v.b, nil
}

func (v pbValue) wantUint32() (uint32, error) {
	x, err := v.wantVarint()
	if err != nil {
		return 0, err
	}
	if x > math.MaxUint32 {
		return 0, fmt.Errorf("field %d: value %d overflows uint32", v.num, x)
	}
	return uint32(x), nil
}

// wantInt32s decodes one occurrence of a repeated int32 field, packed or not.
func (v pbValue) wantInt32s(dst []int32) ([]int32, error) {
	conv := func(x uint64) (int32, error) {
		// int32 is encoded as the sign-extended 64-bit two's complement.
		s := int64(x)
		if s < math.MinInt32 || s > math.MaxInt32 {
			return 0, fmt.Errorf("field %d: value %d overflows int32", v.num, s)
		}
		return int32(s), nil
	}
	switch v.typ {
	case protowire.VarintType:
		x, err := conv(v.u)
		if err != nil {
			return nil, err
		}
		return append(dst, x), nil
	case protowire.BytesType:
		b := v.b
		for len(b) > 0 {
			u, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return nil, fmt.Errorf("field %d: bad packed varint: %w", v.num, protowire.ParseError(n))
			}
			b = b[n:]
			x, err := conv(u)
			if err != nil {
				return nil, err
			}
			dst = append(dst, x)
		}
		return dst, nil
	}
	return nil, fmt.Errorf("field %d: wire type %d, want int32", v.num, v.typ)
}

// decodeMapEntry decodes a map entry message {1: key string, 2: value}.
func decodeMapEntry(b []byte) (key string, val []byte, err error) {
	err = walkFields(b, func(v pbValue) error {
		switch v.num {
		case 1:
			k, err := v.wantBytes()
			if err != nil {
				return err
			}
			key = string(k)
		case 2:
			x, err := v.wantBytes()
			if err != nil {
				return err
			}
			val = x
		}
		return nil
	})
	return key, val, err
}

func addBytesMapEntry(m *map[string][]byte, b []byte) error {
	k, val, err := decodeMapEntry(b)
	if err != nil {
		return err
	}
	if *m == nil {
		*m = map[string][]byte{}
	}
	(*m)[k] = append([]byte{}, val...)
	return nil
}

func addStringMapEntry(m *map[string]string, b []byte) error {
	k, val, err := decodeMapEntry(b)
	if err != nil {
		return err
	}
	if *m == nil {
		*m = map[string]string{}
	}
	(*m)[k] = string(val)
	return nil
}

// --- encoding helpers -------------------------------------------------------

func appendVarintField(b []byte, num protowire.Number, x uint64) []byte {
	if x == 0 {
		return b
	}
	return appendVarintFieldAlways(b, num, x)
}

func appendVarintFieldAlways(b []byte, num protowire.Number, x uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, x)
}

func appendBytesField(b []byte, num protowire.Number, x []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, x)
}

func appendStringField(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendPackedInt32s(b []byte, num protowire.Number, xs []int32) []byte {
	if len(xs) == 0 {
		return b
	}
	var p []byte
	for _, x := range xs {
		p = protowire.AppendVarint(p, uint64(int64(x)))
	}
	return appendBytesField(b, num, p)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func appendBytesMap(b []byte, num protowire.Number, m map[string][]byte) []byte {
	for _, k := range sortedKeys(m) {
		var e []byte
		e = appendStringField(e, 1, k)
		e = protowire.AppendTag(e, 2, protowire.BytesType)
		e = protowire.AppendBytes(e, m[k])
		b = appendBytesField(b, num, e)
	}
	return b
}

func appendStringMap(b []byte, num protowire.Number, m map[string]string) []byte {
	for _, k := range sortedKeys(m) {
		var e []byte
		e = appendStringField(e, 1, k)
		e = appendStringField(e, 2, m[k])
		b = appendBytesField(b, num, e)
	}
	return b
}

func protowireNumber(op Operation) protowire.Number { return protowire.Number(op) }
