package engine

import (
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/persisting/persisting/pymarshal"
)

// The values of the record encoding (version 1): what a decoded marshal node
// means as a field's value. Plain values are themselves; a tuple whose first
// item is Ellipsis is a tagged value, (..., tag, payload):
//
//	("timestamp", int)     naive datetime, microseconds since the epoch
//	("timestamp_tz", int)  aware datetime, microseconds since the epoch in UTC
//	("date", int)          date, days since the epoch
//	("time", int)          time (naive), microseconds since midnight
//	("duration", int)      timedelta, microseconds
//	("M8[u]", int)         numpy datetime64 of unit u (s, ms, us, ns): ticks
//	                       since the epoch; ("M8[D]", int) is a date (days);
//	                       ("M8[u], UTC", int) an aware timestamp in UTC
//	                       (pandas' Timestamp with a zone)
//	("m8[u]", int)         numpy timedelta64 of unit u (s, ms, us, ns): ticks
//	("decimal", str)       decimal.Decimal as str(d)
//	("uuid", bytes)        uuid.UUID: its 16 bytes (UUID.bytes)
//	("empty", value)       an empty 1-d numpy array: an empty list whose items
//	                       are typed as value (a zero of the array's dtype)
//	("unsupported", str)   a value the encoder cannot express: its type name

type valueKind uint8

const (
	kindNone valueKind = iota
	kindBool
	kindInt
	kindBigInt // an int beyond int64
	kindFloat
	kindStr
	kindBytes
	kindTimestamp
	kindTimestampTZ
	kindDate
	kindTime
	kindDuration
	kindDecimal
	kindUUID
	kindDict
	kindList        // a list, or a tuple that is not tagged
	kindEmptyList   // a tagged "empty": a list of no items, typed by its payload
	kindUnsupported // a tagged "unsupported", or Ellipsis on its own
	kindBadTag      // a tuple that starts with Ellipsis but is no tagged value
)

// storableKinds lists what a record may hold, for the message that refuses
// anything else.
const storableKinds = "None, bool, int, float, str, bytes, datetime, date, time, timedelta, Decimal, UUID, dict, list"

// kindNames name kinds as the messages do (the names of the Python types,
// except where a list of element kinds is described: see elementKindName).
var kindNames = [...]string{
	kindNone: "NoneType", kindBool: "bool", kindInt: "int", kindBigInt: "int", kindFloat: "float",
	kindStr: "str", kindBytes: "bytes", kindTimestamp: "datetime", kindTimestampTZ: "datetime",
	kindDate: "date", kindTime: "time", kindDuration: "timedelta", kindDecimal: "Decimal", kindUUID: "UUID", kindDict: "dict", kindList: "list",
	kindEmptyList:   "list",
	kindUnsupported: "unsupported", kindBadTag: "tuple",
}

// recordValue is one decoded value with its meaning.
type recordValue struct {
	kind valueKind
	node pymarshal.Node // the value (for tagged values: the tuple)
	arg  pymarshal.Node // tagged values: the payload
	unit arrow.TimeUnit // timestamps and durations: the payload's unit
	per  int64          // a coarse numpy unit's seconds per tick (unit is then Second), or 0
}

// valueOf says what node v of d means.
func valueOf(d *pymarshal.Decoder, v pymarshal.Node) recordValue {
	rv := recordValue{node: v}
	switch d.Kind(v) {
	case pymarshal.None:
		rv.kind = kindNone
	case pymarshal.Bool:
		rv.kind = kindBool
	case pymarshal.Int:
		rv.kind = kindInt
	case pymarshal.BigInt:
		rv.kind = kindBigInt
	case pymarshal.Float:
		rv.kind = kindFloat
	case pymarshal.Str:
		rv.kind = kindStr
	case pymarshal.Bytes:
		rv.kind = kindBytes
	case pymarshal.Dict:
		rv.kind = kindDict
	case pymarshal.List:
		rv.kind = kindList
	case pymarshal.Ellipsis:
		rv.kind = kindUnsupported
	case pymarshal.Tuple:
		rv.kind = kindList
		if d.Len(v) > 0 && d.Kind(d.First(v)) == pymarshal.Ellipsis {
			rv.kind, rv.arg, rv.unit, rv.per = taggedKind(d, v)
		}
	}
	return rv
}

// taggedKind decodes a tuple that starts with Ellipsis: its kind, payload
// and (timestamps, durations) the payload's unit.
func taggedKind(d *pymarshal.Decoder, v pymarshal.Node) (valueKind, pymarshal.Node, arrow.TimeUnit, int64) {
	if d.Len(v) != 3 {
		return kindBadTag, 0, 0, 0
	}
	tag := d.Next(d.First(v))
	arg := d.Next(tag)
	if d.Kind(tag) != pymarshal.Str {
		return kindBadTag, 0, 0, 0
	}
	want, kind, unit, per := pymarshal.Int, kindBadTag, arrow.Microsecond, int64(0)
	switch name := string(d.Bytes(tag)); name {
	case "timestamp":
		kind = kindTimestamp
	case "timestamp_tz":
		kind = kindTimestampTZ
	case "date":
		kind = kindDate
	case "time":
		kind = kindTime
	case "duration":
		kind = kindDuration
	case "decimal":
		kind, want = kindDecimal, pymarshal.Str
	case "uuid":
		kind, want = kindUUID, pymarshal.Bytes
		if d.Kind(arg) == want && len(d.Bytes(arg)) != 16 {
			return kindBadTag, 0, 0, 0
		}
	case "unsupported":
		kind, want = kindUnsupported, pymarshal.Str
	case "empty": // any payload: the rules type it as an item
		return kindEmptyList, arg, 0, 0
	default:
		if kind, unit, per = numpyTagKind(name); kind == kindUnsupported && d.Kind(arg) == want {
			return kind, tag, 0, 0 // named by its tag (typeName, unstorable)
		}
	}
	if kind == kindBadTag || d.Kind(arg) != want || (want == pymarshal.Str && !d.ValidUTF8(arg)) {
		return kindBadTag, 0, 0, 0
	}
	return kind, arg, unit, per
}

// numpyUnits are the units of numpy's datetime64 and timedelta64 that Arrow
// timestamps and durations hold; numpyCoarse the fixed-length units longer
// than a second, taken as seconds (pyarrow refuses them; their values are
// exact in seconds). Months and years have no fixed length.
var (
	numpyUnits  = map[string]arrow.TimeUnit{"s": arrow.Second, "ms": arrow.Millisecond, "us": arrow.Microsecond, "ns": arrow.Nanosecond}
	numpyCoarse = map[string]int64{"m": 60, "h": 3600, "D": 86400, "W": 7 * 86400}
)

// numpyTagKind reads the tags of numpy (and pandas) values, named by their
// dtype: M8[u] (datetime64), M8[u], UTC (an aware pandas Timestamp), M8[D]
// (a date) and m8[u] (timedelta64), with the seconds per tick of a coarse
// unit (0 for the others). A datetime64 or timedelta64 of another unit is
// kindUnsupported (refused, naming it); any other tag kindBadTag.
func numpyTagKind(tag string) (valueKind, arrow.TimeUnit, int64) {
	if len(tag) < 2 || (tag[:2] != "M8" && tag[:2] != "m8") {
		return kindBadTag, 0, 0
	}
	zoned := strings.HasSuffix(tag, "], UTC")
	u, open := strings.CutPrefix(strings.TrimSuffix(tag, ", UTC"), tag[:2]+"[")
	u, closed := strings.CutSuffix(u, "]")
	unit, known := numpyUnits[u]
	per := numpyCoarse[u]
	switch {
	case !open || !closed || (!known && per == 0) || (zoned && tag[0] == 'm'):
		return kindUnsupported, 0, 0
	case u == "D" && tag[0] == 'M' && !zoned:
		return kindDate, 0, 0
	case tag[0] == 'm':
		return kindDuration, unit, per
	case zoned:
		return kindTimestampTZ, unit, per
	}
	return kindTimestamp, unit, per
}

// ticks is a timestamp's or a duration's payload in rv.unit (a coarse
// numpy unit's in seconds), false when that overflows int64.
func (rv recordValue) ticks(d *pymarshal.Decoder) (int64, bool) {
	n := d.Int(rv.arg)
	if rv.per == 0 {
		return n, true
	}
	if n > math.MaxInt64/rv.per || n < math.MinInt64/rv.per {
		return 0, false
	}
	return n * rv.per, true
}

// typeName is the Python type name of the value, for messages.
func (rv recordValue) typeName(d *pymarshal.Decoder) string {
	switch rv.kind {
	case kindUnsupported:
		if d.Kind(rv.node) == pymarshal.Ellipsis {
			return "ellipsis"
		}
		return numpyTypeName(string(d.Bytes(rv.arg)))
	case kindList:
		if d.Kind(rv.node) == pymarshal.Tuple {
			return "tuple"
		}
	}
	return kindNames[rv.kind]
}

// numpyTypeName names a numpy dtype tag (M8[h], m8[ps]) as numpy does
// (datetime64[h], timedelta64[ps]); any other name as it is.
func numpyTypeName(name string) string {
	switch {
	case strings.HasPrefix(name, "M8"):
		return "datetime64" + name[2:]
	case strings.HasPrefix(name, "m8"):
		return "timedelta64" + name[2:]
	}
	return name
}

// elementKindName names a list element's kind in the message that refuses a
// list mixing kinds (the words of the inference table).
func elementKindName(d *pymarshal.Decoder, rv recordValue) string {
	switch rv.kind {
	case kindStr:
		return "string"
	case kindBytes:
		return "binary"
	case kindTimestamp:
		return "timestamp"
	case kindTimestampTZ:
		return "timestamp_tz"
	case kindDate:
		return "date"
	case kindTime:
		return "time"
	case kindDuration:
		return "duration"
	case kindDecimal:
		return "decimal"
	case kindBigInt:
		return "int"
	case kindList, kindEmptyList:
		return "list" // a tuple too: both make a list
	}
	return rv.typeName(d)
}

// describe renders a value as "type repr" (at most 40 characters of repr),
// close to what Python prints for it.
func describe(d *pymarshal.Decoder, rv recordValue) string {
	text := valueRepr(d, rv, 41)
	if len(text) > 40 {
		text = truncateUTF8(text, 37) + "..."
	}
	return rv.typeName(d) + " " + text
}

func truncateUTF8(s string, n int) string {
	for n > 0 && n < len(s) && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// valueRepr renders a value the way Python's repr does for plain values
// (containers and long texts are cut once they pass limit bytes).
func valueRepr(d *pymarshal.Decoder, rv recordValue, limit int) string {
	var sb strings.Builder
	writeRepr(&sb, d, rv, limit)
	return sb.String()
}

func writeRepr(sb *strings.Builder, d *pymarshal.Decoder, rv recordValue, limit int) {
	if sb.Len() > limit {
		return
	}
	v := rv.node
	switch rv.kind {
	case kindNone:
		sb.WriteString("None")
	case kindBool:
		if d.Bool(v) {
			sb.WriteString("True")
		} else {
			sb.WriteString("False")
		}
	case kindInt:
		sb.WriteString(strconv.FormatInt(d.Int(v), 10))
	case kindBigInt:
		sb.WriteString(d.BigInt(v).String())
	case kindFloat:
		sb.WriteString(pyFloat(d.Float(v)))
	case kindStr:
		sb.WriteString(pyQuote(d.Bytes(v), limit))
	case kindBytes:
		sb.WriteString("b" + pyQuote(d.Bytes(v), limit))
	case kindTimestamp, kindTimestampTZ:
		n, _ := rv.ticks(d)
		per := unitNanos[rv.unit]
		sec, sub := n/(1e9/per), n%(1e9/per)
		t := time.Unix(sec, sub*per).UTC()
		if rv.kind == kindTimestamp {
			sb.WriteString(t.Format("2006-01-02 15:04:05.999999999"))
		} else {
			sb.WriteString(t.Format("2006-01-02 15:04:05.999999999-07:00"))
		}
	case kindDate:
		sb.WriteString(time.Unix(d.Int(rv.arg)*86400, 0).UTC().Format("2006-01-02"))
	case kindTime, kindDuration:
		writeTimeRepr(sb, d, rv)
	case kindDecimal:
		sb.WriteString("Decimal('" + string(d.Bytes(rv.arg)) + "')")
	case kindUUID:
		h := hex.EncodeToString(d.Bytes(rv.arg))
		sb.WriteString("UUID('" + h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:] + "')")
	case kindDict:
		sb.WriteByte('{')
		for i, k := 0, d.First(v); i < d.Len(v); i++ {
			if i > 0 {
				sb.WriteString(", ")
			}
			val := d.Next(k)
			writeRepr(sb, d, valueOf(d, k), limit)
			sb.WriteString(": ")
			writeRepr(sb, d, valueOf(d, val), limit)
			if sb.Len() > limit {
				return
			}
			k = d.Next(val)
		}
		sb.WriteByte('}')
	case kindList, kindBadTag:
		open, close := "[", "]"
		if d.Kind(v) == pymarshal.Tuple {
			open, close = "(", ")"
		}
		sb.WriteString(open)
		for i, item := 0, d.First(v); i < d.Len(v); i, item = i+1, d.Next(item) {
			if i > 0 {
				sb.WriteString(", ")
			}
			writeRepr(sb, d, valueOf(d, item), limit)
			if sb.Len() > limit {
				return
			}
		}
		if d.Kind(v) == pymarshal.Tuple && d.Len(v) == 1 {
			sb.WriteByte(',')
		}
		sb.WriteString(close)
	case kindEmptyList:
		sb.WriteString("[]")
	case kindUnsupported:
		if d.Kind(v) == pymarshal.Ellipsis {
			sb.WriteString("Ellipsis")
		} else {
			sb.WriteString("<" + string(d.Bytes(rv.arg)) + ">")
		}
	}
}

// pyFloat formats f as Python's repr does: the shortest text that reads
// back as f, in exponent form below 1e-4 and from 1e16.
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	if a := math.Abs(f); a != 0 && (a >= 1e16 || a < 1e-4) {
		s := strconv.FormatFloat(f, 'e', -1, 64)
		mant, exp, _ := strings.Cut(s, "e")
		sign := exp[0]
		exp = strings.TrimLeft(exp[1:], "0")
		if len(exp) < 2 {
			exp = "0" + exp
		}
		return mant + "e" + string(sign) + exp
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// pyQuote quotes text as Python's repr of a str does (single quotes unless
// the text holds one and no double quote), escaping control characters and
// bytes that are not UTF-8; at most limit bytes of text are rendered.
func pyQuote(b []byte, limit int) string {
	q := byte('\'')
	if strings.IndexByte(string(b), '\'') >= 0 && strings.IndexByte(string(b), '"') < 0 {
		q = '"'
	}
	var sb strings.Builder
	sb.WriteByte(q)
	for i := 0; i < len(b) && sb.Len() <= limit; {
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&sb, "\\x%02x", b[i])
		case r == rune(q) || r == '\\':
			sb.WriteByte('\\')
			sb.WriteRune(r)
		case r == '\n':
			sb.WriteString("\\n")
		case r == '\r':
			sb.WriteString("\\r")
		case r == '\t':
			sb.WriteString("\\t")
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&sb, "\\x%02x", r)
		default:
			sb.WriteRune(r)
		}
		i += size
	}
	sb.WriteByte(q)
	return sb.String()
}

// pyName quotes a field name or path for messages, as Python's repr would.
func pyName(name string) string { return pyQuote([]byte(name), len(name)+8) }

// typeText names an Arrow type as pyarrow prints it (double, string,
// timestamp[us, tz=UTC], list<item: int64> ...), the names users see in
// pyarrow and pylance.
func typeText(t arrow.DataType) string {
	if s, ok := dictionaryMapText(t); ok {
		return s
	}
	switch t := t.(type) {
	case *arrow.Float16Type:
		return "halffloat"
	case *arrow.Float32Type:
		return "float"
	case *arrow.Float64Type:
		return "double"
	case *arrow.StringType:
		return "string"
	case *arrow.LargeStringType:
		return "large_string"
	case *arrow.BooleanType:
		return "bool"
	case *arrow.Date32Type:
		return "date32[day]"
	case *arrow.Date64Type:
		return "date64[ms]"
	case *arrow.TimestampType:
		if t.TimeZone != "" {
			return fmt.Sprintf("timestamp[%s, tz=%s]", t.Unit, t.TimeZone)
		}
		return fmt.Sprintf("timestamp[%s]", t.Unit)
	case *arrow.Decimal128Type:
		return fmt.Sprintf("decimal128(%d, %d)", t.Precision, t.Scale)
	case *arrow.Decimal256Type:
		return fmt.Sprintf("decimal256(%d, %d)", t.Precision, t.Scale)
	case *arrow.StructType:
		parts := make([]string, len(t.Fields()))
		for i, f := range t.Fields() {
			parts[i] = f.Name + ": " + typeText(f.Type)
		}
		return "struct<" + strings.Join(parts, ", ") + ">"
	case *arrow.ListType:
		return "list<" + t.ElemField().Name + ": " + typeText(t.Elem()) + ">"
	case *arrow.LargeListType:
		return "large_list<" + t.ElemField().Name + ": " + typeText(t.Elem()) + ">"
	case *arrow.FixedSizeListType:
		return fmt.Sprintf("fixed_size_list<%s: %s>[%d]", t.ElemField().Name, typeText(t.Elem()), t.Len())
	}
	return t.String()
}

// decimalValue is a Decimal's text parsed: unscaled * 10^-scale.
type decimalValue struct {
	unscaled *big.Int
	scale    int32
}

// maxDecimalDigits is decimal128's precision, maxDecimal256Digits
// decimal256's.
const (
	maxDecimalDigits    = 38
	maxDecimal256Digits = 76
)

// parseDecimal parses str(Decimal): [sign] digits [. digits] [E [sign] digits].
// NaN and infinities have no decimal128 value.
func parseDecimal(text string) (decimalValue, error) {
	s := text
	exp := 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || e > 1000 || e < -1000 {
			return decimalValue{}, fmt.Errorf("not a finite decimal number")
		}
		exp, s = e, s[:i]
	}
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg, s = s[0] == '-', s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	digits := intPart + frac
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return decimalValue{}, fmt.Errorf("not a finite decimal number")
	}
	u, _ := new(big.Int).SetString(digits, 10)
	scale := len(frac) - exp
	if scale < 0 {
		u.Mul(u, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-scale)), nil))
		scale = 0
	}
	if neg {
		u.Neg(u)
	}
	if scale > maxDecimal256Digits {
		return decimalValue{}, fmt.Errorf("has %d digits after the point, more than decimal256 holds (%d)", scale, maxDecimal256Digits)
	}
	return decimalValue{unscaled: u, scale: int32(scale)}, nil
}

// rescaled returns the value's unscaled integer at scale s, false when that
// would lose digits or need more than precision p.
func (v decimalValue) rescaled(p, s int32) (*big.Int, bool) {
	u := new(big.Int).Set(v.unscaled)
	switch {
	case s > v.scale:
		u.Mul(u, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(s-v.scale)), nil))
	case s < v.scale:
		q, r := new(big.Int).QuoRem(u, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(v.scale-s)), nil), new(big.Int))
		if r.Sign() != 0 {
			return nil, false
		}
		u = q
	}
	if digitCount(u) > int(p) {
		return nil, false
	}
	return u, true
}

func digitCount(u *big.Int) int {
	if u.Sign() == 0 {
		return 1
	}
	return len(new(big.Int).Abs(u).String())
}
