package engine

import (
	"errors"
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
	if _, err := b.CreateIndex("id", "HASH"); !errors.Is(err, lance.ErrUnsupported) {
		t.Fatalf("unknown index kind: %v", err)
	}
}
