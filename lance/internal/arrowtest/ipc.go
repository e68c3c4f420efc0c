package arrowtest

import (
	"os"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Arrow IPC files are how the tests hand data to pylance and take its
// answers back.

// WriteIPCFile writes recs to an Arrow IPC file at path.
func WriteIPCFile(t testing.TB, path string, sch *arrow.Schema, recs []arrow.Record) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(sch))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		// Arrow Go v17's IPC writer panics on a zero-length binary slice
		// whose parent list still references a non-empty buffer; a copy
		// (Concatenate of one array) has exactly the buffers it needs.
		cols := make([]arrow.Array, r.NumCols())
		for i := range cols {
			c, err := array.Concatenate([]arrow.Array{r.Column(i)}, memory.DefaultAllocator)
			if err != nil {
				t.Fatal(err)
			}
			cols[i] = c
		}
		rec := array.NewRecord(r.Schema(), cols, r.NumRows())
		for _, c := range cols {
			c.Release()
		}
		err := w.Write(rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// ReadIPCColumns returns the schema of an IPC file and each of its columns
// concatenated into one array.
func ReadIPCColumns(t testing.TB, path string) (*arrow.Schema, []arrow.Array) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var recs []arrow.Record
	for i := 0; i < r.NumRecords(); i++ {
		rec, err := r.Record(i)
		if err != nil {
			t.Fatal(err)
		}
		rec.Retain() // the reader reuses a record once the next one is read
		recs = append(recs, rec)
	}
	cols := ConcatColumns(t, r.Schema(), recs)
	for _, rec := range recs {
		rec.Release()
	}
	return r.Schema(), cols
}

// ConcatColumns returns each column of recs concatenated into one new array
// (an empty one of the field's type when recs is empty).
func ConcatColumns(t testing.TB, sch *arrow.Schema, recs []arrow.Record) []arrow.Array {
	t.Helper()
	out := make([]arrow.Array, sch.NumFields())
	for c := range out {
		if len(recs) == 0 {
			out[c] = array.MakeArrayOfNull(memory.DefaultAllocator, sch.Field(c).Type, 0)
			continue
		}
		parts := make([]arrow.Array, len(recs))
		for i, r := range recs {
			parts[i] = r.Column(c)
		}
		a, err := array.Concatenate(parts, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		out[c] = a
	}
	return out
}
