package engine

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance"
)

func TestIndexAndLookup(t *testing.T) {
	for _, kind := range []string{lance.IndexBTree, lance.IndexBitmap} {
		t.Run(kind, func(t *testing.T) {
			b := openBucket(t, t.TempDir(), 1000)
			defer b.Close()
			appendRows(t, b, 0, 200)
			_, before, st, err := b.Lookup("id", lance.CondEqual(int64(5)), memory.DefaultAllocator)
			if err != nil || st.IndexedFragments != 0 {
				t.Fatalf("lookup before indexing: %+v %v", st, err)
			}
			if got := ids(t, before); !equalInts(got, []int64{5}) {
				t.Fatalf("lookup before indexing: %v", got)
			}
			releaseAll(before)
			idx, err := b.CreateIndex("id", kind)
			if err != nil {
				t.Fatal(err)
			}
			if idx.Columns[0] != "id" || idx.Fragments == 0 {
				t.Fatalf("index: %+v", idx)
			}
			appendRows(t, b, 200, 50) // buffered, not covered by the index

			cases := []struct {
				cond lance.Cond
				want []int64
			}{
				{lance.CondEqual(int64(42)), []int64{42}},
				{lance.CondEqual(int64(230)), []int64{230}},
				{lance.CondRange(int64(195), true, int64(205), false), seq(195, 10)},
				{lance.CondEqual(int64(1000)), nil},
			}
			for _, c := range cases {
				_, recs, st, err := b.Lookup("id", c.cond, memory.DefaultAllocator)
				if err != nil {
					t.Fatal(err)
				}
				if got := ids(t, recs); !equalInts(got, c.want) {
					t.Fatalf("lookup: %v, want %v", got, c.want)
				}
				releaseAll(recs)
				if st.IndexedFragments == 0 {
					t.Fatalf("the index was not used: %+v", st)
				}
			}
			list, err := b.Indices()
			if err != nil || len(list) != 1 {
				t.Fatalf("indices: %+v %v", list, err)
			}
		})
	}
}

func TestLookupErrors(t *testing.T) {
	b := openBucket(t, t.TempDir(), 1000)
	defer b.Close()
	if _, err := b.CreateIndex("id", lance.IndexBTree); !errors.Is(err, ErrNoSchema) {
		t.Fatalf("index on an empty bucket: %v", err)
	}
	appendRows(t, b, 0, 10)
	if _, err := b.CreateIndex("nope", lance.IndexBTree); err == nil {
		t.Fatal("index on a missing column")
	}
}

// TestCreateIndexRefusesAnUnknownKindFirst: the kind is the engine's rule
// (any case of BTREE or BITMAP): anything else is a bad argument, refused
// before the buffered rows are flushed.
func TestCreateIndexRefusesAnUnknownKindFirst(t *testing.T) {
	b := openBucket(t, t.TempDir(), 1000)
	defer b.Close()
	appendRows(t, b, 0, 10)
	for _, kind := range []string{"HASH", "", "btree ", "IVF_PQ"} {
		_, err := b.CreateIndex("id", kind)
		if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), fmt.Sprintf("unknown index kind '%s'", kind)) {
			t.Fatalf("kind %q: %v", kind, err)
		}
		if _, persisted, buffered, _ := b.Counts(); persisted != 0 || buffered != 10 {
			t.Fatalf("kind %q: a refused index flushed: %d persisted, %d buffered", kind, persisted, buffered)
		}
	}
	for _, kind := range []string{"btree", "Bitmap"} {
		if _, err := b.CreateIndex("id", kind); err != nil {
			t.Fatalf("kind %q: %v", kind, err)
		}
	}
}

// TestLookupFitsRowsToTheBucketSchema: an evolving bucket's dataset lacks
// its untyped fields and stores a field typed late after the others, so the
// rows a lookup reads from it are matched to the bucket's schema by name, as
// a read's are, never taken column by column (which panicked or mislabelled).
func TestLookupFitsRowsToTheBucketSchema(t *testing.T) {
	b, err := Open(Options{Path: t.TempDir(), FlushThreshold: 1000, SchemaEvolution: true, Logger: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rows := func(first, n int, note any) []any {
		var out []any
		for i := first; i < first+n; i++ {
			out = append(out, pyDict{{"id", i}, {"note", note}, {"x", float64(i) / 2}})
		}
		return out
	}
	appendRecords(t, b, rows(0, 10, nil)) // "note" untyped: not in the dataset
	if _, err := b.CreateIndex("id", lance.IndexBTree); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		id   int64
		note any // want
	}{
		{"untyped field", 3, nil},
		{"field typed after the others", 13, "n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.note != nil {
				appendRecords(t, b, rows(10, 10, c.note)) // the dataset gains "note" last
			}
			alloc := memory.NewCheckedAllocator(memory.DefaultAllocator)
			schema, recs, _, err := b.Lookup("id", lance.CondEqual(c.id), alloc)
			if err != nil {
				t.Fatal(err)
			}
			defer alloc.AssertSize(t, 0)
			defer releaseAll(recs)
			if len(recs) != 1 || recs[0].NumRows() != 1 || !recs[0].Schema().Equal(schema) {
				t.Fatalf("lookup of %d: %v records, schema %v", c.id, len(recs), schema)
			}
			got := map[string]string{}
			for i, f := range schema.Fields() {
				got[f.Name] = recs[0].Column(i).ValueStr(0)
			}
			want := map[string]string{"id": fmt.Sprint(c.id), "note": "(null)", "x": fmt.Sprint(float64(c.id) / 2)}
			if c.note != nil {
				want["note"] = c.note.(string)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("lookup of %d: %v, want %v", c.id, got, want)
			}
		})
	}
}
