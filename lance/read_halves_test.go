//go:build testhooks

package lance

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/file"
)

// bigRowsRecord: rows [start, start+n) of id, a 1000-byte string and a list
// of 100 ints.
func bigRowsRecord(start, n int) arrow.Record {
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64), Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	for i := start; i < start+n; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.StringBuilder).Append(strings.Repeat(fmt.Sprintf("%04d", i), 250))
		lb := b.Field(2).(*array.ListBuilder)
		lb.Append(true)
		for k := 0; k < 100; k++ {
			lb.ValueBuilder().(*array.Int64Builder).Append(int64(i*1000 + k))
		}
	}
	return b.NewRecord()
}

// jsonLines is recs as Arrow's JSON, one line per row (the test slices rows by line).
func jsonLines(t *testing.T, recs []arrow.Record) string {
	t.Helper()
	var out bytes.Buffer
	for _, r := range recs {
		if err := array.RecordToJSON(r, &out); err != nil {
			t.Fatal(err)
		}
	}
	return out.String()
}

// TestReadSplitsRowsPastThe32BitOffsets: rows whose strings or lists hold
// more than one Arrow array's 32-bit offsets address (2 GiB of 1 MB values
// in one fragment: "bytes of values do not fit 32-bit offsets of binary")
// are read as several records, with deleted rows too, and compaction
// rewrites them. The reader's limit is lowered to five rows' strings.
func TestReadSplitsRowsPastThe32BitOffsets(t *testing.T) {
	path := t.TempDir()
	rec := bigRowsRecord(0, 40)
	want := jsonLines(t, []arrow.Record{rec})
	lines := strings.SplitAfter(want, "\n")
	if _, err := Write(path, []arrow.Record{rec}, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	rec.Release()
	defer file.SetOffsetsLimit(5000)()

	read := func(what string, offset, limit int64, want string) {
		t.Helper()
		ds, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := ds.Read(offset, limit, memory.DefaultAllocator)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		defer releaseAll(recs)
		if len(recs) < 2 {
			t.Fatalf("%s: %d record(s)", what, len(recs))
		}
		if got := jsonLines(t, recs); got != want {
			t.Fatalf("%s: rows differ:\n%.200s\nwant\n%.200s", what, got, want)
		}
	}
	read("all", 0, -1, want)
	read("rows 3..33", 3, 30, strings.Join(lines[3:33], ""))
	if _, _, err := DeleteRows(path, [][2]int64{{10, 12}}, DeleteRowsOptions{}); err != nil {
		t.Fatal(err)
	}
	kept := strings.Join(lines[:10], "") + strings.Join(lines[12:], "")
	read("with deleted rows", 0, -1, kept)
	more := bigRowsRecord(40, 3)
	defer more.Release()
	if _, err := Write(path, []arrow.Record{more}, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	tail := jsonLines(t, []arrow.Record{more})
	if _, err := Compact(path, CompactOptions{}); err != nil {
		t.Fatal(err)
	}
	ds, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(ds.Fragments()); n != 1 {
		t.Fatalf("%d fragments after compaction", n)
	}
	read("compacted", 0, -1, kept+tail)
}
