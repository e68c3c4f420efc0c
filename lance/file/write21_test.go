package file

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/internal/arrowtest"
)

// leafColumns returns, for each top-level field of sch, its first file
// column in a 2.1+ file (leaves in pre-order).
func leafColumns(sch *arrow.Schema) []int {
	cols := make([]int, sch.NumFields())
	next := 0
	for i, f := range sch.Fields() {
		cols[i] = next
		next += leafCount(f.Type)
	}
	return cols
}

// readAllColumns reads every row of the file with our reader.
func readAllColumns(t testing.TB, path string, sch *arrow.Schema, alloc memory.Allocator) []arrow.Array {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cols := make([]int, sch.NumFields())
	if maj, min := r.Version(); maj == 2 && min >= 1 {
		cols = leafColumns(sch)
	} else {
		cols = legacyColumnStarts(sch)
	}
	rec, err := r.Read(sch, cols, 0, r.NumRows(), alloc)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	out := make([]arrow.Array, rec.NumCols())
	for i := range out {
		out[i] = rec.Column(i)
		out[i].Retain()
	}
	return out
}

// checkBothReaders: our reader (allocating from alloc) and pylance's
// LanceFileReader both read want back from the file at path.
func checkBothReaders(t testing.TB, path string, sch *arrow.Schema, want []arrow.Array, alloc memory.Allocator) {
	t.Helper()
	got := readAllColumns(t, path, sch, alloc)
	diffColumns(t, "our reader", sch, want, got)
	releaseAll2(got)
	out := filepath.Join(t.TempDir(), "py.arrow")
	runPylance(t, "read", path, out)
	_, theirs := arrowtest.ReadIPCColumns(t, out)
	diffColumns(t, "pylance", sch, want, theirs)
	releaseAll2(theirs)
}

func diffColumns(t testing.TB, what string, sch *arrow.Schema, want, got []arrow.Array) {
	t.Helper()
	for i := range want {
		if d := arrowtest.DiffArrays(want[i], got[i]); d != "" {
			t.Fatalf("%s: column %q: %s", what, sch.Field(i).Name, d)
		}
	}
}

// unevenRecords draws three records of sch (500, 1 and 700 rows) from
// seed, released when the test ends, and their columns concatenated.
func unevenRecords(t *testing.T, sch *arrow.Schema, seed int64) ([]arrow.Record, []arrow.Array) {
	rng := rand.New(rand.NewSource(seed))
	recs := []arrow.Record{
		arrowtest.GenRecord(rng, sch, 500, arrowtest.DefaultGen),
		arrowtest.GenRecord(rng, sch, 1, arrowtest.DefaultGen),
		arrowtest.GenRecord(rng, sch, 700, arrowtest.DefaultGen),
	}
	t.Cleanup(func() { releaseAll(recs) })
	return recs, arrowtest.ConcatColumns(t, sch, recs)
}

// TestWrite21AllTypes writes every type of issue #3 with nulls at every
// level as file versions 2.1 and 2.2, one page and many pages, plain and
// compressed; our reader and pylance's LanceFileReader both read back
// exactly what was written.
func TestWrite21AllTypes(t *testing.T) {
	sch := arrowtest.AllTypesSchema()
	fields := mustFields(t, sch)
	recs, want := unevenRecords(t, sch, 21)
	for _, tc := range []struct {
		name string
		opts WriteOptions
	}{
		{"one-page", WriteOptions{Version: V2_1}},
		{"one-page", WriteOptions{Version: V2_2}},
		{"many-pages", WriteOptions{Version: V2_2, MaxPageBytes: 16 << 10, MaxPageRows: 300}},
		{"zstd", WriteOptions{Version: V2_2, Compression: "zstd"}},
		{"lz4", WriteOptions{Version: V2_1, Compression: "lz4", MaxPageRows: 500}},
	} {
		{
			v := tc.opts.Version
			t.Run(fmt.Sprintf("%s/%s", v, tc.name), func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				p := filepath.Join(dir, "w.lance")
				opts := tc.opts
				res, err := WriteFileWithOptions(p, fields, recs, opts)
				if err != nil {
					t.Fatal(err)
				}
				if res.MajorVersion != v.Major || res.MinorVersion != v.Minor || len(res.Fields) != len(res.ColumnIndices) {
					t.Fatalf("result %+v", res)
				}
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				checkBothReaders(t, p, sch, want, mem)
				mem.AssertSize(t, 0)
			})
		}
	}
}

// TestWrite21Ranges: range reads of our 2.2 files (many small pages) equal
// slices of what was written.
func TestWrite21Ranges(t *testing.T) {
	sch := arrowtest.AllTypesSchema()
	fields := mustFields(t, sch)
	rng := rand.New(rand.NewSource(5))
	const n = 900
	rec := arrowtest.GenRecord(rng, sch, n, arrowtest.DefaultGen)
	defer rec.Release()
	p := filepath.Join(t.TempDir(), "r.lance")
	if _, err := WriteFileWithOptions(p, fields, []arrow.Record{rec}, WriteOptions{Version: V2_2, MaxPageRows: 110}); err != nil {
		t.Fatal(err)
	}
	r, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	checkMinPages(t, r, 2)
	cols := leafColumns(sch)
	for i := 0; i < 20; i++ {
		off := rng.Int63n(n)
		lim := 1 + rng.Int63n(n-off)
		got, err := r.Read(sch, cols, off, lim, memory.DefaultAllocator)
		if err != nil {
			t.Fatalf("Read(%d, %d): %v", off, lim, err)
		}
		for c := 0; c < int(rec.NumCols()); c++ {
			exp := array.NewSlice(rec.Column(c), off, off+lim)
			if d := arrowtest.DiffArrays(exp, got.Column(c)); d != "" {
				t.Fatalf("Read(%d, %d) column %q: %s", off, lim, sch.Field(c).Name, d)
			}
			exp.Release()
		}
		got.Release()
	}
}

// TestReadPylanceFSLConstantItems: pylance stores a page of vectors whose
// items are all null as full-zip FixedSizeList{Constant{}} (validity bits
// only); we read it exactly.
func TestReadPylanceFSLConstantItems(t *testing.T) {
	sch := arrow.NewSchema([]arrow.Field{
		arrowtest.Nullable("v1", arrowtest.VecType(1)),
		arrowtest.Nullable("v3", arrowtest.VecType(3)),
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	for i := 0; i < 300; i++ {
		for c, dim := range []int{1, 3} {
			fb := b.Field(c).(*array.FixedSizeListBuilder)
			if i%3 == 0 {
				fb.AppendNull()
				continue
			}
			fb.Append(true)
			for k := 0; k < dim; k++ {
				fb.ValueBuilder().AppendNull()
			}
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	checkPylanceWrote(t, rec, "FullZipLayout[FixedSizeList(Constant)]")
}

// TestReadPylanceConstantBool: pylance stores a page whose bools are all
// equal (nulls aside) as a constant page with a one-byte scalar; we read
// it as bits, flat and inside a struct and a list.
func TestReadPylanceConstantBool(t *testing.T) {
	sch := arrow.NewSchema([]arrow.Field{
		arrowtest.Nullable("t", arrow.FixedWidthTypes.Boolean),
		arrowtest.Nullable("f", arrow.FixedWidthTypes.Boolean),
		arrowtest.Nullable("st", arrow.StructOf(arrowtest.Nullable("b", arrow.FixedWidthTypes.Boolean))),
		arrowtest.Nullable("l", arrow.ListOf(arrow.FixedWidthTypes.Boolean)),
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	for i := 0; i < 200; i++ {
		null := i%3 == 0
		for c, v := range []bool{true, false} {
			if null {
				b.Field(c).AppendNull()
			} else {
				b.Field(c).(*array.BooleanBuilder).Append(v)
			}
		}
		sb := b.Field(2).(*array.StructBuilder)
		sb.Append(true)
		if null {
			sb.FieldBuilder(0).AppendNull()
		} else {
			sb.FieldBuilder(0).(*array.BooleanBuilder).Append(true)
		}
		lb := b.Field(3).(*array.ListBuilder)
		lb.Append(true)
		for k := 0; k < i%3; k++ {
			lb.ValueBuilder().(*array.BooleanBuilder).Append(true)
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	checkPylanceWrote(t, rec, "ConstantLayout[inline]")
}

// checkPylanceWrote has pylance write rec as a 2.2 file, checks that the
// first column's only page has the layout pylance is expected to choose, and
// that we read every column back equal.
func checkPylanceWrote(t *testing.T, rec arrow.Record, layout string) {
	t.Helper()
	sch := rec.Schema()
	dir := t.TempDir()
	in, p := filepath.Join(dir, "in.arrow"), filepath.Join(dir, "p.lance")
	arrowtest.WriteIPCFile(t, in, sch, []arrow.Record{rec})
	runPylance(t, "writever", in, p, "2.2")
	r, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if d := r.pageDescriptions(0); len(d) != 1 || d[0] != layout {
		t.Fatalf("pylance wrote %v, want %s", d, layout)
	}
	got, err := r.Read(sch, leafColumns(sch), 0, rec.NumRows(), memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	for c := range sch.Fields() {
		if d := arrowtest.DiffArrays(rec.Column(c), got.Column(c)); d != "" {
			t.Fatalf("column %d: %s", c, d)
		}
	}
}

// TestCompressionFieldMetadata: a field's "lance-encoding:compression"
// overrides WriteOptions.Compression for its column, as in pylance ("none"
// turns it off).
func TestCompressionFieldMetadata(t *testing.T) {
	md := func(c string) arrow.Metadata { return arrow.NewMetadata([]string{CompressionMetadataKey}, []string{c}) }
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "plain", Type: arrow.PrimitiveTypes.Int64, Nullable: true, Metadata: md("none")},
		{Name: "lz4", Type: arrow.PrimitiveTypes.Int64, Nullable: true, Metadata: md("lz4")},
		{Name: "dflt", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	for i := 0; i < 20000; i++ {
		for c := 0; c < 3; c++ {
			b.Field(c).(*array.Int64Builder).Append(int64(i % 7))
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	p := filepath.Join(t.TempDir(), "m.lance")
	if _, err := WriteFileWithOptions(p, mustFields(t, sch), []arrow.Record{rec}, WriteOptions{Version: V2_2, Compression: "zstd"}); err != nil {
		t.Fatal(err)
	}
	r, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for c, want := range []string{"MiniBlockLayout[InlineBitpacking]", "MiniBlockLayout[General/lz4(ByteStreamSplit(Flat))]", "MiniBlockLayout[General/zstd(ByteStreamSplit(Flat))]"} {
		if d := r.pageDescriptions(c); len(d) != 1 || d[0] != want {
			t.Errorf("column %d: %v, want %s", c, d, want)
		}
	}
	got := readAllColumns(t, p, sch, memory.DefaultAllocator)
	diffColumns(t, "our reader", sch, []arrow.Array{rec.Column(0), rec.Column(1), rec.Column(2)}, got)
	if _, err := WriteFileWithOptions(filepath.Join(t.TempDir(), "x.lance"), mustFields(t, sch), []arrow.Record{rec}, WriteOptions{Version: V2_2, Compression: "snappy"}); err == nil || !strings.Contains(err.Error(), "no snappy") {
		t.Fatalf("snappy: %v", err)
	}
}

// TestParallelEncodingDeterministic: pages encoded on worker goroutines
// (appendColumns, closeColumns) give the file that one goroutine encoding
// them in turn gives, byte for byte, for every table of cases21, both
// versions, one record or many and small pages (pages filling while
// columns are appended in parallel).
func TestParallelEncodingDeterministic(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, recs []arrow.Record, opts WriteOptions, procs int) []byte {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		p := filepath.Join(dir, fmt.Sprint(name, opts.Version, opts.MaxPageBytes, len(recs), procs, ".lance"))
		if _, err := WriteFileWithOptions(p, mustFields(t, recs[0].Schema()), recs, opts); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range cases21() {
		rec := tc.record()
		half := int64(rec.NumRows() / 2)
		split := []arrow.Record{rec.NewSlice(0, half), rec.NewSlice(half, rec.NumRows())}
		for _, v := range []Version{V2_1, V2_2} {
			for _, pageBytes := range []int64{tc.cache, 16 << 10} {
				opts := WriteOptions{Version: v, MaxPageBytes: pageBytes}
				for _, recs := range [][]arrow.Record{{rec}, split} {
					if !bytes.Equal(write(tc.name, recs, opts, 1), write(tc.name, recs, opts, 4)) {
						t.Errorf("%s %s, %d records of pages up to %d bytes: the file differs with parallel encoding", tc.name, v, len(recs), pageBytes)
					}
				}
			}
		}
		releaseAll(split)
		rec.Release()
	}
}
