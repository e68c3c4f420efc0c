package lance

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

func TestWriteOpenRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)

	var start int64
	for v, n := range []int64{10, 1, 25} {
		r1 := makeRecord(alloc, start, n/2)
		r2 := makeRecord(alloc, start+n/2, n-n/2)
		ds, err := Write(path, []arrow.Record{r1, r2}, WriteOptions{
			Properties: map[string]string{"wal.watermark": fmt.Sprint(v)},
			Config:     map[string]string{fmt.Sprintf("k%d", v): "x"},
		})
		r1.Release()
		r2.Release()
		if err != nil {
			t.Fatal(err)
		}
		start += n
		if ds.Version() != uint64(v+1) || ds.CountRows() != start || ds.NumFragments() != v+1 {
			t.Fatalf("after write %d: version %d rows %d fragments %d", v, ds.Version(), ds.CountRows(), ds.NumFragments())
		}
	}
	ds, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Version() != 3 || ds.CountRows() != 36 || !ds.Schema().Equal(testSchema) {
		t.Fatalf("version %d rows %d schema %v", ds.Version(), ds.CountRows(), ds.Schema())
	}
	if ds.NamingScheme() != NamingV2 || ds.DataStorageVersion() != DefaultDataStorageVersion {
		t.Fatalf("scheme %v storage %q", ds.NamingScheme(), ds.DataStorageVersion())
	}
	if c := ds.Config(); len(c) != 3 || c["k0"] != "x" || c["k2"] != "x" {
		t.Fatalf("config %v", c)
	}
	if p, err := ds.TransactionProperties(); err != nil || p["wal.watermark"] != "2" {
		t.Fatalf("properties %v, %v", p, err)
	}
	recs, err := ds.Read(0, -1, alloc)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, recs, 0, 36)
	releaseAll(recs)

	vs, err := ds.Versions()
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 3 {
		t.Fatalf("versions %v", vs)
	}
	for i, v := range vs {
		if v.Version != uint64(i+1) || v.Timestamp.IsZero() || (i > 0 && v.Timestamp.Before(vs[i-1].Timestamp)) {
			t.Fatalf("versions %v", vs)
		}
	}
	old, err := OpenVersion(path, 2)
	if err != nil {
		t.Fatal(err)
	}
	if old.CountRows() != 11 {
		t.Fatalf("version 2 rows %d", old.CountRows())
	}
	recs, err = old.Read(0, -1, alloc)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, recs, 0, 11)
	releaseAll(recs)
	if _, err := OpenVersion(path, 4); !errors.Is(err, ErrVersionNotFound) {
		t.Fatalf("OpenVersion(4): %v", err)
	}
}

func TestReadRanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	sizes := []int64{5, 1, 10, 3, 7}
	ds := writeFragments(t, path, sizes)
	const total = 26
	tests := []struct {
		offset, limit int64
		wantRows      int64
		wantRecs      int
	}{
		{0, -1, total, 5},
		{0, 0, 0, 0},
		{0, 5, 5, 1},    // exactly the first fragment
		{0, 6, 6, 2},    // crosses into fragment 1
		{4, 2, 2, 2},    // last row of 0, only row of 1
		{5, 1, 1, 1},    // only fragment 1
		{6, 10, 10, 1},  // exactly fragment 2
		{3, 20, 20, 5},  // spans all
		{15, -1, 11, 3}, // from inside fragment 2 to the end
		{16, 3, 3, 1},   // exactly fragment 3
		{25, 1, 1, 1},   // last row
		{25, 100, 1, 1}, // limit past the end
		{26, -1, 0, 0},  // offset at the end
		{1000, 5, 0, 0}, // offset past the end
		{10, 1 << 62, 16, 3},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d+%d", tt.offset, tt.limit), func(t *testing.T) {
			alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer alloc.AssertSize(t, 0)
			recs, err := ds.Read(tt.offset, tt.limit, alloc)
			if err != nil {
				t.Fatal(err)
			}
			defer releaseAll(recs)
			if len(recs) != tt.wantRecs {
				t.Fatalf("%d records, want %d (one per touched fragment)", len(recs), tt.wantRecs)
			}
			if tt.wantRows > 0 {
				checkRows(t, recs, tt.offset, tt.wantRows)
			}
		})
	}
	if _, err := ds.Read(-1, 1, nil); err == nil {
		t.Fatal("negative offset: no error")
	}
}

// TestReadTouchesOnlyOverlappingFragments removes the data files of the
// fragments outside the range: the read must still succeed.
func TestReadTouchesOnlyOverlappingFragments(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	ds := writeFragments(t, path, []int64{4, 4, 4, 4})
	for i, f := range ds.manifest.Fragments {
		if i == 1 || i == 2 {
			continue
		}
		if err := os.Remove(filepath.Join(path, dataDir, f.Files[0].Path)); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := ds.Read(5, 6, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, recs, 5, 6)
	releaseAll(recs)
	if _, err := ds.Read(0, 1, memory.DefaultAllocator); err == nil {
		t.Fatal("reading a removed file: no error")
	}
}

func TestWriteSchemaMismatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	writeFragments(t, path, []int64{3})
	build := func(fields ...arrow.Field) arrow.Record {
		sch := arrow.NewSchema(fields, nil)
		b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
		defer b.Release()
		return b.NewRecord()
	}
	f := testSchema.Fields()
	tests := []struct {
		name   string
		rec    arrow.Record
		naming string
	}{
		{"renamed", build(f[0], f[1], f[2], arrow.Field{Name: "label", Type: arrow.BinaryTypes.String, Nullable: true}), `"label"`},
		{"retyped", build(f[0], arrow.Field{Name: "score", Type: arrow.PrimitiveTypes.Float32, Nullable: true}, f[2], f[3]), `"score"`},
		{"missing", build(f[0], f[1], f[2]), `"name"`},
		{"extra", build(f[0], f[1], f[2], f[3], arrow.Field{Name: "more", Type: arrow.PrimitiveTypes.Int64}), `"more"`},
		{"reordered", build(f[1], f[0], f[2], f[3]), `"score"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer tt.rec.Release()
			_, err := Write(path, []arrow.Record{tt.rec}, WriteOptions{})
			if !errors.Is(err, ErrSchemaMismatch) || !strings.Contains(err.Error(), tt.naming) {
				t.Fatalf("err = %v, want schema mismatch naming %s", err, tt.naming)
			}
		})
	}
	ds, err := Open(path)
	if err != nil || ds.Version() != 1 {
		t.Fatalf("failed writes changed the dataset: %v %v", ds, err)
	}
	entries, _ := os.ReadDir(filepath.Join(path, dataDir))
	if len(entries) != 1 {
		t.Fatalf("%d data files after refused writes", len(entries))
	}
}

func TestOpenNotFound(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{filepath.Join(dir, "missing"), dir} {
		if _, err := Open(p); !errors.Is(err, ErrNotFound) {
			t.Errorf("Open(%s): %v", p, err)
		}
		if _, err := OpenVersion(p, 1); !errors.Is(err, ErrNotFound) {
			t.Errorf("OpenVersion(%s): %v", p, err)
		}
	}
}

// TestCrashMidCommit simulates the leftovers of writers that died at every
// step of the protocol: the previous version must stay latest and readable,
// and the next commit must succeed.
func TestCrashMidCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	ds := writeFragments(t, path, []int64{4, 3})

	good, err := encodeManifestFile(ds.manifest)
	if err != nil {
		t.Fatal(err)
	}
	leftovers := map[string][]byte{
		// died after writing the data file
		filepath.Join(dataDir, newDataFileName()): []byte("partial data file"),
		// died after writing the transaction file
		filepath.Join(transactionsDir, "2-"+newUUID()+".txn"): encodeTransaction(&Transaction{ReadVersion: 2, UUID: newUUID(), Op: OpAppend}),
		// died while writing the temporary manifest (truncated)
		filepath.Join(versionsDir, ".tmp_3_"+newUUID()): good[:len(good)/2],
		// died after fsync, before link
		filepath.Join(versionsDir, ".tmp_3_"+newUUID()): good,
	}
	for name, data := range leftovers {
		if err := os.WriteFile(filepath.Join(path, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	check := func(version uint64, rows int64) {
		t.Helper()
		ds, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if ds.Version() != version || ds.CountRows() != rows {
			t.Fatalf("version %d rows %d, want %d %d", ds.Version(), ds.CountRows(), version, rows)
		}
		recs, err := ds.Read(0, -1, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		checkRows(t, recs, 0, rows)
		releaseAll(recs)
		vs, err := ds.Versions()
		if err != nil || len(vs) != int(version) {
			t.Fatalf("versions %v, %v", vs, err)
		}
	}
	check(2, 7)
	rec := makeRecord(memory.DefaultAllocator, 7, 5)
	defer rec.Release()
	if _, err := Write(path, []arrow.Record{rec}, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	check(3, 12)
}

// TestWriteConcurrent races writers on one path, including the creation of
// the dataset: every write lands in its own version and no rows are lost.
func TestWriteConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	const writers = 6
	const rowsEach = 5
	var wg sync.WaitGroup
	errs := make([]error, writers)
	versions := make([]uint64, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rec := makeRecord(memory.DefaultAllocator, int64(w*rowsEach), rowsEach)
			defer rec.Release()
			ds, err := Write(path, []arrow.Record{rec}, WriteOptions{})
			errs[w] = err
			if ds != nil {
				versions[w] = ds.Version()
			}
		}(w)
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for w, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", w, err)
		}
		if seen[versions[w]] {
			t.Fatalf("version %d returned twice: %v", versions[w], versions)
		}
		seen[versions[w]] = true
	}
	ds, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Version() != writers || ds.CountRows() != writers*rowsEach || ds.NumFragments() != writers {
		t.Fatalf("version %d rows %d fragments %d", ds.Version(), ds.CountRows(), ds.NumFragments())
	}
	// Fragments may land in any order; each must hold one writer's rows.
	recs, err := ds.Read(0, -1, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseAll(recs)
	got := map[int64]bool{}
	for _, rec := range recs {
		start := firstRowIndex(t, rec)
		checkRows(t, []arrow.Record{rec}, start, rowsEach)
		got[start] = true
	}
	if len(got) != writers {
		t.Fatalf("fragments %v", got)
	}
	entries, _ := os.ReadDir(filepath.Join(path, dataDir))
	if len(entries) != writers {
		t.Fatalf("%d data files, want %d", len(entries), writers)
	}
}

func TestWriteEmptyAndBadInput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	if _, err := Write(path, nil, WriteOptions{}); err == nil {
		t.Fatal("no records: no error")
	}
	empty := makeRecord(memory.DefaultAllocator, 0, 0)
	defer empty.Release()
	ds, err := Write(path, []arrow.Record{empty}, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Version() != 1 || ds.CountRows() != 0 || ds.NumFragments() != 0 {
		t.Fatalf("empty create: version %d rows %d", ds.Version(), ds.CountRows())
	}
	if recs, err := ds.Read(0, -1, nil); err != nil || len(recs) != 0 {
		t.Fatalf("read empty: %v %v", recs, err)
	}
	ds = writeFragments(t, path, []int64{2})
	if ds.Version() != 2 || ds.CountRows() != 2 {
		t.Fatalf("append after empty create: version %d rows %d", ds.Version(), ds.CountRows())
	}
}

func TestNonNullableRefusesNulls(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	sch := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2}, []bool{true, false})
	rec := b.NewRecord()
	b.Release()
	defer rec.Release()
	if _, err := Write(path, []arrow.Record{rec}, WriteOptions{}); !errors.Is(err, ErrSchemaMismatch) || !strings.Contains(err.Error(), `"x"`) {
		t.Fatalf("err = %v", err)
	}
}

func BenchmarkReadRange(b *testing.B) {
	path := filepath.Join(b.TempDir(), "ds")
	const frags, rowsPer = 200, 1000
	sizes := make([]int64, frags)
	for i := range sizes {
		sizes[i] = rowsPer
	}
	ds := writeFragments(b, path, sizes)
	const offset, limit = 123_456, 5_000 // spans 6 fragments in the middle
	recs, err := ds.Read(offset, limit, memory.DefaultAllocator)
	if err != nil {
		b.Fatal(err)
	}
	var bytes int64
	for _, r := range recs {
		for _, c := range r.Columns() {
			for _, buf := range c.Data().Buffers() {
				if buf != nil {
					bytes += int64(buf.Len())
				}
			}
		}
	}
	releaseAll(recs)
	b.SetBytes(bytes)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		recs, err := ds.Read(offset, limit, memory.DefaultAllocator)
		if err != nil {
			b.Fatal(err)
		}
		releaseAll(recs)
	}
}

// TestOpenRefusesUnknownReaderFlags publishes a version that requires
// features we do not implement: Open must fail naming the feature.
func TestOpenRefusesUnknownReaderFlags(t *testing.T) {
	tests := []struct {
		flags uint64
		name  string
	}{
		{FlagDataOverlayFiles, "data overlay files"},
		{FlagFragReuseWithStableRowIDs, "fragment reuse with stable row ids"},
		{FlagSemanticTypes, "semantic types"},
		{1 << 20, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ds")
			ds := writeFragments(t, path, []int64{2})
			m := *ds.manifest
			m.Version = 2
			m.ReaderFlags |= tt.flags
			m.WriterFlags |= tt.flags
			data, err := encodeManifestFile(&m)
			if err != nil {
				t.Fatal(err)
			}
			if err := publishManifest(path, NamingV2, 2, data); err != nil {
				t.Fatal(err)
			}
			_, err = Open(path)
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tt.name) {
				t.Fatalf("Open: %v", err)
			}
			rec := makeRecord(memory.DefaultAllocator, 2, 1)
			defer rec.Release()
			if _, err := Write(path, []arrow.Record{rec}, WriteOptions{}); !errors.Is(err, ErrUnsupported) {
				t.Fatalf("Write: %v", err)
			}
			// Older versions stay readable.
			if old, err := OpenVersion(path, 1); err != nil || old.CountRows() != 2 {
				t.Fatalf("version 1: %v", err)
			}
		})
	}
}
