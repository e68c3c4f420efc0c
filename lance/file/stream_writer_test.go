package file

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestStreamWriterMatchesWriteFile: records handed over one at a time give
// the very bytes WriteFile writes for them all at once, in every version,
// with pages small enough that many are written before Close.
func TestStreamWriterMatchesWriteFile(t *testing.T) {
	sch := fourTypes()
	recs := genRecords(sch, []int{1, 700, 3000, 5, 2048}, []func(int) bool{nullIf(7), nil, nullIf(3), nullIf(11)}, nil, 42)
	defer releaseRecords(recs)
	fields := mustFields(t, sch)
	for _, v := range []Version{V2_0, V2_1, V2_2} {
		opts := WriteOptions{Version: v, MaxPageBytes: 4 << 10}
		whole := tempPath(t, "whole.lance")
		if _, err := WriteFileWithOptions(whole, fields, recs, opts); err != nil {
			t.Fatal(err)
		}
		streamed := tempPath(t, "streamed.lance")
		sw, err := CreateStream(streamed, fields, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs {
			if err := sw.Write(rec); err != nil {
				t.Fatal(err)
			}
		}
		res, err := sw.Close()
		if err != nil {
			t.Fatal(err)
		}
		if res.NumRows != 5754 || sw.Rows() != 5754 {
			t.Fatalf("version %v: %d rows written, want 5754", v, res.NumRows)
		}
		a, _ := os.ReadFile(whole)
		b, _ := os.ReadFile(streamed)
		if !bytes.Equal(a, b) {
			t.Fatalf("version %v: streamed file (%d bytes) differs from WriteFile's (%d bytes)", v, len(b), len(a))
		}
		got := readAllColumns(t, streamed, sch, memory.DefaultAllocator)
		want := concatColumns(t, recs)
		diffColumns(t, "streamed", sch, want, got)
	}
}

// TestStreamWriterRefusesAndAborts: a record of another schema is refused
// without spoiling the writer's state, and Abort leaves no file behind.
func TestStreamWriterRefusesAndAborts(t *testing.T) {
	sch := fourTypes()
	recs := genRecords(sch, []int{10}, nil, nil, 1)
	defer releaseRecords(recs)
	p := tempPath(t, "aborted.lance")
	sw, err := CreateStream(p, mustFields(t, sch), WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.Write(recs[0]); err != nil {
		t.Fatal(err)
	}
	other := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int32}}, nil)
	bad := genRecords(other, []int{3}, nil, nil, 2)
	defer releaseRecords(bad)
	if err := sw.Write(bad[0]); err == nil {
		t.Fatal("a record of another schema was accepted")
	}
	sw.Abort()
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("aborted file still there: %v", err)
	}
	if _, err := sw.Close(); err == nil {
		t.Fatal("Close after Abort succeeded")
	}
}

func releaseRecords(recs []arrow.Record) {
	for _, r := range recs {
		r.Release()
	}
}

// concatColumns joins the records' columns into one array per column.
func concatColumns(t testing.TB, recs []arrow.Record) []arrow.Array {
	t.Helper()
	out := make([]arrow.Array, recs[0].NumCols())
	for c := range out {
		parts := make([]arrow.Array, len(recs))
		for i, r := range recs {
			parts[i] = r.Column(c)
		}
		joined, err := array.Concatenate(parts, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		out[c] = joined
	}
	return out
}
