package engine

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"testing"
)

// Test records in CPython's marshal format (marshal.dumps(v, 4) without the
// back-references, which pymarshal's golden tests cover with real Python
// output): nil, bool, int/int64, *big.Int, float64, string, []byte, []any
// (list), pyTuple, pyDict (keys in order) and pyEllipsis.
type (
	pyDict     []pyItem
	pyItem     struct{ K, V any }
	pyTuple    []any
	pyEllipsis struct{}
)

// Tagged values of the record encoding.
func pyTimestamp(micros int64) pyTuple   { return pyTuple{pyEllipsis{}, "timestamp", micros} }
func pyTimestampTZ(micros int64) pyTuple { return pyTuple{pyEllipsis{}, "timestamp_tz", micros} }
func pyDate(days int64) pyTuple          { return pyTuple{pyEllipsis{}, "date", days} }
func pyDecimal(text string) pyTuple      { return pyTuple{pyEllipsis{}, "decimal", text} }
func pyUnsupported(name string) pyTuple  { return pyTuple{pyEllipsis{}, "unsupported", name} }

func pyMarshal(t testing.TB, v any) []byte {
	t.Helper()
	out, err := appendMarshal(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func appendMarshal(out []byte, v any) ([]byte, error) {
	u32 := func(n int) { out = binary.LittleEndian.AppendUint32(out, uint32(int32(n))) }
	var err error
	switch x := v.(type) {
	case nil:
		out = append(out, 'N')
	case pyEllipsis:
		out = append(out, '.')
	case *big.Int:
		mag := new(big.Int).Abs(x)
		var digits []uint16
		for mag.Sign() > 0 {
			digits = append(digits, uint16(new(big.Int).And(mag, big.NewInt(0x7fff)).Uint64()))
			mag.Rsh(mag, 15)
		}
		out = append(out, 'l')
		if x.Sign() < 0 {
			u32(-len(digits))
		} else {
			u32(len(digits))
		}
		for _, d := range digits {
			out = binary.LittleEndian.AppendUint16(out, d)
		}
	case bool:
		if x {
			out = append(out, 'T')
		} else {
			out = append(out, 'F')
		}
	case int:
		return appendMarshal(out, int64(x))
	case int64:
		if x >= math.MinInt32 && x <= math.MaxInt32 {
			out = append(out, 'i')
			u32(int(x))
			break
		}
		mag, neg := uint64(x), x < 0
		if neg {
			mag = -mag
		}
		var digits []uint16
		for ; mag > 0; mag >>= 15 {
			digits = append(digits, uint16(mag&0x7fff))
		}
		out = append(out, 'l')
		if neg {
			u32(-len(digits))
		} else {
			u32(len(digits))
		}
		for _, d := range digits {
			out = binary.LittleEndian.AppendUint16(out, d)
		}
	case float64:
		out = append(out, 'g')
		out = binary.LittleEndian.AppendUint64(out, math.Float64bits(x))
	case string: // the type codes marshal picks: short ASCII, ASCII, UTF-8
		switch {
		case isASCII(x) && len(x) < 256:
			out = append(out, 'z', byte(len(x)))
		case isASCII(x):
			out = append(out, 'a')
			u32(len(x))
		default:
			out = append(out, 'u')
			u32(len(x))
		}
		out = append(out, x...)
	case []byte:
		out = append(out, 's')
		u32(len(x))
		out = append(out, x...)
	case []any:
		out = append(out, '[')
		u32(len(x))
		for _, item := range x {
			if out, err = appendMarshal(out, item); err != nil {
				return nil, err
			}
		}
	case pyTuple:
		out = append(out, '(')
		u32(len(x))
		for _, item := range x {
			if out, err = appendMarshal(out, item); err != nil {
				return nil, err
			}
		}
	case pyDict:
		out = append(out, '{')
		for _, it := range x {
			if out, err = appendMarshal(out, it.K); err != nil {
				return nil, err
			}
			if out, err = appendMarshal(out, it.V); err != nil {
				return nil, err
			}
		}
		out = append(out, '0')
	default:
		return nil, fmt.Errorf("pyMarshal: unsupported %T", v)
	}
	return out, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// testRecord is row i of makeRows as the dict Python would put.
func testRecord(i int64) pyDict {
	var name any = fmt.Sprintf("név-%d", i)
	if i%7 == 0 {
		name = nil
	}
	return pyDict{{"id", i}, {"score", float64(i) / 2}, {"ok", i%2 == 0}, {"name", name}}
}

// testRecords is rows first..first+n-1 as one list of dicts.
func testRecords(first, n int64) []any {
	out := make([]any, 0, n)
	for i := first; i < first+n; i++ {
		out = append(out, testRecord(i))
	}
	return out
}

func appendRecords(t *testing.T, b *Bucket, v any) {
	t.Helper()
	if _, err := b.AppendRecords(pyMarshal(t, v)); err != nil {
		t.Fatal(err)
	}
}
