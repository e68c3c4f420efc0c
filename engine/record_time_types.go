package engine

import (
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/persisting/persisting/pymarshal"
)

// Record values into time32, time64 and duration columns. The record
// encoding carries a datetime.time as (..., "time", microseconds since
// midnight) and a datetime.timedelta as (..., "duration", microseconds); a
// first value infers time64[us] or duration[us], as pyarrow does. A column of
// another unit takes a value converted exactly: a coarser unit (time32[s],
// duration[ms], ...) refuses a value with a finer part, nanoseconds take
// every value their int64 holds.

const microsPerDay = 86400 * 1e6

// timeTypeIn is rv's payload in the unit of t (a time or duration type),
// false when it is of another kind, loses precision or overflows.
func timeTypeIn(d *pymarshal.Decoder, t arrow.DataType, rv recordValue) (int64, bool) {
	var unit arrow.TimeUnit
	switch t := t.(type) {
	case *arrow.Time32Type:
		unit = t.Unit
	case *arrow.Time64Type:
		unit = t.Unit
	case *arrow.DurationType:
		if rv.kind != kindDuration {
			return 0, false
		}
		n, ok := rv.ticks(d)
		if !ok {
			return 0, false
		}
		return ticksIn(n, rv.unit, t.Unit)
	}
	if rv.kind != kindTime || d.Int(rv.arg) < 0 || d.Int(rv.arg) >= microsPerDay {
		return 0, false
	}
	return timestampIn(unit, d.Int(rv.arg))
}

// isTimeType says whether t is one of the types of this file.
func isTimeType(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.TIME32, arrow.TIME64, arrow.DURATION:
		return true
	}
	return false
}

// whyNotTimeType says why rv, of the kind t takes, does not fit t ("" when it
// is of another kind).
func whyNotTimeType(d *pymarshal.Decoder, t arrow.DataType, rv recordValue) string {
	if !isTimeType(t) || (rv.kind != kindTime && rv.kind != kindDuration) || (rv.kind == kindDuration) != (t.ID() == arrow.DURATION) {
		return ""
	}
	return fmt.Sprintf(" (the column's unit cannot hold it exactly: %s would lose precision or overflow)", typeText(t))
}

// appendTimeType appends v, checked by timeTypeIn, to c's builder.
func appendTimeType(d *pymarshal.Decoder, c *recordColumn, v pymarshal.Node) {
	n, _ := timeTypeIn(d, c.typ, valueOf(d, v))
	switch b := c.build.(type) {
	case *array.Time32Builder:
		b.Append(arrow.Time32(n))
	case *array.Time64Builder:
		b.Append(arrow.Time64(n))
	case *array.DurationBuilder:
		b.Append(arrow.Duration(n))
	}
}

// writeTimeRepr writes a time as Python prints it, a duration as a
// timedelta expression.
func writeTimeRepr(sb *strings.Builder, d *pymarshal.Decoder, rv recordValue) {
	micros := d.Int(rv.arg)
	if rv.kind == kindTime && micros >= 0 && micros < microsPerDay {
		sb.WriteString(time.UnixMicro(micros).UTC().Format("15:04:05"))
		if micros%1e6 != 0 {
			fmt.Fprintf(sb, ".%06d", micros%1e6) // as Python prints it
		}
		return
	}
	if rv.kind == kindDuration && rv.unit != arrow.Microsecond {
		n, _ := rv.ticks(d)
		fmt.Fprintf(sb, "numpy.timedelta64(%d,'%s')", n, rv.unit) // as numpy prints it
		return
	}
	fmt.Fprintf(sb, "%s(microseconds=%d)", kindNames[rv.kind], micros)
}
