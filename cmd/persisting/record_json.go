package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// A record is printed as one JSON object, its fields in schema order, with
// the conversions the Python CLI applied to pyarrow's values: binary as
// base64 text, dates and times in ISO 8601 (as Python's isoformat),
// durations as seconds, decimals as text, NaN and infinities as strings,
// maps as lists of [key, value] pairs.

// recordJSON appends row i of rec as a JSON object to b.
func recordJSON(b *strings.Builder, rec arrow.Record, i int) error {
	b.WriteByte('{')
	for c, f := range rec.Schema().Fields() {
		if c > 0 {
			b.WriteString(", ")
		}
		writeString(b, f.Name)
		b.WriteString(": ")
		if err := valueJSON(b, rec.Column(c), i); err != nil {
			return fmt.Errorf("column %q: %w", f.Name, err)
		}
	}
	b.WriteByte('}')
	return nil
}

func writeString(b *strings.Builder, s string) {
	text, _ := json.Marshal(s) // a string always encodes
	b.WriteString(strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(text)))
}

// valueJSON appends element i of arr.
func valueJSON(b *strings.Builder, arr arrow.Array, i int) error {
	if arr.IsNull(i) {
		b.WriteString("null")
		return nil
	}
	switch a := arr.(type) {
	case *array.Null:
		b.WriteString("null")
	case *array.Boolean:
		b.WriteString(strconv.FormatBool(a.Value(i)))
	case *array.Int8:
		b.WriteString(strconv.FormatInt(int64(a.Value(i)), 10))
	case *array.Int16:
		b.WriteString(strconv.FormatInt(int64(a.Value(i)), 10))
	case *array.Int32:
		b.WriteString(strconv.FormatInt(int64(a.Value(i)), 10))
	case *array.Int64:
		b.WriteString(strconv.FormatInt(a.Value(i), 10))
	case *array.Uint8:
		b.WriteString(strconv.FormatUint(uint64(a.Value(i)), 10))
	case *array.Uint16:
		b.WriteString(strconv.FormatUint(uint64(a.Value(i)), 10))
	case *array.Uint32:
		b.WriteString(strconv.FormatUint(uint64(a.Value(i)), 10))
	case *array.Uint64:
		b.WriteString(strconv.FormatUint(a.Value(i), 10))
	case *array.Float16:
		b.WriteString(jsonFloat(float64(a.Value(i).Float32())))
	case *array.Float32:
		b.WriteString(jsonFloat(float64(a.Value(i))))
	case *array.Float64:
		b.WriteString(jsonFloat(a.Value(i)))
	case *array.String:
		writeString(b, a.Value(i))
	case *array.LargeString:
		writeString(b, a.Value(i))
	case *array.StringView:
		writeString(b, a.Value(i))
	case *array.Binary:
		b.WriteString(`"` + base64.StdEncoding.EncodeToString(a.Value(i)) + `"`)
	case *array.LargeBinary:
		b.WriteString(`"` + base64.StdEncoding.EncodeToString(a.Value(i)) + `"`)
	case *array.BinaryView:
		b.WriteString(`"` + base64.StdEncoding.EncodeToString(a.Value(i)) + `"`)
	case *array.FixedSizeBinary:
		b.WriteString(`"` + base64.StdEncoding.EncodeToString(a.Value(i)) + `"`)
	case *array.Date32:
		b.WriteString(`"` + a.Value(i).ToTime().Format("2006-01-02") + `"`)
	case *array.Date64:
		b.WriteString(`"` + a.Value(i).ToTime().Format("2006-01-02") + `"`)
	case *array.Timestamp:
		t := a.DataType().(*arrow.TimestampType)
		s, err := isoTimestamp(int64(a.Value(i)), t)
		if err != nil {
			return err
		}
		b.WriteString(`"` + s + `"`)
	case *array.Time32:
		unit := a.DataType().(*arrow.Time32Type).Unit
		b.WriteString(`"` + isoTimeOfDay(int64(a.Value(i))*int64(unit.Multiplier())) + `"`)
	case *array.Time64:
		unit := a.DataType().(*arrow.Time64Type).Unit
		b.WriteString(`"` + isoTimeOfDay(int64(a.Value(i))*int64(unit.Multiplier())) + `"`)
	case *array.Duration:
		unit := a.DataType().(*arrow.DurationType).Unit
		ns := int64(a.Value(i)) * int64(unit.Multiplier())
		b.WriteString(pythonFloat(float64(ns) / 1e9))
	case *array.Decimal128:
		scale := a.DataType().(*arrow.Decimal128Type).Scale
		b.WriteString(`"` + a.Value(i).ToString(scale) + `"`)
	case *array.Decimal256:
		scale := a.DataType().(*arrow.Decimal256Type).Scale
		b.WriteString(`"` + a.Value(i).ToString(scale) + `"`)
	case *array.Map: // before ListLike: a Map is a List
		keys, items := a.Keys(), a.Items()
		start, end := a.ValueOffsets(i)
		b.WriteByte('[')
		for j := start; j < end; j++ {
			if j > start {
				b.WriteString(", ")
			}
			b.WriteByte('[')
			if err := valueJSON(b, keys, int(j)); err != nil {
				return err
			}
			b.WriteString(", ")
			if err := valueJSON(b, items, int(j)); err != nil {
				return err
			}
			b.WriteByte(']')
		}
		b.WriteByte(']')
	case array.ListLike:
		start, end := a.ValueOffsets(i)
		values := a.ListValues()
		b.WriteByte('[')
		for j := start; j < end; j++ {
			if j > start {
				b.WriteString(", ")
			}
			if err := valueJSON(b, values, int(j)); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case *array.Struct:
		st := a.DataType().(*arrow.StructType)
		b.WriteByte('{')
		for f := 0; f < a.NumField(); f++ {
			if f > 0 {
				b.WriteString(", ")
			}
			writeString(b, st.Field(f).Name)
			b.WriteString(": ")
			if err := valueJSON(b, a.Field(f), i); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case *array.Dictionary:
		return valueJSON(b, a.Dictionary(), a.GetValueIndex(i))
	default:
		// Anything else in arrow's own JSON form (extension types).
		text, err := json.Marshal(arr.GetOneForMarshal(i))
		if err != nil {
			return fmt.Errorf("a value of type %s: %w", arr.DataType(), err)
		}
		b.Write(text)
	}
	return nil
}

// isoTimestamp is Python's datetime.isoformat() of the value: no fraction
// when it is whole seconds, else microseconds (nanoseconds when the value
// has them), and the UTC offset of a zoned type.
func isoTimestamp(v int64, t *arrow.TimestampType) (string, error) {
	mult := int64(t.Unit.Multiplier()) // nanoseconds per unit
	perSecond := int64(1e9) / mult
	sec := v / perSecond
	if v%perSecond < 0 {
		sec-- // floor: before 1970 the fraction still counts forward
	}
	tm := time.Unix(sec, (v-sec*perSecond)*mult).UTC()
	zoned := t.TimeZone != ""
	if zoned {
		loc, err := t.GetZone()
		if err != nil {
			return "", err
		}
		if loc != nil {
			tm = tm.In(loc)
		}
	}
	s := tm.Format("2006-01-02T15:04:05") + fraction(int64(tm.Nanosecond()))
	if zoned {
		s += tm.Format("-07:00")
	}
	return s, nil
}

// isoTimeOfDay is Python's time.isoformat() of ns nanoseconds after midnight.
func isoTimeOfDay(ns int64) string {
	sec := ns / 1e9
	return fmt.Sprintf("%02d:%02d:%02d", sec/3600, sec/60%60, sec%60) + fraction(ns%1e9)
}

func fraction(ns int64) string {
	switch {
	case ns == 0:
		return ""
	case ns%1000 == 0:
		return fmt.Sprintf(".%06d", ns/1000)
	default:
		return fmt.Sprintf(".%09d", ns)
	}
}
