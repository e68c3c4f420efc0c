package engine

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/file"
)

// TestReadsShowTheFieldMetadataTheDatasetStores: a bucket that creates its
// dataset with a codec records it in every field's metadata; its reads show
// that metadata from then on, as a reopened bucket's and pylance's do.
func TestReadsShowTheFieldMetadataTheDatasetStores(t *testing.T) {
	for _, tc := range []struct {
		codec string
		want  string // the fields' "lance-encoding:compression", "" for none
	}{{"", ""}, {"zstd", "zstd"}, {"lz4", "lz4"}} {
		t.Run("codec="+tc.codec, func(t *testing.T) {
			path := t.TempDir()
			opts := Options{Path: path, FlushThreshold: 1000, Compression: tc.codec, SchemaEvolution: true, Logger: t.Logf}
			b, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			appendRecords(t, b, []any{pyDict{{"id", 1}, {"tags", []any{"a"}}, {"st", pyDict{{"x", 1}}}}})
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
			live, recs, err := b.Read(0, -1, memory.DefaultAllocator)
			if err != nil {
				t.Fatal(err)
			}
			releaseAll(recs)
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			r, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			reopened, recs, err := r.Read(0, -1, memory.DefaultAllocator)
			if err != nil {
				t.Fatal(err)
			}
			releaseAll(recs)
			if !live.Equal(reopened) {
				t.Fatalf("live reads' schema %v, reopened %v", live, reopened)
			}
			var check func(name string, f arrow.Field)
			check = func(name string, f arrow.Field) {
				if got, _ := f.Metadata.GetValue(file.CompressionMetadataKey); got != tc.want {
					t.Fatalf("field %s: compression metadata %q, want %q", name, got, tc.want)
				}
				if nested, ok := f.Type.(arrow.NestedType); ok {
					for _, c := range nested.Fields() {
						check(name+"."+c.Name, c)
					}
				}
			}
			for _, f := range live.Fields() {
				check(f.Name, f)
			}
		})
	}
}
