package engine

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestOtherOffsetWidthsAppend: a column of the other offset width (large_list
// for list, list for large_list, large_utf8 inside a struct or a list or a
// map) goes into the bucket's field, sliced or not, with or without schema
// evolution, and reads back the same values in the field's type, buffered and
// flushed; a list column into a field of another item type is refused.
func TestOtherOffsetWidthsAppend(t *testing.T) {
	largeStruct := arrow.StructOf(arrow.Field{Name: "s", Type: arrow.BinaryTypes.LargeString, Nullable: true})
	smallStruct := arrow.StructOf(arrow.Field{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true})
	const lists = `[[1, 2], null, [], [3, null], [4]]`
	const structs = `[{"s": "a"}, null, {"s": null}, {"s": "dd"}, {"s": ""}]`
	const textLists = `[["a", null], null, [], ["bb"], ["c", "d"]]`
	const maps = `[[{"key": "a", "value": 1}], null, [], [{"key": "b", "value": null}], []]`
	tests := []struct {
		name       string
		field, got arrow.DataType
		json       string
		evolution  bool
	}{
		{"large_list into list", arrow.ListOf(arrow.PrimitiveTypes.Int64), arrow.LargeListOf(arrow.PrimitiveTypes.Int64), lists, false},
		{"list into large_list", arrow.LargeListOf(arrow.PrimitiveTypes.Int64), arrow.ListOf(arrow.PrimitiveTypes.Int64), lists, false},
		{"large_list into list, evolving", arrow.ListOf(arrow.PrimitiveTypes.Int64), arrow.LargeListOf(arrow.PrimitiveTypes.Int64), lists, true},
		{"large_utf8 in a struct", smallStruct, largeStruct, structs, false},
		{"large_list of large_utf8 into list of utf8", arrow.ListOf(arrow.BinaryTypes.String), arrow.LargeListOf(arrow.BinaryTypes.LargeString), textLists, false},
		{"map of large_utf8 keys", arrow.MapOf(arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int64), arrow.MapOf(arrow.BinaryTypes.LargeString, arrow.PrimitiveTypes.Int64), maps, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Open(Options{Path: filepath.Join(t.TempDir(), "b"), FlushThreshold: 1000, SchemaEvolution: tt.evolution})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			first := layoutRecord(t, tt.field, tt.json)
			defer first.Release()
			if err := b.Append(first); err != nil {
				t.Fatal(err)
			}
			other := layoutRecord(t, tt.got, tt.json)
			defer other.Release()
			for _, rec := range []arrow.Record{other, other.NewSlice(1, 4)} {
				if err := b.Append(rec); err != nil {
					t.Fatalf("append %s into %s: %v", tt.got, tt.field, err)
				}
			}
			want := layoutJSON(t, []arrow.Record{first, first, first.NewSlice(1, 4)})
			for _, stage := range []string{"buffered", "flushed"} {
				sch, recs, err := b.Read(0, -1, memory.DefaultAllocator)
				if err != nil {
					t.Fatal(err)
				}
				if !arrow.TypeEqual(sch.Field(0).Type, tt.field) {
					t.Errorf("%s: the field is %s, want %s", stage, sch.Field(0).Type, tt.field)
				}
				if got := layoutJSON(t, recs); got != want {
					t.Errorf("%s: read %s, want %s", stage, got, want)
				}
				releaseAll(recs)
				if err := b.Flush(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}

	t.Run("another item type is refused", func(t *testing.T) {
		b := openBucket(t, filepath.Join(t.TempDir(), "b"), 1000)
		defer b.Close()
		first := layoutRecord(t, arrow.ListOf(arrow.PrimitiveTypes.Int64), lists)
		defer first.Release()
		if err := b.Append(first); err != nil {
			t.Fatal(err)
		}
		other := layoutRecord(t, arrow.LargeListOf(arrow.BinaryTypes.String), textLists)
		defer other.Release()
		if err := b.Append(other); err == nil || !strings.Contains(err.Error(), `"c"`) {
			t.Fatalf("a list of strings into a list of int64: %v", err)
		}
	})
}

// layoutRecord is a one-column record {c: type} of the JSON values.
func layoutRecord(t *testing.T, dt arrow.DataType, values string) arrow.Record {
	t.Helper()
	arr, _, err := array.FromJSON(memory.DefaultAllocator, dt, strings.NewReader(values))
	if err != nil {
		t.Fatal(err)
	}
	defer arr.Release()
	sch := arrow.NewSchema([]arrow.Field{{Name: "c", Type: dt, Nullable: true}}, nil)
	return array.NewRecord(sch, []arrow.Array{arr}, int64(arr.Len()))
}

// layoutJSON renders the rows of recs, whatever their offset widths.
func layoutJSON(t *testing.T, recs []arrow.Record) string {
	t.Helper()
	var rows []any
	for _, rec := range recs {
		text, err := json.Marshal(rec.Column(0))
		if err != nil {
			t.Fatal(err)
		}
		var vals []any
		if err := json.Unmarshal(text, &vals); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, vals...)
	}
	out, _ := json.Marshal(rows)
	return string(out)
}
