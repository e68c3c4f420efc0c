package engine

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

	"github.com/persisting/persisting/lance"
)

var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// makeRows builds rows first..first+n-1 of the test log; every 7th name is null.
func makeRows(t testing.TB, alloc memory.Allocator, first, n int64) arrow.Record {
	t.Helper()
	bld := array.NewRecordBuilder(alloc, testSchema)
	defer bld.Release()
	for i := first; i < first+n; i++ {
		bld.Field(0).(*array.Int64Builder).Append(i)
		bld.Field(1).(*array.Float64Builder).Append(float64(i) / 2)
		bld.Field(2).(*array.BooleanBuilder).Append(i%2 == 0)
		if i%7 == 0 {
			bld.Field(3).AppendNull()
		} else {
			bld.Field(3).(*array.StringBuilder).Append(fmt.Sprintf("név-%d", i))
		}
	}
	return bld.NewRecord()
}

// ids returns the id column of recs, checking every other column against makeRows.
func ids(t *testing.T, recs []arrow.Record) []int64 {
	t.Helper()
	var out []int64
	for _, r := range recs {
		id := r.Column(0).(*array.Int64)
		score := r.Column(1).(*array.Float64)
		ok := r.Column(2).(*array.Boolean)
		name := r.Column(3).(*array.String)
		for i := 0; i < int(r.NumRows()); i++ {
			v := id.Value(i)
			out = append(out, v)
			if score.Value(i) != float64(v)/2 || ok.Value(i) != (v%2 == 0) {
				t.Fatalf("row with id %d has wrong values", v)
			}
			if (v%7 == 0) != name.IsNull(i) || (!name.IsNull(i) && name.Value(i) != fmt.Sprintf("név-%d", v)) {
				t.Fatalf("row with id %d has wrong name %q (null=%v)", v, name.Value(i), name.IsNull(i))
			}
		}
	}
	return out
}

func seq(from, n int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = from + int64(i)
	}
	return out
}

// reopen closes b and opens its bucket again with opts (closed at the
// test's end): what a restart of the process does.
func reopen(t *testing.T, b *Bucket, opts Options) *Bucket {
	t.Helper()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	nb, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nb.Close() })
	return nb
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func openBucket(t *testing.T, path string, threshold int) *Bucket {
	t.Helper()
	b, err := Open(Options{Path: path, FlushThreshold: threshold})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func appendRows(t *testing.T, b *Bucket, first, n int64) {
	t.Helper()
	appendRowsFrom(t, b, memory.DefaultAllocator, first, n)
}

// appendRowsFrom appends rows built in alloc's memory.
// openFlushedThenBuffered opens a bucket with opts, flushes rows 0-9 into
// it and buffers the next `buffered` rows: the start of the outage tests.
func openFlushedThenBuffered(t *testing.T, opts Options, buffered int64) *Bucket {
	t.Helper()
	b, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	appendRows(t, b, 0, 10)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	appendRows(t, b, 10, buffered)
	return b
}

func appendRowsFrom(t *testing.T, b *Bucket, alloc memory.Allocator, first, n int64) {
	t.Helper()
	rec := makeRows(t, alloc, first, n)
	defer rec.Release()
	if err := b.Append(rec); err != nil {
		t.Fatal(err)
	}
}

func readIDs(t *testing.T, b *Bucket, offset, limit int64) []int64 {
	t.Helper()
	alloc := memory.NewCheckedAllocator(memory.DefaultAllocator)
	_, recs, err := b.Read(offset, limit, alloc)
	if err != nil {
		t.Fatal(err)
	}
	got := ids(t, recs)
	releaseAll(recs)
	alloc.AssertSize(t, 0)
	return got
}

// TestReadAcrossDatasetAndBuffer: 250 rows, 200 flushed in two versions
// (fragments of 100), 50 buffered; every range reads the right rows.
func TestReadAcrossDatasetAndBuffer(t *testing.T) {
	b := openBucket(t, t.TempDir(), 1000)
	defer b.Close()
	for i := int64(0); i < 5; i++ {
		appendRows(t, b, i*50, 50)
		if i == 1 || i == 3 {
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	total, persisted, buffered, err := b.Counts()
	if err != nil || total != 250 || persisted != 200 || buffered != 50 {
		t.Fatalf("counts = %d/%d/%d, %v; want 250/200/50", total, persisted, buffered, err)
	}
	cases := []struct {
		offset, limit int64
		want          []int64
	}{
		{0, -1, seq(0, 250)},
		{0, 10, seq(0, 10)},
		{95, 10, seq(95, 10)},   // across two fragments
		{190, 20, seq(190, 20)}, // across the dataset and the buffer
		{210, 100, seq(210, 40)},
		{200, 50, seq(200, 50)},
		{249, 1, []int64{249}},
		{250, 10, nil},
		{1000, -1, nil},
		{10, 0, nil},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%d+%d", c.offset, c.limit), func(t *testing.T) {
			if got := readIDs(t, b, c.offset, c.limit); !equalInts(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestReopenRecoversPersistedRows(t *testing.T) {
	dir := t.TempDir()
	b := openBucket(t, dir, 1000)
	appendRows(t, b, 0, 30)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	appendRows(t, b, 30, 5)
	if err := b.Close(); err != nil { // Close flushes the 5 buffered rows
		t.Fatal(err)
	}

	b = openBucket(t, dir, 1000)
	defer b.Close()
	s, err := b.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.PersistedCount != 35 || s.BufferCount != 0 || s.Version != 2 {
		t.Fatalf("after reopen: %+v", s)
	}
	appendRows(t, b, 35, 5)
	if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, 40)) {
		t.Fatalf("got %v", got)
	}
}

func TestSchemaMismatchKeepsEarlierRows(t *testing.T) {
	b := openBucket(t, t.TempDir(), 1000)
	defer b.Close()
	appendRows(t, b, 0, 10)

	other := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	bld := array.NewRecordBuilder(memory.DefaultAllocator, other)
	defer bld.Release()
	bld.Field(0).(*array.StringBuilder).Append("x")
	bld.Field(1).(*array.Float64Builder).Append(1)
	bld.Field(2).(*array.BooleanBuilder).Append(true)
	bld.Field(3).(*array.StringBuilder).Append("y")
	rec := bld.NewRecord()
	defer rec.Release()

	err := b.Append(rec)
	if !errors.Is(err, ErrSchemaMismatch) {
		t.Fatalf("err = %v, want ErrSchemaMismatch", err)
	}
	if want := `field "id": expected int64, found utf8`; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
	if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, 10)) {
		t.Fatalf("rows after the refused append: %v", got)
	}
}

func TestOpenRejectsBadPaths(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		opts Options
		want error
	}{
		{"empty path", Options{}, ErrInvalidArgument},
		{"negative threshold", Options{Path: dir, FlushThreshold: -1}, ErrInvalidArgument},
		{"path is a file", Options{Path: file}, nil},
		{"path under a file", Options{Path: filepath.Join(file, "sub")}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Open(c.opts)
			if err == nil {
				t.Fatal("Open succeeded")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

func TestClosedBucketRefusesEverything(t *testing.T) {
	b := openBucket(t, t.TempDir(), 1000)
	appendRows(t, b, 0, 3)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	rec := makeRows(t, memory.DefaultAllocator, 3, 1)
	defer rec.Release()
	if err := b.Append(rec); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	if _, _, err := b.Read(0, -1, memory.DefaultAllocator); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	if err := b.Flush(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Flush after Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestConcurrentAppendAndRead runs writers and readers at once (run with
// -race): every row lands exactly once and readers always see a prefix-closed,
// gap-free log.
func TestConcurrentAppendAndRead(t *testing.T) {
	b := openBucket(t, t.TempDir(), 64)
	defer b.Close()
	const writers, batches, rows = 4, 20, 10
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < batches; i++ {
				first := int64((w*batches + i) * rows)
				rec := makeRows(t, memory.DefaultAllocator, first, rows)
				if err := b.Append(rec); err != nil {
					t.Error(err)
				}
				rec.Release()
			}
		}(w)
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for r := 0; r < 2; r++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, recs, err := b.Read(0, -1, memory.DefaultAllocator)
				if err != nil {
					t.Error(err)
					return
				}
				n := int64(0)
				for _, r := range recs {
					n += r.NumRows()
				}
				releaseAll(recs)
				if n%rows != 0 {
					t.Errorf("a read saw a partial batch: %d rows", n)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()

	got := readIDs(t, b, 0, -1)
	if len(got) != writers*batches*rows {
		t.Fatalf("read %d rows, want %d", len(got), writers*batches*rows)
	}
	seen := map[int64]bool{}
	for _, v := range got {
		if seen[v] {
			t.Fatalf("row %d read twice", v)
		}
		seen[v] = true
	}
}

// TestUnwritableSchemaRefusedAtAppend: rows a flush could never write are
// refused by the append that brings them, not held until every flush fails.
func TestUnwritableSchemaRefusedAtAppend(t *testing.T) {
	cases := []struct {
		name    string
		field   arrow.Field
		version string
		want    error
	}{
		{"dotted name", arrow.Field{Name: "a.b", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, "", ErrInvalidArgument},
		{"struct column in a 2.0 bucket", arrow.Field{Name: "s", Type: arrow.StructOf(arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true}), Nullable: true}, "2.0", lance.ErrUnsupported},
		{"map column in a 2.1 bucket", arrow.Field{Name: "m", Type: arrow.MapOf(arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int64), Nullable: true}, "2.1", lance.ErrUnsupported},
		{"dictionary column in a nested type", arrow.Field{Name: "s", Type: arrow.StructOf(arrow.Field{Name: "d", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, Nullable: true}), Nullable: true}, "", lance.ErrUnsupported},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := Open(Options{Path: t.TempDir(), DataStorageVersion: c.version})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			s := arrow.NewSchema([]arrow.Field{c.field}, nil)
			bld := array.NewRecordBuilder(memory.DefaultAllocator, s)
			defer bld.Release()
			bld.Field(0).AppendNull()
			rec := bld.NewRecord()
			defer rec.Release()
			if err := b.Append(rec); !errors.Is(err, c.want) {
				t.Fatalf("Append = %v, want %v", err, c.want)
			}
			if err := b.Flush(); err != nil {
				t.Fatalf("Flush after the refused append: %v", err)
			}
		})
	}
}

// TestAppendBatchesIsOneUnit: a group with one bad record keeps none of them.
func TestAppendBatchesIsOneUnit(t *testing.T) {
	for _, withWAL := range []bool{false, true} {
		t.Run(fmt.Sprintf("wal=%v", withWAL), func(t *testing.T) {
			b, err := Open(Options{Path: t.TempDir(), WAL: WALOptions{Enabled: withWAL}})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			good1 := makeRows(t, memory.DefaultAllocator, 0, 5)
			good2 := makeRows(t, memory.DefaultAllocator, 5, 5)
			defer good1.Release()
			defer good2.Release()
			fields := append([]arrow.Field(nil), testSchema.Fields()[:2]...)
			fields[1].Name = "extra" // a field the bucket lacks
			bad := array.NewRecord(arrow.NewSchema(fields, nil), good1.Columns()[:2], 5)
			defer bad.Release()

			if err := b.AppendBatches([]arrow.Record{good1, bad}); !errors.Is(err, ErrSchemaMismatch) {
				t.Fatalf("AppendBatches with a bad record = %v", err)
			}
			if total, _, _, _ := b.Counts(); total != 0 {
				t.Fatalf("%d rows kept from a refused group", total)
			}
			if err := b.AppendBatches([]arrow.Record{good1, good2}); err != nil {
				t.Fatal(err)
			}
			if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, 10)) {
				t.Fatalf("rows: %v", got)
			}
		})
	}
}
