package engine

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

var dictMapSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "cat", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}, Nullable: true},
	{Name: "num", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.PrimitiveTypes.Int64}, Nullable: true},
	{Name: "big", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.LargeString}, Nullable: true},
	{Name: "m", Type: arrow.MapOf(arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int64), Nullable: true},
	{Name: "when", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.FixedWidthTypes.Float16}, Nullable: true},
}, nil)

// openDictMapBucket opens a bucket whose schema (dictMapSchema) comes from
// one Arrow row of nulls, as put_arrow or a pylance dataset gives it.
func openDictMapBucket(t *testing.T, wal bool) *Bucket {
	t.Helper()
	b, err := Open(Options{Path: t.TempDir(), FlushThreshold: 1000, WAL: WALOptions{Enabled: wal}, Logger: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	var cols []arrow.Array
	for _, f := range dictMapSchema.Fields() {
		cols = append(cols, array.MakeArrayOfNull(memory.DefaultAllocator, f.Type, 1))
	}
	rec := array.NewRecord(dictMapSchema, cols, 1)
	releaseArrays(cols)
	defer rec.Release()
	if err := b.Append(rec); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRecordsIntoDictionaryAndMapColumns: dict records fill dictionary and
// map columns; values that do not fit are refused with a SchemaError
// naming the field, and leave nothing behind.
func TestRecordsIntoDictionaryAndMapColumns(t *testing.T) {
	good := []any{
		rec("id", 1, "cat", "red", "num", 7, "big", "x", "m", rec("a", 1, "b", nil)),
		// a map as get returns it: (key, value) pairs, in their order
		rec("id", 2, "cat", "green", "num", 7, "big", "", "m", []any{pyTuple{"c", 3}, []any{"c", 4}}),
		rec("id", 3, "cat", "red", "num", nil, "m", nil),
		rec("id", 4),
		rec("id", 5, "m", emptyOf(0)), // an empty numpy array: a map of no entries, as [] is
	}
	wantRows := []string{
		"id=(null) cat=(null) num=(null) big=(null) m=(null) when=(null) ",
		`id=1 cat=red num=7 big=x m=[{"key":"a","value":1},{"key":"b","value":null}] when=(null) `,
		`id=2 cat=green num=7 big= m=[{"key":"c","value":3},{"key":"c","value":4}] when=(null) `,
		"id=3 cat=red num=(null) big=(null) m=(null) when=(null) ",
		"id=4 cat=(null) num=(null) big=(null) m=(null) when=(null) ",
		"id=5 cat=(null) num=(null) big=(null) m=[] when=(null) ",
	}
	refusals := []struct {
		name string
		rec  pyDict
		msg  string
	}{
		{"int into dictionary<string>", rec("cat", 5), `field 'cat': expected dictionary<values=string, indices=int8, ordered=0>, found int`},
		{"str into dictionary<int64>", rec("num", "7"), `field 'num': expected dictionary<values=int64, indices=int32, ordered=0>, found str`},
		{"int into dictionary<large_string>", rec("big", 5), `field 'big': expected dictionary<values=large_string, indices=int32, ordered=0>, found int`},
		{"a value into a dictionary records cannot fill", rec("when", 1.5), `field 'when': expected dictionary<values=halffloat, indices=int32, ordered=0>, found float 1.5 \(a record puts only None into a dictionary of halffloat values: append such values as Arrow data \(put_arrow\)\)`},
		{"list into a map", rec("m", []any{1}), `field 'm': expected map<string, int64> \(a dict, or a list of \(key, value\) pairs\), found list \[1\]`},
		{"a pair of three", rec("m", []any{pyTuple{"a", 1, 2}}), `field 'm': expected map<string, int64> \(a dict`},
		{"a pair's value", rec("m", []any{pyTuple{"a", "b"}}), `field 'm\{\}': expected int64, found str`},
		{"int key", rec("m", pyDict{{1, 2}}), `field 'm\{key\}': expected string, found int`},
		{"None key", rec("m", pyDict{{nil, 2}}), `field 'm': a map key must not be None`},
		{"str value", rec("m", rec("a", "b")), `field 'm\{\}': expected int64, found str`},
	}
	for _, wal := range []bool{false, true} {
		t.Run(fmt.Sprintf("wal=%v", wal), func(t *testing.T) {
			b := openDictMapBucket(t, wal)
			defer b.Close()
			appendRecords(t, b, good[:2])
			for _, r := range refusals {
				before := bucketTrace(t, b)
				n, err := b.AppendRecords(pyMarshal(t, r.rec))
				if !errors.Is(err, ErrSchemaMismatch) || n != 0 || !regexp.MustCompile(r.msg).MatchString(err.Error()) {
					t.Fatalf("%s: AppendRecords = %d, %v; want a SchemaError matching %q", r.name, n, err, r.msg)
				}
				if after := bucketTrace(t, b); after != before {
					t.Fatalf("%s: a refused call left a trace", r.name)
				}
			}
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
			appendRecords(t, b, good[2:])
			if got := rowsOf(t, b); strings.Join(got, "|") != strings.Join(wantRows, "|") {
				t.Fatalf("rows\n %q\nwant\n %q", got, wantRows)
			}
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
			s, err := b.Schema()
			if err != nil {
				t.Fatal(err)
			}
			if !s.Equal(dictMapSchema) {
				t.Fatalf("schema %s, want %s", s, dictMapSchema)
			}
			if got := rowsOf(t, b); strings.Join(got, "|") != strings.Join(wantRows, "|") {
				t.Fatalf("rows after flush\n %q\nwant\n %q", got, wantRows)
			}
		})
	}
}

// TestDictionaryRoomBetweenFlushes: a dictionary with int8 indices takes at
// most 128 distinct values until the rows are flushed; the put bringing
// one more is refused whole, and after a flush new values go in.
func TestDictionaryRoomBetweenFlushes(t *testing.T) {
	b := openDictMapBucket(t, false)
	defer b.Close()
	var batch []any
	for i := 0; i < 128; i++ {
		batch = append(batch, rec("cat", fmt.Sprint("v", i)))
	}
	appendRecords(t, b, batch[:100])
	appendRecords(t, b, append(batch[100:], rec("cat", "v0"))) // a value it holds takes no room
	n, err := b.AppendRecords(pyMarshal(t, []any{rec("cat", "v5"), rec("cat", "one more")}))
	if !errors.Is(err, ErrSchemaMismatch) || n != 0 || !strings.Contains(err.Error(), "holds at most 128 distinct values") {
		t.Fatalf("AppendRecords = %d, %v", n, err)
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	appendRecords(t, b, rec("cat", "one more"))
	if total, _, _, _ := b.Counts(); total != 1+129+1 {
		t.Fatalf("%d rows", total)
	}
}

func releaseArrays(as []arrow.Array) {
	for _, a := range as {
		a.Release()
	}
}
