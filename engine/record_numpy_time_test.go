package engine

import (
	"math"
	"testing"
)

// numpy's datetime64 and timedelta64 (and pandas' Timestamp and Timedelta
// with nanoseconds) arrive tagged by their dtype, (..., "M8[ns]", ticks).
func pyM8(unit string, n int64) pyTuple    { return pyTuple{pyEllipsis{}, "M8[" + unit + "]", n} }
func pyM8UTC(unit string, n int64) pyTuple { return pyTuple{pyEllipsis{}, "M8[" + unit + "], UTC", n} }
func pym8(unit string, n int64) pyTuple    { return pyTuple{pyEllipsis{}, "m8[" + unit + "]", n} }

var numpyTimeCases = []ruleCase{
	{name: "each unit infers its type, as pyarrow does", steps: []ruleStep{ok(rec(
		"s", pyM8("s", 1), "ms", pyM8("ms", 1500), "us", pyM8("us", -1), "ns", pyM8("ns", 1_577_836_800_000_000_001),
		"day", pyM8("D", 3), "tz", pyM8UTC("ns", 1), "ds", pym8("s", 5), "dms", pym8("ms", -5), "dns", pym8("ns", 7),
		"l", []any{pyM8("ns", 1), nil}))},
		schema: "s: timestamp[s], ms: timestamp[ms], us: timestamp[us], ns: timestamp[ns], day: date32[day], " +
			"tz: timestamp[ns, tz=UTC], ds: duration[s], dms: duration[ms], dns: duration[ns], l: list<item: timestamp[ns]>",
		rows: []string{`s=1970-01-01 00:00:01Z ms=1970-01-01 00:00:01.5Z us=1969-12-31 23:59:59.999999Z ns=2020-01-01 00:00:00.000000001Z ` +
			`day=1970-01-04 tz=1970-01-01 00:00:00.000000001Z ds=5s dms=-5ms dns=7ns l=["1970-01-01 00:00:00.000000001Z",null] `}},
	{name: "units longer than a second are taken as seconds", steps: []ruleStep{ok(rec(
		"m", pyM8("m", 2), "h", pyM8("h", -1), "w", pyM8("W", 1), "dm", pym8("m", 1), "dh", pym8("h", 1), "dd", pym8("D", -2), "dw", pym8("W", 1)))},
		schema: "m: timestamp[s], h: timestamp[s], w: timestamp[s], dm: duration[s], dh: duration[s], dd: duration[s], dw: duration[s]",
		rows:   []string{`m=1970-01-01 00:02:00Z h=1969-12-31 23:00:00Z w=1970-01-08 00:00:00Z dm=60s dh=3600s dd=-172800s dw=604800s `}},
	{name: "later values go into a column of another unit when it holds them exactly", evolve: true, steps: []ruleStep{
		okFlush(rec("us", pyTimestamp(0), "ns", pyM8("ns", 5), "s", pyM8("s", 0), "d", pyDuration(1), "dns", pym8("ns", 1))),
		ok(rec("us", pyM8("ns", 3_000), "ns", pyTimestamp(2), "s", pyM8("ms", 2_000), "d", pym8("s", 1), "dns", pyDuration(3))),
		ok(rec("us", pyM8("s", 1), "ns", nil, "s", pyM8("h", 1), "d", pym8("ns", 1_000), "dns", pym8("D", 1))),
		refused(rec("us", pyM8("ns", 1)), ErrSchemaMismatch, `field 'us': expected timestamp\[us\], found datetime 1970-01-01 00:00:00.000000001 \(the column's unit cannot hold it exactly: timestamp\[us\] would lose precision`),
		refused(rec("s", pyM8("ms", 1)), ErrSchemaMismatch, `field 's': expected timestamp\[s\], found datetime 1970-01-01 00:00:00.001`),
		refused(rec("d", pym8("ns", 1)), ErrSchemaMismatch, `field 'd': expected duration\[us\], found timedelta numpy.timedelta64\(1,'ns'\) \(the column's unit`),
		refused(rec("ns", pyM8("s", 9_300_000_000)), ErrSchemaMismatch, `field 'ns': expected timestamp\[ns\], found datetime 2264-09-14 .*would lose precision or overflow`),
		refused(rec("ns", pyM8UTC("ns", 1)), ErrSchemaMismatch, `field 'ns': expected timestamp\[ns\], found datetime`),
		refused(rec("dns", pyM8("ns", 1)), ErrSchemaMismatch, `field 'dns': expected duration\[ns\], found datetime`),
		refused(rec("ns", pyM8("D", 0)), ErrSchemaMismatch, `field 'ns': expected timestamp\[ns\], found date 1970-01-01`),
		refused(rec("us", 5), ErrSchemaMismatch, `field 'us': expected timestamp\[us\], found int 5`)},
		schema: "us: timestamp[us], ns: timestamp[ns], s: timestamp[s], d: duration[us], dns: duration[ns]",
		rows: []string{
			`us=1970-01-01 00:00:00Z ns=1970-01-01 00:00:00.000000005Z s=1970-01-01 00:00:00Z d=1us dns=1ns `,
			`us=1970-01-01 00:00:00.000003Z ns=1970-01-01 00:00:00.000002Z s=1970-01-01 00:00:02Z d=1000000us dns=3000ns `,
			`us=1970-01-01 00:00:01Z ns=(null) s=1970-01-01 01:00:00Z d=1us dns=86400000000000ns `}},
	{name: "units no Arrow type holds are refused, naming them", steps: []ruleStep{
		refused(rec("y", pyM8("Y", 50)), ErrType, `field 'y': cannot store a numpy datetime64\[Y\]: .* convert it first, e.g. .astype\('datetime64\[s\]'\)`),
		refused(rec("mo", pym8("M", 1)), ErrType, `field 'mo': cannot store a numpy timedelta64\[M\]`),
		refused(rec("ps", []any{pym8("ps", 1)}), ErrType, `field 'ps\[\]': cannot store a numpy timedelta64\[ps\]`),
		refused(rec("x", pyM8("25ns", 1)), ErrType, `field 'x': cannot store a numpy datetime64\[25ns\]`),
		refused(rec("g", pyTuple{pyEllipsis{}, "M8", int64(1)}), ErrType, `field 'g': cannot store a numpy datetime64:`),
		refused(rec("dz", pyTuple{pyEllipsis{}, "m8[s], UTC", int64(1)}), ErrType, `field 'dz': cannot store a numpy timedelta64\[s\], UTC`),
		refused(rec("w", pyM8("W", math.MaxInt64/100_000)), ErrInvalidArgument, `field 'w': .* do not fit in int64 seconds`),
		refused(rec("t", pyTuple{pyEllipsis{}, "M8[ns]", "x"}), ErrInvalidArgument, `field 't': \(Ellipsis, 'M8\[ns\]', 'x'\) is not a tagged value`),
		refused(rec("t", pyTuple{pyEllipsis{}, "M9[ns]", int64(1)}), ErrInvalidArgument, `is not a tagged value`)}},
	{name: "values Python cannot read back are refused, the bounds taken", evolve: true, steps: []ruleStep{
		refused(rec("t", pyM8("s", maxDatetimeSecond+1)), ErrInvalidArgument, `field 't': datetime 10000-01-01 00:00:00 is outside the range of Python's datetime`),
		refused(rec("t", pyM8("ms", minDatetimeSecond*1000-1)), ErrInvalidArgument, `field 't': datetime 0000-12-31 23:59:59.999 is outside`),
		refused(rec("t", pyTimestampTZ(minDatetimeSecond*1e6-1)), ErrInvalidArgument, `field 't': datetime 0000-12-31 23:59:59.999999\+00:00 is outside`),
		refused(rec("t", pyM8("W", maxDatetimeSecond/604800+1)), ErrInvalidArgument, `is outside the range of Python's datetime`),
		refused(rec("d", pyM8("D", maxDateDay+1)), ErrInvalidArgument, `field 'd': date 10000-01-01 is outside the range of Python's date`),
		refused(rec("d", pyM8("D", minDateDay-1)), ErrInvalidArgument, `field 'd': date .* is outside the range of Python's date`),
		refused(rec("l", []any{pym8("s", maxTimedeltaSecond+1)}), ErrInvalidArgument, `field 'l\[\]': timedelta numpy.timedelta64\(86400000000000,'s'\) is outside the range of Python's timedelta`),
		refused(rec("l", []any{pym8("ms", minTimedeltaSecond*1000-1)}), ErrInvalidArgument, `is outside the range of Python's timedelta`),
		refused(rec("l", pyTuple{pyEllipsis{}, "duration", bigInt}), ErrInvalidArgument, `field 'l': \(Ellipsis, 'duration', 18446744073709551616\) is out of range: its int does not fit in int64`),
		ok(rec("t", pyM8("s", maxDatetimeSecond), "tz", pyTimestampTZ(minDatetimeSecond*1e6), "d", pyM8("D", minDateDay),
			"l", []any{pym8("s", maxTimedeltaSecond), pym8("s", minTimedeltaSecond)})),
		ok(rec("t", pyM8("ms", minDatetimeSecond*1000), "d", pyM8("D", maxDateDay)))},
		schema: "t: timestamp[s], tz: timestamp[us, tz=UTC], d: date32[day], l: list<item: duration[s]>",
		rows: []string{
			`t=9999-12-31 23:59:59Z tz=0001-01-01 00:00:00Z d=0001-01-01 l=["86399999999999s","-86399999913600s"] `,
			`t=0001-01-01 00:00:00Z tz=(null) d=9999-12-31 l=(null) `}},
}

// TestNumpyTimeValues: datetime64 and timedelta64 values keep their unit: a
// first value infers timestamp[unit] or duration[unit] (datetime64[D] a
// date32), as pyarrow does; a later one goes into a column of any unit that
// holds it exactly; a unit no column holds is refused, naming it.
func TestNumpyTimeValues(t *testing.T) {
	for _, c := range numpyTimeCases {
		t.Run(c.name, func(t *testing.T) { runRuleCase(t, c, false) })
	}
}
