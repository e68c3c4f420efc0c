package lance

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// keyKind is how index keys of one column compare.
type keyKind uint8

const (
	kindInt   keyKind = iota + 1 // signed integers, dates, times, timestamps, durations
	kindUint                     // unsigned integers
	kindFloat                    // float32, float64
	kindBytes                    // string, large_string, binary, large_binary
	kindBool
	kindNull // a column of type null (lookups only: no value matches, none is indexed)
)

// key is one non-null value of an indexed column; which field is used
// depends on the column's keyKind: i for signed kinds and bools (0/1), u for
// unsigned ones and for floats (their bits, see floatKey), s for bytes.
// Keys are comparable, so they serve as map keys.
type key struct {
	i int64
	u uint64
	s string
}

func keyKindOf(dt arrow.DataType) (keyKind, bool) {
	switch dt.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.DATE32, arrow.DATE64,
		arrow.TIMESTAMP, arrow.TIME32, arrow.TIME64, arrow.DURATION:
		return kindInt, true
	case arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return kindUint, true
	case arrow.FLOAT32, arrow.FLOAT64:
		return kindFloat, true
	case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY:
		return kindBytes, true
	case arrow.BOOL:
		return kindBool, true
	}
	return 0, false
}

// compareKeys orders keys of one kind. Floats use a total order: -0 equals
// 0 and NaN (any payload) equals NaN and sorts after every number.
func compareKeys(kind keyKind, a, b key) int {
	switch kind {
	case kindInt, kindBool:
		return cmp3(a.i < b.i, a.i > b.i)
	case kindUint:
		return cmp3(a.u < b.u, a.u > b.u)
	case kindFloat:
		af, bf := math.Float64frombits(a.u), math.Float64frombits(b.u)
		an, bn := math.IsNaN(af), math.IsNaN(bf)
		switch {
		case an && bn:
			return 0
		case an:
			return 1
		case bn:
			return -1
		}
		return cmp3(af < bf, af > bf)
	default:
		return strings.Compare(a.s, b.s)
	}
}

func cmp3(less, greater bool) int {
	switch {
	case less:
		return -1
	case greater:
		return 1
	}
	return 0
}

// floatKey makes the key of a float: its bits, with -0 stored as 0 and
// every NaN as one NaN, so that equal floats are identical map keys.
func floatKey(f float64) key {
	switch {
	case f == 0:
		f = 0
	case math.IsNaN(f):
		f = math.NaN()
	}
	return key{u: math.Float64bits(f)}
}

// keyReader extracts keys from arrays of one column type.
type keyReader struct {
	kind  keyKind
	width int // bytes per value of fixed-width kinds
	dt    arrow.DataType
}

func newKeyReader(dt arrow.DataType) (keyReader, error) {
	kind, ok := keyKindOf(dt)
	if !ok {
		return keyReader{}, fmt.Errorf("%w: type %s cannot be indexed", ErrUnsupported, dt)
	}
	r := keyReader{kind: kind, dt: dt}
	if fw, ok := dt.(arrow.FixedWidthDataType); ok && kind != kindBool {
		r.width = fw.BitWidth() / 8
	}
	return r, nil
}

// at returns the key of arr[j] (false: null).
func (r keyReader) at(arr arrow.Array, j int) (key, bool) {
	if arr.IsNull(j) {
		return key{}, false
	}
	switch r.kind {
	case kindBool:
		if arr.(*array.Boolean).Value(j) {
			return key{i: 1}, true
		}
		return key{}, true
	case kindBytes:
		switch a := arr.(type) {
		case *array.String:
			return key{s: a.Value(j)}, true
		case *array.LargeString:
			return key{s: a.Value(j)}, true
		case *array.Binary:
			return key{s: string(a.Value(j))}, true
		case *array.LargeBinary:
			return key{s: string(a.Value(j))}, true
		}
		panic(fmt.Sprintf("lance: unexpected array %T for %s", arr, r.dt))
	}
	data := arr.Data()
	buf := data.Buffers()[1].Bytes()
	off := (data.Offset() + j) * r.width
	var raw uint64
	switch r.width {
	case 1:
		raw = uint64(buf[off])
	case 2:
		raw = uint64(binary.LittleEndian.Uint16(buf[off:]))
	case 4:
		raw = uint64(binary.LittleEndian.Uint32(buf[off:]))
	default:
		raw = binary.LittleEndian.Uint64(buf[off:])
	}
	switch r.kind {
	case kindInt:
		shift := 64 - 8*r.width
		return key{i: int64(raw<<shift) >> shift}, true
	case kindUint:
		return key{u: raw}, true
	default: // float
		if r.width == 4 {
			return floatKey(float64(math.Float32frombits(uint32(raw)))), true
		}
		return floatKey(math.Float64frombits(raw)), true
	}
}

// buildKeys returns an array of the reader's type holding keys, the first
// nulls of them null.
func (r keyReader) buildKeys(alloc memory.Allocator, nulls int, keys []key) arrow.Array {
	n := nulls + len(keys)
	if r.width > 0 {
		valid := memory.NewResizableBuffer(alloc)
		valid.Resize(int(bitutil.BytesForBits(int64(n))))
		vb := valid.Bytes()
		for i := range vb {
			vb[i] = 0
		}
		vals := memory.NewResizableBuffer(alloc)
		vals.Resize(n * r.width)
		b := vals.Bytes()
		for i := range b[:nulls*r.width] {
			b[i] = 0
		}
		for j, k := range keys {
			at := (nulls + j) * r.width
			bitutil.SetBit(vb, nulls+j)
			var raw uint64
			switch r.kind {
			case kindInt:
				raw = uint64(k.i)
			case kindUint:
				raw = k.u
			default:
				if r.width == 4 {
					raw = uint64(math.Float32bits(float32(math.Float64frombits(k.u))))
				} else {
					raw = k.u
				}
			}
			switch r.width {
			case 1:
				b[at] = byte(raw)
			case 2:
				binary.LittleEndian.PutUint16(b[at:], uint16(raw))
			case 4:
				binary.LittleEndian.PutUint32(b[at:], uint32(raw))
			default:
				binary.LittleEndian.PutUint64(b[at:], raw)
			}
		}
		data := array.NewData(r.dt, n, []*memory.Buffer{valid, vals}, nil, nulls, 0)
		defer data.Release()
		valid.Release()
		vals.Release()
		return array.MakeFromData(data)
	}
	bld := array.NewBuilder(alloc, r.dt)
	defer bld.Release()
	bld.Reserve(n)
	for i := 0; i < nulls; i++ {
		bld.AppendNull()
	}
	for _, k := range keys {
		switch b := bld.(type) {
		case *array.BooleanBuilder:
			b.Append(k.i != 0)
		case *array.StringBuilder:
			b.Append(k.s)
		case *array.LargeStringBuilder:
			b.Append(k.s)
		case *array.BinaryBuilder:
			b.AppendString(k.s)
		default:
			panic(fmt.Sprintf("lance: unexpected builder %T", bld))
		}
	}
	return bld.NewArray()
}

// valueKey converts a Go value given to a Cond into a key of kind.
func valueKey(kind keyKind, v any) (key, error) {
	if kind == kindNull {
		return key{}, nil // any value: it matches no row
	}
	var i int64
	var u uint64
	var f float64
	isInt, isUint, isFloat := false, false, false
	switch x := v.(type) {
	case int:
		i, isInt = int64(x), true
	case int8:
		i, isInt = int64(x), true
	case int16:
		i, isInt = int64(x), true
	case int32:
		i, isInt = int64(x), true
	case int64:
		i, isInt = x, true
	case uint:
		u, isUint = uint64(x), true
	case uint8:
		u, isUint = uint64(x), true
	case uint16:
		u, isUint = uint64(x), true
	case uint32:
		u, isUint = uint64(x), true
	case uint64:
		u, isUint = x, true
	case arrow.Date32:
		i, isInt = int64(x), true
	case arrow.Date64:
		i, isInt = int64(x), true
	case arrow.Timestamp:
		i, isInt = int64(x), true
	case arrow.Time32:
		i, isInt = int64(x), true
	case arrow.Time64:
		i, isInt = int64(x), true
	case arrow.Duration:
		i, isInt = int64(x), true
	case float32:
		f, isFloat = float64(x), true
	case float64:
		f, isFloat = x, true
	case string:
		if kind == kindBytes {
			return key{s: x}, nil
		}
	case []byte:
		if kind == kindBytes {
			return key{s: string(x)}, nil
		}
	case bool:
		if kind == kindBool {
			if x {
				return key{i: 1}, nil
			}
			return key{}, nil
		}
	}
	switch kind {
	case kindInt:
		switch {
		case isInt:
			return key{i: i}, nil
		case isUint && u <= math.MaxInt64:
			return key{i: int64(u)}, nil
		}
	case kindUint:
		switch {
		case isUint:
			return key{u: u}, nil
		case isInt && i >= 0:
			return key{u: uint64(i)}, nil
		}
	case kindFloat:
		switch {
		case isFloat:
			return floatKey(f), nil
		case isInt:
			return floatKey(float64(i)), nil
		case isUint:
			return floatKey(float64(u)), nil
		}
	}
	return key{}, fmt.Errorf("%w: value %v (%T) cannot be compared with this column", ErrValueKind, v, v)
}
