package engine

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

func pyTime(micros int64) pyTuple     { return pyTuple{pyEllipsis{}, "time", micros} }
func pyDuration(micros int64) pyTuple { return pyTuple{pyEllipsis{}, "duration", micros} }

// timeTypesSchema: time and duration columns of every unit, as pylance
// writes them.
var timeTypesSchema = arrow.NewSchema([]arrow.Field{
	{Name: "ts", Type: arrow.FixedWidthTypes.Time32s, Nullable: true},
	{Name: "tms", Type: arrow.FixedWidthTypes.Time32ms, Nullable: true},
	{Name: "tns", Type: arrow.FixedWidthTypes.Time64ns, Nullable: true},
	{Name: "ds", Type: arrow.FixedWidthTypes.Duration_s, Nullable: true},
	{Name: "dns", Type: arrow.FixedWidthTypes.Duration_ns, Nullable: true},
	{Name: "l", Type: arrow.ListOf(arrow.FixedWidthTypes.Duration_ms), Nullable: true},
}, nil)

// TestRecordsIntoTimeTypes: times and timedeltas go into time32/time64 and
// duration columns of any unit when the unit holds them exactly; the rest is
// refused, naming the column, and nothing of the call is kept.
func TestRecordsIntoTimeTypes(t *testing.T) {
	steps := []ruleStep{
		ok(rec("ts", pyTime(3_723_000_000), "tms", pyTime(2_000), "tns", pyTime(86_399_999_999), "ds", pyDuration(-86_400_000_000),
			"dns", pyDuration(1), "l", []any{pyDuration(2_000), nil})),
		ok(rec("ts", nil, "tns", pyTime(0), "dns", pyDuration(9_223_372_036_854_775))),
		refused(rec("ts", pyTime(1)), ErrSchemaMismatch, `field 'ts': expected time32\[s\], found time 00:00:00.000001 \(the column's unit cannot hold it exactly: time32\[s\] would lose precision or overflow\)`),
		refused(rec("tms", pyTime(86_400_000_000)), ErrSchemaMismatch, `field 'tms': expected time32\[ms\], found time time\(microseconds=86400000000\)`),
		refused(rec("tns", pyTime(-1)), ErrSchemaMismatch, `field 'tns': expected time64\[ns\]`),
		refused(rec("ds", pyDuration(1_000)), ErrSchemaMismatch, `field 'ds': expected duration\[s\], found timedelta timedelta\(microseconds=1000\) \(the column's unit`),
		refused(rec("dns", pyDuration(9_223_372_036_854_776)), ErrSchemaMismatch, `field 'dns': expected duration\[ns\].*would lose precision or overflow`),
		refused(rec("l", []any{pyDuration(1)}), ErrSchemaMismatch, `field 'l\[\]': expected duration\[ms\]`),
		refused(rec("ts", pyDuration(0)), ErrSchemaMismatch, `field 'ts': expected time32\[s\], found timedelta timedelta\(microseconds=0\)`),
		refused(rec("ds", pyTime(0)), ErrSchemaMismatch, `field 'ds': expected duration\[s\], found time 00:00:00`),
		refused(rec("ds", 5), ErrSchemaMismatch, `field 'ds': expected duration\[s\], found int 5`),
		refused(rec("ts", pyTuple{pyEllipsis{}, "time", "noon"}), ErrInvalidArgument, `'time'\|'duration', int\)`),
	}
	rows := []string{
		"ts=(null) tms=(null) tns=(null) ds=(null) dns=(null) l=(null) ",
		`ts=01:02:03 tms=00:00:00.002 tns=23:59:59.999999000 ds=-86400s dns=1000ns l=["2ms",null] `,
		"ts=(null) tms=(null) tns=00:00:00.000000000 ds=(null) dns=9223372036854775000ns l=(null) ",
	}
	runRecordSteps(t, timeTypesSchema, steps, rows)
}
