package file

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/decimal256"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/internal/arrowtest"
)

var versions21 = []string{"2.1", "2.2"}

// TestReadPylance21Files: the 2.0 test tables written by pylance as 2.1 and
// 2.2 files are read exactly (full and random ranges).
func TestReadPylance21Files(t *testing.T) {
	for _, ver := range versions21 {
		for _, tc := range testCases() {
			t.Run(ver+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				defer releaseAll(tc.recs)
				dir := t.TempDir()
				arrowtest.WriteIPCFile(t, filepath.Join(dir, "in.arrow"), tc.sch, tc.recs)
				p := filepath.Join(dir, "py.lance")
				args := []string{"writever", filepath.Join(dir, "in.arrow"), p, ver}
				if tc.pyCache > 0 {
					args = append(args, fmt.Sprint(tc.pyCache))
				}
				runPylance(t, args...)
				want := arrowtest.ConcatColumns(t, tc.sch, tc.recs)
				r := checkGoReadVersion(t, p, tc.sch, want, minorOf(ver))
				checkMinPages(t, r, tc.minPages)
			})
		}
	}
}

func minorOf(ver string) uint32 { return uint32(ver[2] - '0') }

// col21 describes one column of a 2.1+ test table: gen returns the value of
// row i (nil = null).
type col21 struct {
	name string
	dt   arrow.DataType
	md   map[string]string
	gen  func(i int) any
}

// case21 is a table for pylance to write as 2.1/2.2, and the page layouts
// and encodings (substrings of pageLayout.describe, optionally prefixed by
// "2.2:" to apply to one version only) each column must use, so the test
// proves it covers what it claims.
type case21 struct {
	name     string
	rows     int
	cols     []col21
	enc      map[string][]string
	cache    int64 // data_cache_bytes for pylance: small = many pages
	minPages int
}

func nullEvery(k int, f func(i int) any) func(int) any {
	return func(i int) any {
		if i%k == k-1 {
			return nil
		}
		return f(i)
	}
}

func allNull(int) any { return nil }

var words = []string{"", "a", "héllo", "日本語テキスト", "tab\tnew\nline", "\x00nul", "zzz"}

func cases21() []case21 {
	ts := &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	cmp := func(c string) map[string]string { return map[string]string{"lance-encoding:compression": c} }
	url := func(i int) any { return fmt.Sprintf("https://example.com/påge/%d?q=%d", i, i*7919%100003) }
	long := func(i int) any { return strings.Repeat(fmt.Sprintf("long-%d-ü-", i), 30+i%7) }
	return []case21{
		{name: "bitpacked-ints", rows: 5000, cols: []col21{
			{"i8", arrow.PrimitiveTypes.Int8, nil, nullEvery(7, func(i int) any { return int8(i % 100) })},
			{"i16", arrow.PrimitiveTypes.Int16, nil, func(i int) any { return int16(i % 1000) }},
			{"i32", arrow.PrimitiveTypes.Int32, nil, nullEvery(3, func(i int) any { return int32(i * 13 % 4000) })},
			{"i64", arrow.PrimitiveTypes.Int64, nil, func(i int) any { return int64(i * 7 % 60000) }},
			{"u8", arrow.PrimitiveTypes.Uint8, nil, func(i int) any { return uint8(i * 31 % 16) }},
			{"u16", arrow.PrimitiveTypes.Uint16, nil, nullEvery(5, func(i int) any { return uint16(i * 3 % 3000) })},
			{"u32", arrow.PrimitiveTypes.Uint32, nil, func(i int) any { return uint32(i * 11 % 70000) }},
			{"u64", arrow.PrimitiveTypes.Uint64, nil, nullEvery(2, func(i int) any { return uint64(i * 17 % 9000) })},
			{"d32", arrow.FixedWidthTypes.Date32, nil, func(i int) any { return arrow.Date32(18000 + i*13%2000) }},
		}, enc: map[string][]string{
			"i16": {"InlineBitpacking"}, "i64": {"InlineBitpacking"}, "u8": {"InlineBitpacking"},
			"u32": {"InlineBitpacking"}, "d32": {"InlineBitpacking"}, "i32": {"InlineBitpacking", "def="},
		}},
		{name: "flat-wide", rows: 3000, cols: []col21{
			{"i64", arrow.PrimitiveTypes.Int64, nil, nullEvery(4, func(i int) any { return int64(i)*0x1234567890123 - 1<<62 })},
			{"u64", arrow.PrimitiveTypes.Uint64, nil, func(i int) any { return uint64(i) * 0x9E3779B97F4A7C15 }},
			{"f64", arrow.PrimitiveTypes.Float64, nil, nullEvery(6, func(i int) any { return math.Sin(float64(i)) * 1e9 })},
			{"f32", arrow.PrimitiveTypes.Float32, nil, func(i int) any { return float32(math.Cos(float64(i))) }},
			{"ts", ts, nil, nullEvery(9, func(i int) any { return arrow.Timestamp(int64(i) * 1_000_003_007) })},
			{"b", arrow.FixedWidthTypes.Boolean, nil, nullEvery(3, func(i int) any { return i%5 < 2 })},
			{"bnn", arrow.FixedWidthTypes.Boolean, nil, func(i int) any { return i%3 == 0 }},
		}, enc: map[string][]string{"f64": {"MiniBlockLayout[Flat]"}, "b": {"MiniBlockLayout[Flat]"}}},
		{name: "rle-and-dict-values", rows: 20000, cols: []col21{
			{"runs", arrow.PrimitiveTypes.Int32, nil, func(i int) any { return int32(i / 300) }},
			{"runs64", arrow.PrimitiveTypes.Int64, nil, nullEvery(1000, func(i int) any { return int64(i/500) << 40 })},
			{"dict64", arrow.PrimitiveTypes.Int64, nil, func(i int) any { return int64(i%1000) * 1e12 }},
		}, enc: map[string][]string{"runs": {"2.2:MiniBlockLayout[Rle"}, "dict64": {"2.2:dict="}}},
		{name: "strings", rows: 4000, cols: []col21{
			{"s", arrow.BinaryTypes.String, nil, nullEvery(5, func(i int) any { return words[i%len(words)] + fmt.Sprint(i) })},
			{"ls", arrow.BinaryTypes.LargeString, nil, func(i int) any { return fmt.Sprintf("%x", i) }},
			{"bin", arrow.BinaryTypes.Binary, nil, nullEvery(3, func(i int) any { return []byte{byte(i), 0, byte(i >> 8)} })},
			{"lbin", arrow.BinaryTypes.LargeBinary, nil, func(i int) any { return []byte(strings.Repeat("\xff", i%4)) }},
			{"lowcard", arrow.BinaryTypes.String, nil, nullEvery(11, func(i int) any { return words[i%len(words)] })},
			{"empty", arrow.BinaryTypes.String, nil, func(i int) any { return "" }},
		}, enc: map[string][]string{
			"s": {"MiniBlockLayout[Fsst"}, "ls": {"MiniBlockLayout[Variable"}, "bin": {"MiniBlockLayout[Variable"},
			"lowcard": {"dict="}, "empty": {"2.2:ConstantLayout[scalar]"},
		}},
		{name: "fsst-and-full-zip", rows: 6000, cols: []col21{
			{"url", arrow.BinaryTypes.String, nil, nullEvery(13, url)},
			{"long", arrow.BinaryTypes.String, nil, nullEvery(4, long)},
			{"longbin", arrow.BinaryTypes.LargeBinary, nil, func(i int) any { return []byte(long(i).(string)) }},
		}, enc: map[string][]string{
			"url": {"MiniBlockLayout[Fsst"}, "long": {"FullZipLayout[Fsst"}, "longbin": {"FullZipLayout[Variable"},
		}},
		{name: "constant-and-all-null", rows: 3000, cols: []col21{
			{"c", arrow.PrimitiveTypes.Int64, nil, func(int) any { return int64(-7) }},
			{"cnull", arrow.PrimitiveTypes.Int32, nil, nullEvery(3, func(int) any { return int32(42) })},
			{"cs", arrow.BinaryTypes.String, nil, func(int) any { return "sämé" }},
			{"csnull", arrow.BinaryTypes.String, nil, nullEvery(4, func(int) any { return "x" })},
			{"nulli", arrow.PrimitiveTypes.Int64, nil, allNull},
			{"nulls", arrow.BinaryTypes.String, nil, allNull},
			{"nullb", arrow.FixedWidthTypes.Boolean, nil, allNull},
		}, enc: map[string][]string{
			"c": {"2.2:ConstantLayout[inline]"}, "cnull": {"2.2:ConstantLayout[inline]"},
			"cs": {"2.2:ConstantLayout[scalar]"}, "nulli": {"ConstantLayout[null]"}, "nulls": {"ConstantLayout[null]"},
		}},
		{name: "general-compression", rows: 8000, cols: []col21{
			{"zi", arrow.PrimitiveTypes.Int64, cmp("zstd"), nullEvery(5, func(i int) any { return int64(i) * 1234567 })},
			{"li", arrow.PrimitiveTypes.Int32, cmp("lz4"), func(i int) any { return int32(i * 7) }},
			{"zf", arrow.PrimitiveTypes.Float64, cmp("zstd"), func(i int) any { return float64(i) / 3 }},
			{"zs", arrow.BinaryTypes.String, cmp("zstd"), nullEvery(7, url)},
			{"ls", arrow.BinaryTypes.String, cmp("lz4"), url},
			{"zlong", arrow.BinaryTypes.String, cmp("zstd"), long},
		}, enc: map[string][]string{
			"zi": {"General/zstd"}, "li": {"General/lz4"}, "zf": {"ByteStreamSplit"},
			"zs": {"General/zstd"}, "ls": {"General/lz4"}, "zlong": {"FullZipLayout[General/zstd"},
		}},
		{name: "multi-page-150k", rows: 150000, cache: 256 << 10, minPages: 2, cols: []col21{
			{"i", arrow.PrimitiveTypes.Int64, nil, func(i int) any {
				if i < 30000 {
					return nil
				}
				if i%9 == 0 {
					return nil
				}
				return int64(i % 5000)
			}},
			{"f", arrow.PrimitiveTypes.Float32, nil, func(i int) any { return float32(i) * 0.5 }},
			{"b", arrow.FixedWidthTypes.Boolean, nil, nullEvery(10, func(i int) any { return i%7 == 1 })},
			{"s", arrow.BinaryTypes.String, nil, nullEvery(17, url)},
		}},
	}
}

func (c case21) record() arrow.Record {
	fields := make([]arrow.Field, len(c.cols))
	for i, col := range c.cols {
		var md arrow.Metadata
		for k, v := range col.md {
			md = arrow.NewMetadata([]string{k}, []string{v})
		}
		fields[i] = arrow.Field{Name: col.name, Type: col.dt, Nullable: true, Metadata: md}
	}
	sch := arrow.NewSchema(fields, nil)
	rb := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer rb.Release()
	for i := 0; i < c.rows; i++ {
		for k, col := range c.cols {
			appendAny(rb.Field(k), col.gen(i))
		}
	}
	return rb.NewRecord()
}

func appendAny(b array.Builder, v any) {
	if v == nil {
		b.AppendNull()
		return
	}
	switch b := b.(type) {
	case *array.Int8Builder:
		b.Append(v.(int8))
	case *array.Int16Builder:
		b.Append(v.(int16))
	case *array.Int32Builder:
		b.Append(v.(int32))
	case *array.Int64Builder:
		b.Append(v.(int64))
	case *array.Uint8Builder:
		b.Append(v.(uint8))
	case *array.Uint16Builder:
		b.Append(v.(uint16))
	case *array.Uint32Builder:
		b.Append(v.(uint32))
	case *array.Uint64Builder:
		b.Append(v.(uint64))
	case *array.Float32Builder:
		b.Append(v.(float32))
	case *array.Float64Builder:
		b.Append(v.(float64))
	case *array.BooleanBuilder:
		b.Append(v.(bool))
	case *array.Date32Builder:
		b.Append(v.(arrow.Date32))
	case *array.TimestampBuilder:
		b.Append(v.(arrow.Timestamp))
	case *array.StringBuilder:
		b.Append(v.(string))
	case *array.LargeStringBuilder:
		b.Append(v.(string))
	case *array.FixedSizeBinaryBuilder:
		b.Append(v.([]byte))
	case *array.Decimal128Builder:
		b.Append(v.(decimal128.Num))
	case *array.Decimal256Builder:
		b.Append(v.(decimal256.Num))
	case *array.NullBuilder:
		panic("appendAny: a null column takes only nil")
	case *array.BinaryBuilder:
		switch x := v.(type) {
		case string:
			b.AppendString(x)
		default:
			b.Append(x.([]byte))
		}
	default:
		panic(fmt.Sprintf("appendAny: %T", b))
	}
}

// pageDescriptions lists describe() of every page of each column.
func (r *Reader) pageDescriptions(col int) []string {
	var out []string
	for _, p := range r.cols[col].pages {
		if p.layout == nil {
			out = append(out, "2.0:"+p.encoding.name)
			continue
		}
		d := p.layout.describe()
		if p.layout.kind == layoutConstant && !p.layout.hasInline && (len(p.bufOffsets) == 1 || len(p.bufOffsets) == 3) {
			d = "ConstantLayout[scalar]"
		}
		out = append(out, d)
	}
	return out
}

// TestReadPylance21Encodings: for each version, pylance writes tables built
// to trigger each page layout and encoding; we read them (full and random
// ranges) exactly as pylance does, and check the encodings appeared.
func TestReadPylance21Encodings(t *testing.T) {
	for _, ver := range versions21 {
		for _, tc := range cases21() {
			t.Run(ver+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				rec := tc.record()
				defer rec.Release()
				dir := t.TempDir()
				arrowtest.WriteIPCFile(t, filepath.Join(dir, "in.arrow"), rec.Schema(), []arrow.Record{rec})
				p := filepath.Join(dir, "py.lance")
				args := []string{"writever", filepath.Join(dir, "in.arrow"), p, ver}
				if tc.cache > 0 {
					args = append(args, fmt.Sprint(tc.cache))
				}
				runPylance(t, args...)
				// pylance's own reading of the file is the oracle; it must
				// also equal what we gave it.
				runPylance(t, "read", p, filepath.Join(dir, "out.arrow"))
				_, pyCols := arrowtest.ReadIPCColumns(t, filepath.Join(dir, "out.arrow"))
				assertColumnsEqual(t, "pylance read", rec.Columns(), pyCols)
				r := checkGoReadVersion(t, p, rec.Schema(), pyCols, minorOf(ver))
				checkMinPages(t, r, tc.minPages)
				for ci, col := range tc.cols {
					descs := r.pageDescriptions(ci)
					for _, want := range tc.enc[col.name] {
						if v, w, ok := strings.Cut(want, ":"); ok && len(v) == 3 && v[0] == '2' {
							if v != ver {
								continue
							}
							want = w
						}
						found := false
						for _, d := range descs {
							found = found || strings.Contains(d, want)
						}
						if !found {
							t.Errorf("column %s: no page uses %q (pages: %v); the test data no longer covers it", col.name, want, descs)
						}
					}
				}
			})
		}
	}
}
