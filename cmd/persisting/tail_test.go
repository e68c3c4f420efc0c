package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/engine"
	"github.com/persisting/persisting/lance"
)

func TestRowsPerReadKeepsABatchWithinItsByteBudget(t *testing.T) {
	for _, tc := range []struct {
		name                         string
		bytesRead, rowsRead, ceiling int64
		want                         int64
	}{
		{"first read is small", 0, 0, 1000, firstReadRows},
		{"first read within a smaller --batch", 0, 0, 4, 4},
		{"small rows: the --batch ceiling", 16 * 100, 16, 1000, 1000},
		{"4 MiB rows: 16 per read", 16 * 4 << 20, 16, 1000, 16},
		{"rows above the budget: one at a time", 2 * 100 << 20, 2, 1000, 1},
		{"empty rows count as a byte", 0, 16, 1000, 1000},
	} {
		if got := rowsPerRead(tc.bytesRead, tc.rowsRead, tc.ceiling); got != tc.want {
			t.Errorf("%s: rowsPerRead(%d, %d, %d) = %d, want %d", tc.name, tc.bytesRead, tc.rowsRead, tc.ceiling, got, tc.want)
		}
	}
}

// A followed bucket whose directory is deleted is a dataset gone at every
// reopen until one is made again there (not a failed read: three of those
// end tail), and what is made again is another dataset.
func TestTailReaderWaitsWhileTheBucketIsGone(t *testing.T) {
	bucket := filepath.Join(queueOfTwo(t), "bucket_0")
	opts, err := engine.ParseOptionsJSON(bucket, `{"read_only": true}`)
	if err != nil {
		t.Fatal(err)
	}
	r := &tailReader{opts: opts}
	defer r.close()
	if got, err := r.reopen(); err != nil || got != (reopened{end: 2}) {
		t.Fatalf("first open: %+v, %v", got, err)
	}
	if err := os.RemoveAll(bucket); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < followRetries+1; i++ {
		if got, err := r.reopen(); err != nil || !got.gone {
			t.Fatalf("reopen %d of a bucket gone: %+v, %v", i, got, err)
		}
	}
	if err := os.Mkdir(bucket, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := r.reopen(); err != nil || !got.gone {
		t.Fatalf("an empty bucket directory: %+v, %v", got, err)
	}
	schema := arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	b := array.NewInt64Builder(memory.DefaultAllocator)
	b.AppendValues([]int64{7, 8, 9}, nil)
	col := b.NewArray()
	defer col.Release()
	rec := array.NewRecord(schema, []arrow.Array{col}, 3)
	defer rec.Release()
	if _, err := lance.Write(filepath.Join(bucket, datasetDir), []arrow.Record{rec}, lance.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, err := r.reopen(); err != nil || got != (reopened{end: 3}) || r.mark.Version != 1 {
		t.Fatalf("made again: %+v (version %d), %v", got, r.mark.Version, err)
	}
}
