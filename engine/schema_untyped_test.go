package engine

import (
	"fmt"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestFieldTypedLateTakesTheDatasetsOrder: an evolving bucket stores a field
// that was None in every record only once a value types it, after the fields
// stored before; the bucket's schema then takes the dataset's order, so its
// reads show the columns as a reopened bucket (and pylance) do, and rows
// buffered across the change read right.
func TestFieldTypedLateTakesTheDatasetsOrder(t *testing.T) {
	path := t.TempDir()
	opts := Options{Path: path, FlushThreshold: 1000, SchemaEvolution: true, Logger: t.Logf}
	b, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	row := func(i int, note any) pyDict { return pyDict{{"id", i}, {"note", note}, {"x", i * 10}} }
	appendRecords(t, b, []any{row(0, nil), row(1, nil)})
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		rows  []any
		flush bool
		want  string // schema
	}{
		{[]any{row(2, "a")}, false, "id: int64, note: string, x: int64"}, // typed, buffered
		{[]any{row(3, nil)}, true, "id: int64, x: int64, note: string"},  // the flush stores it last
		{[]any{row(4, "b")}, true, "id: int64, x: int64, note: string"},
	}
	for i, st := range steps {
		appendRecords(t, b, st.rows)
		if st.flush {
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		if s, _ := b.Schema(); schemaText(s) != st.want {
			t.Fatalf("step %d: schema %q, want %q", i, schemaText(s), st.want)
		}
	}
	want := "[0 0 (null)] [1 10 (null)] [2 20 a] [3 30 (null)] [4 40 b]"
	if got := rowsText(t, b); got != want {
		t.Fatalf("rows %s, want %s", got, want)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if s, _ := r.Schema(); schemaText(s) != steps[len(steps)-1].want {
		t.Fatalf("reopened: schema %q", schemaText(s))
	}
	if got := rowsText(t, r); got != want {
		t.Fatalf("reopened: rows %s, want %s", got, want)
	}
}

// rowsText is every row of b as "[v v v]", columns in schema order.
func rowsText(t *testing.T, b *Bucket) string {
	t.Helper()
	alloc := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer alloc.AssertSize(t, 0)
	_, recs, err := b.Read(0, -1, alloc)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseAll(recs)
	var out string
	for _, rec := range recs {
		for i := 0; i < int(rec.NumRows()); i++ {
			var vals []string
			for _, c := range rec.Columns() {
				vals = append(vals, c.ValueStr(i))
			}
			if out != "" {
				out += " "
			}
			out += fmt.Sprint(vals)
		}
	}
	return out
}
