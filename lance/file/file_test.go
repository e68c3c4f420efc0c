package file

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/internal/arrowtest"
)

func otherTypes() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "i8", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
		{Name: "i16", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "u8", Type: arrow.PrimitiveTypes.Uint8, Nullable: true},
		{Name: "u16", Type: arrow.PrimitiveTypes.Uint16, Nullable: true},
		{Name: "u32", Type: arrow.PrimitiveTypes.Uint32, Nullable: true},
		{Name: "u64", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "d32", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "ls", Type: arrow.BinaryTypes.LargeString, Nullable: true},
		{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "nn", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
}

func compressedSchema() *arrow.Schema {
	md := func(c string) arrow.Metadata {
		return arrow.NewMetadata([]string{"lance-encoding:compression"}, []string{c})
	}
	return arrow.NewSchema([]arrow.Field{
		{Name: "z", Type: arrow.BinaryTypes.String, Nullable: true, Metadata: md("zstd")},
		{Name: "l", Type: arrow.BinaryTypes.String, Nullable: true, Metadata: md("lz4")},
		{Name: "zb", Type: arrow.BinaryTypes.Binary, Nullable: true, Metadata: md("zstd")},
		{Name: "zd", Type: arrow.BinaryTypes.String, Nullable: true, Metadata: md("zstd")},
	}, nil)
}

func testCases() []testCase {
	four := fourTypes()
	some := []func(int) bool{nullIf(3), nullIf(5), nullIf(7), nullIf(4)}
	all := []func(int) bool{nullIf(1), nullIf(1), nullIf(1), nullIf(1)}
	mixed := func(i int) bool { return i < 20000 || i%11 == 0 } // all-null first pages, then some nulls
	nulls13 := make([]func(int) bool, 13)
	for i := 0; i < 12; i++ {
		nulls13[i] = nullIf(i + 2)
	}
	return []testCase{
		{name: "small", sch: four, recs: genRecords(four, []int{3}, some, nil, 1),
			enc: []string{"Nullable/some_nulls", "Binary"}},
		{name: "batches-with-nulls", sch: four, recs: genRecords(four, []int{10, 0, 1, 257, 33}, some, nil, 2),
			enc: []string{"Nullable/some_nulls", "Binary"}},
		{name: "no-nulls", sch: four, recs: genRecords(four, []int{500}, nil, nil, 3),
			enc: []string{"Nullable/no_nulls", "Binary"}},
		{name: "all-null", sch: four, recs: genRecords(four, []int{40, 2}, all, nil, 4),
			enc: []string{"Nullable/all_nulls", "Binary"}},
		{name: "all-null-dict", sch: four, recs: genRecords(four, []int{300}, all, nil, 4),
			enc: []string{"Nullable/all_nulls", "Dictionary"}},
		{name: "low-cardinality-strings", sch: four, recs: genRecords(four, []int{1000, 24}, some, []int{0, 0, 0, 5}, 5),
			enc: []string{"Dictionary"}},
		{name: "zero-rows", sch: four, recs: genRecords(four, []int{0}, nil, nil, 6)},
		{name: "no-batches", sch: four},
		{name: "multi-page-100k", sch: four, recs: genRecords(four, batchSizes(100, 1000), []func(int) bool{mixed, nullIf(9), nil, mixed}, nil, 7),
			opts: WriteOptions{MaxPageBytes: 64 << 10, MaxPageRows: 20000}, pyCache: 64 << 10, minPages: 2,
			enc: []string{"Nullable/no_nulls", "Nullable/some_nulls", "Nullable/all_nulls", "Binary"}},
		{name: "sliced-batches", sch: four, recs: slicedRecords(genRecords(four, []int{200}, some, nil, 12)[0], 3, 7, 64, 65, 130, 199, 200)},
		{name: "compressed-strings", sch: compressedSchema(),
			recs: genRecords(compressedSchema(), []int{3000, 500}, []func(int) bool{nullIf(5), nullIf(6), nil, nullIf(4)}, []int{0, 0, 0, 7}, 9),
			enc:  []string{"Binary/zstd", "Binary/lz4", "Dictionary"}},
		{name: "other-types", sch: otherTypes(), recs: genRecords(otherTypes(), []int{100, 7}, nulls13, nil, 8)},
	}
}

// slicedRecords cuts rec at the given row bounds, so batches start at
// non-zero (and non-byte-aligned) array offsets.
func slicedRecords(rec arrow.Record, bounds ...int64) []arrow.Record {
	defer rec.Release()
	var out []arrow.Record
	prev := int64(0)
	for _, b := range bounds {
		out = append(out, rec.NewSlice(prev, b))
		prev = b
	}
	return out
}

func batchSizes(n, size int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = size
	}
	return s
}

func releaseAll(recs []arrow.Record) {
	for _, r := range recs {
		r.Release()
	}
}

// TestWriteReadByPylance: files we write are read back exactly by pylance.
func TestWriteReadByPylance(t *testing.T) {
	for _, tc := range testCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			defer releaseAll(tc.recs)
			dir := t.TempDir()
			path := filepath.Join(dir, "go.lance")
			res, err := WriteFileWithOptions(path, mustFields(t, tc.sch), tc.recs, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			st, _ := os.Stat(path)
			if res.FileSize != st.Size() || res.MajorVersion != 2 || res.MinorVersion != 0 || len(res.ColumnIndices) != tc.sch.NumFields() {
				t.Fatalf("bad result %+v (size on disk %d)", res, st.Size())
			}
			runPylance(t, "read", path, filepath.Join(dir, "out.arrow"))
			gotSch, got := arrowtest.ReadIPCColumns(t, filepath.Join(dir, "out.arrow"))
			want := arrowtest.ConcatColumns(t, tc.sch, tc.recs)
			if res.NumRows != int64(want[0].Len()) {
				t.Fatalf("NumRows %d want %d", res.NumRows, want[0].Len())
			}
			for i, f := range gotSch.Fields() {
				if f.Name != tc.sch.Field(i).Name || !arrow.TypeEqual(f.Type, tc.sch.Field(i).Type) || f.Nullable != tc.sch.Field(i).Nullable {
					t.Fatalf("pylance sees field %v, want %v", f, tc.sch.Field(i))
				}
			}
			assertColumnsEqual(t, "pylance read", want, got)
			// and we read our own file
			r := checkGoRead(t, path, tc.sch, want)
			checkMinPages(t, r, tc.minPages)
		})
	}
}

// TestReadPylanceFiles: files pylance writes (version 2.0) are read exactly,
// and each case triggers the encodings it is meant to cover.
func TestReadPylanceFiles(t *testing.T) {
	for _, tc := range testCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			defer releaseAll(tc.recs)
			dir := t.TempDir()
			arrowtest.WriteIPCFile(t, filepath.Join(dir, "in.arrow"), tc.sch, tc.recs)
			args := []string{"write", filepath.Join(dir, "in.arrow"), filepath.Join(dir, "py.lance")}
			if tc.pyCache > 0 {
				args = append(args, fmt.Sprint(tc.pyCache))
			}
			runPylance(t, args...)
			want := arrowtest.ConcatColumns(t, tc.sch, tc.recs)
			r := checkGoRead(t, filepath.Join(dir, "py.lance"), tc.sch, want)
			checkMinPages(t, r, tc.minPages)
			seen := r.encodingsUsed()
			for _, e := range tc.enc {
				if !seen[e] {
					t.Errorf("pylance did not emit %s (saw %v); test data no longer covers it", e, seen)
				}
			}
		})
	}
}

func checkMinPages(t *testing.T, r *Reader, n int) {
	t.Helper()
	for i, c := range r.cols {
		if len(c.pages) < n {
			t.Errorf("column %d has %d pages, want >= %d", i, len(c.pages), n)
		}
	}
}

// encodingsUsed summarises the page encodings in the file, e.g.
// "Nullable/some_nulls", "Binary", "Dictionary".
func (r *Reader) encodingsUsed() map[string]bool {
	m := map[string]bool{}
	for _, c := range r.cols {
		for _, p := range c.pages {
			e := p.encoding
			name := e.name
			if e.kind == encBinary && e.bytes.compression != "" {
				name += "/" + e.bytes.compression
			}
			if e.kind == encDictionary && e.items.kind == encBinary && e.items.bytes.compression != "" {
				name += "/" + e.items.bytes.compression
			}
			if e.kind == encNullable {
				name += "/" + map[nullKind]string{noNulls: "no_nulls", someNulls: "some_nulls", allNulls: "all_nulls"}[e.nulls]
			}
			m[name] = true
		}
	}
	return m
}

// checkGoRead opens path and compares full and partial reads with want.
func checkGoRead(t *testing.T, path string, sch *arrow.Schema, want []arrow.Array) *Reader {
	t.Helper()
	return checkGoReadVersion(t, path, sch, want, 0)
}

// checkGoReadVersion is checkGoRead for a file of version 2.minor.
func checkGoReadVersion(t *testing.T, path string, sch *arrow.Schema, want []arrow.Array, minor uint32) *Reader {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	n := int64(want[0].Len())
	if r.NumRows() != n {
		t.Fatalf("NumRows %d want %d", r.NumRows(), n)
	}
	if ma, mi := r.Version(); ma != 2 || mi != minor {
		t.Fatalf("version %d.%d", ma, mi)
	}
	fields, err := r.Schema()
	if err != nil {
		t.Fatal(err)
	}
	if exp := mustFields(t, sch); fmt.Sprint(fields) != fmt.Sprint(exp) {
		t.Fatalf("schema %+v want %+v", fields, exp)
	}
	cols := make([]int, sch.NumFields())
	for i := range cols {
		cols[i] = i
	}
	ranges := [][2]int64{{0, n}, {0, 0}, {n, 0}, {0, 1}, {n / 2, n}, {max(n-1, 0), 5}}
	rng := rand.New(rand.NewSource(n))
	for i := 0; i < 8 && n > 0; i++ {
		off := rng.Int63n(n)
		ranges = append(ranges, [2]int64{off, rng.Int63n(n-off) + 1})
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	track := newTrackingAllocator(mem)
	for _, rg := range ranges {
		rec, err := r.Read(sch, cols, rg[0], rg[1], track)
		if err != nil {
			t.Fatalf("Read(%d, %d): %v", rg[0], rg[1], err)
		}
		end := min(rg[0]+rg[1], n)
		if rec.NumRows() != end-rg[0] {
			t.Fatalf("Read(%d, %d) returned %d rows", rg[0], rg[1], rec.NumRows())
		}
		for i := range want {
			exp := array.NewSlice(want[i], rg[0], end)
			if !array.Equal(exp, rec.Column(i)) {
				t.Fatalf("Read(%d, %d) column %d:\n got %v\nwant %v", rg[0], rg[1], i, trunc(rec.Column(i)), trunc(exp))
			}
			exp.Release()
			if err := track.owns(rec.Column(i).Data()); err != nil {
				t.Fatal(err)
			}
		}
		rec.Release()
	}
	mem.AssertSize(t, 0)
	return r
}

// TestByteIdenticalToPylance: for simple data our writer produces exactly
// the bytes pylance's 2.0 writer does.
func TestByteIdenticalToPylance(t *testing.T) {
	sch := fourTypes()
	recs := genRecords(sch, []int{3, 5}, []func(int) bool{nullIf(3), nil, nullIf(2), nullIf(4)}, nil, 11)
	defer releaseAll(recs)
	dir := t.TempDir()
	if _, err := WriteFile(filepath.Join(dir, "go.lance"), mustFields(t, sch), recs); err != nil {
		t.Fatal(err)
	}
	// One batch on the python side: pylance would flush pages per batch
	// size heuristics, we buffer up to the page size; both give one page.
	arrowtest.WriteIPCFile(t, filepath.Join(dir, "in.arrow"), sch, recs)
	runPylance(t, "write", filepath.Join(dir, "in.arrow"), filepath.Join(dir, "py.lance"))
	a, _ := os.ReadFile(filepath.Join(dir, "go.lance"))
	b, _ := os.ReadFile(filepath.Join(dir, "py.lance"))
	if !bytes.Equal(a, b) {
		t.Fatalf("files differ:\n go %x\n py %x", a, b)
	}
}

func TestWriteDefaultPagesSplit(t *testing.T) {
	// ~12 MiB of strings must give more than one page with the defaults.
	sch := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	b := array.NewStringBuilder(memory.DefaultAllocator)
	long := strings.Repeat("z", 120)
	for i := 0; i < 100000; i++ {
		b.Append(long)
	}
	col := b.NewArray()
	rec := array.NewRecord(sch, []arrow.Array{col}, int64(col.Len()))
	defer rec.Release()
	path := tempPath(t, "big.lance")
	if _, err := WriteFile(path, mustFields(t, sch), []arrow.Record{rec}); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if len(r.cols[0].pages) < 2 {
		t.Fatalf("%d pages", len(r.cols[0].pages))
	}
	checkGoRead(t, path, sch, []arrow.Array{col})
}

func TestWriteErrors(t *testing.T) {
	four := fourTypes()
	recs := genRecords(four, []int{3}, nil, nil, 1)
	defer releaseAll(recs)
	nullRec := genRecords(four, []int{3}, []func(int) bool{nullIf(1), nil, nil, nil}, nil, 1)
	defer releaseAll(nullRec)
	fields := mustFields(t, four)
	nested := arrow.NewSchema([]arrow.Field{{Name: "st", Type: arrow.StructOf(arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int64})}}, nil)
	nonNull := mustFields(t, four)
	nonNull[0].Nullable = false
	renamed := mustFields(t, four)
	renamed[1].Name = "g"
	retyped := mustFields(t, four)
	retyped[0].LogicalType = "int32"
	tests := []struct {
		name   string
		fields []arrow.Record
		f      func() error
	}{
		{name: "nested", f: func() error {
			_, err := WriteFile(tempPath(t, "x.lance"), mustFields(t, nested), nil)
			return err
		}},
		{name: "too-few-fields", f: func() error { _, err := WriteFile(tempPath(t, "x.lance"), fields[:3], recs); return err }},
		{name: "name-mismatch", f: func() error { _, err := WriteFile(tempPath(t, "x.lance"), renamed, recs); return err }},
		{name: "type-mismatch", f: func() error { _, err := WriteFile(tempPath(t, "x.lance"), retyped, recs); return err }},
		{name: "nulls-in-non-nullable", f: func() error { _, err := WriteFile(tempPath(t, "x.lance"), nonNull, nullRec); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.f(); err == nil {
				t.Fatal("want error")
			}
		})
	}
	t.Run("exclusive-create", func(t *testing.T) {
		p := tempPath(t, "x.lance")
		os.WriteFile(p, []byte("keep"), 0o644)
		if _, err := WriteFile(p, fields, recs); err == nil {
			t.Fatal("overwrote an existing file")
		}
		if b, _ := os.ReadFile(p); string(b) != "keep" {
			t.Fatal("existing file was modified")
		}
	})
	t.Run("no-partial-file", func(t *testing.T) {
		p := tempPath(t, "x.lance")
		if _, err := WriteFile(p, renamed, recs); err == nil {
			t.Fatal("want error")
		}
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatal("file left behind")
		}
	})
}

func fixtureSchema() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "dict", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "nulls", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
}

// TestPylanceFixture reads a committed pylance 14 file (see
// testdata/make_fixture.py) without needing python.
func TestPylanceFixture(t *testing.T) {
	r, err := Open(filepath.Join("testdata", "pylance_2_0.lance"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	enc := r.encodingsUsed()
	for _, e := range []string{"Nullable/some_nulls", "Nullable/no_nulls", "Dictionary", "Binary"} {
		if !enc[e] {
			t.Errorf("fixture lacks %s: %v", e, enc)
		}
	}
	const n = 300
	sch := fixtureSchema()
	rb := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer rb.Release()
	for i := 0; i < n; i++ {
		if i%7 == 0 {
			rb.Field(0).AppendNull()
		} else {
			rb.Field(0).(*array.Int64Builder).Append(int64(i*1000 - 5))
		}
		rb.Field(1).(*array.Float64Builder).Append(float64(i) / 4)
		if i%5 == 0 {
			rb.Field(2).AppendNull()
		} else {
			rb.Field(2).(*array.BooleanBuilder).Append(i%2 == 0)
		}
		if d := []string{"ä", "bb", "<null>", ""}[i%4]; d == "<null>" {
			rb.Field(3).AppendNull()
		} else {
			rb.Field(3).(*array.StringBuilder).Append(d)
		}
		rb.Field(4).AppendNull()
		if i%6 == 0 {
			rb.Field(5).AppendNull()
		} else {
			rb.Field(5).(*array.StringBuilder).Append(fmt.Sprintf("v%d", i*7))
		}
	}
	want := rb.NewRecord()
	defer want.Release()
	checkGoRead(t, filepath.Join("testdata", "pylance_2_0.lance"), sch, want.Columns())

	// The caller's schema picks the Arrow width: the same string column
	// read as large_string / binary.
	for _, dt := range []arrow.DataType{arrow.BinaryTypes.LargeString, arrow.BinaryTypes.Binary} {
		s2 := arrow.NewSchema([]arrow.Field{{Name: "dict", Type: dt, Nullable: true}}, nil)
		rec, err := r.Read(s2, []int{3}, 10, 20, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		if rec.NumRows() != 20 || rec.Column(0).NullN() != 5 || fmt.Sprint(rec.Column(0))[:12] != fmt.Sprint(array.NewSlice(want.Column(3), 10, 30))[:12] {
			t.Fatalf("%s read: %v", dt, rec.Column(0))
		}
		rec.Release()
	}
}

func TestConcurrentReads(t *testing.T) {
	sch := fourTypes()
	recs := genRecords(sch, []int{5000}, []func(int) bool{nullIf(3), nil, nullIf(2), nullIf(5)}, nil, 4)
	defer releaseAll(recs)
	path := tempPath(t, "c.lance")
	if _, err := WriteFileWithOptions(path, mustFields(t, sch), recs, WriteOptions{MaxPageRows: 300}); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want := recs[0].Columns()
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func(g int) {
			rng := rand.New(rand.NewSource(int64(g)))
			for i := 0; i < 50; i++ {
				off := rng.Int63n(5000)
				rec, err := r.Read(sch, []int{0, 1, 2, 3}, off, 200, memory.DefaultAllocator)
				if err != nil {
					errs <- err
					return
				}
				for c := range want {
					exp := array.NewSlice(want[c], off, off+rec.NumRows())
					if !array.Equal(exp, rec.Column(c)) {
						errs <- fmt.Errorf("goroutine %d: column %d differs at %d", g, c, off)
						return
					}
					exp.Release()
				}
				rec.Release()
			}
			errs <- nil
		}(g)
	}
	for g := 0; g < 8; g++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
