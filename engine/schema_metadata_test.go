package engine

import (
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance"
)

// TestReadCarriesTheDatasetsSchemaMetadata: a dataset whose schema has
// schema-level metadata (pylance keeps a table's, e.g. pandas' annotations
// or an owner's keys) is read with that metadata, as pylance's to_table()
// reads it, from the dataset, from the buffer, and from both, before and
// after the bucket's own flushes (which keep it in the manifest).
func TestReadCarriesTheDatasetsSchemaMetadata(t *testing.T) {
	md := arrow.NewMetadata([]string{"owner", "x"}, []string{"me", "1"})
	withMD := arrow.NewSchema(testSchema.Fields(), &md)
	dir := t.TempDir()
	rec := makeRows(t, memory.DefaultAllocator, 0, 5)
	defer rec.Release()
	theirs := array.NewRecord(withMD, rec.Columns(), rec.NumRows())
	defer theirs.Release()
	if _, err := lance.Write(filepath.Join(dir, DatasetDirName), []arrow.Record{theirs}, lance.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	b := openBucket(t, dir, 1000)
	defer b.Close()
	check := func(when string, offset, limit int64, rows int64) {
		t.Helper()
		sch, recs, err := b.Read(offset, limit, memory.DefaultAllocator)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		var n int64
		for _, r := range recs {
			n += r.NumRows()
		}
		releaseAll(recs)
		if n != rows {
			t.Fatalf("%s: read %d rows, want %d", when, n, rows)
		}
		if got := sch.Metadata(); !got.Equal(md) {
			t.Fatalf("%s: schema metadata %v, want %v (the dataset's)", when, got, md)
		}
	}
	check("the dataset's rows", 0, -1, 5)
	appendRows(t, b, 5, 3)
	check("dataset and buffer", 0, -1, 8)
	check("buffer only", 5, -1, 3)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	check("after a flush", 0, -1, 8)
	ds, err := lance.Open(filepath.Join(dir, DatasetDirName))
	if err != nil {
		t.Fatal(err)
	}
	if got := ds.Schema().Metadata(); !got.Equal(md) {
		t.Fatalf("the flush lost the dataset's schema metadata: %v", got)
	}
}
