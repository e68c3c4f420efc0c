package engine

import (
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestRequiredValues: a null where the schema says "not nullable" is refused
// at every depth, naming the path; a null below a null struct or list is no
// value the row stores, so it is fine.
func TestRequiredValues(t *testing.T) {
	i32 := arrow.PrimitiveTypes.Int32
	required := func(name string, typ arrow.DataType) arrow.Field { return arrow.Field{Name: name, Type: typ} }
	optional := func(name string, typ arrow.DataType) arrow.Field {
		return arrow.Field{Name: name, Type: typ, Nullable: true}
	}
	pair := arrow.StructOf(required("a", i32), optional("b", i32))
	tests := []struct {
		name  string
		field arrow.Field
		json  string
		slice [2]int64 // rows kept; zero: all
		want  string   // "" when admitted
	}{
		{"all nullable", optional("s", arrow.StructOf(optional("a", i32))), `[{"a": null}, null]`, [2]int64{}, ""},
		{"top level", required("id", i32), `[1, null, 3]`, [2]int64{}, `field 'id': expected values (not nullable), found 1 nulls`},
		{"struct child under a valid struct", optional("p", pair), `[{"a": 1, "b": null}, {"a": null, "b": 2}]`, [2]int64{},
			`field 'p.a': expected values (not nullable), found 1 nulls`},
		{"struct child under a null struct", optional("p", pair), `[{"a": 1, "b": null}, null]`, [2]int64{}, ""},
		{"sliced past the null", optional("p", pair), `[{"a": null, "b": 2}, {"a": 1, "b": 1}]`, [2]int64{1, 2}, ""},
		{"list item", optional("l", arrow.ListOfField(required("item", i32))), `[[1, 2], null, [], [3, null]]`, [2]int64{},
			`field 'l[]': expected values (not nullable), found 1 nulls`},
		{"list items all present", optional("l", arrow.ListOfField(required("item", i32))), `[[1, 2], null, []]`, [2]int64{}, ""},
		{"struct in a list", optional("l", arrow.ListOfField(optional("item", pair))), `[[{"a": 1, "b": 1}, null], [{"a": null, "b": 1}]]`, [2]int64{},
			`field 'l[].a'`},
		{"struct in a list, null struct", optional("l", arrow.ListOfField(optional("item", pair))), `[[{"a": 1, "b": 1}, null]]`, [2]int64{}, ""},
		{"fixed_size_list item", optional("v", arrow.FixedSizeListOfField(2, required("item", arrow.PrimitiveTypes.Float32))),
			`[[1, 2], null, [3, null]]`, [2]int64{}, `field 'v[]'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			arr, _, err := array.FromJSON(memory.DefaultAllocator, tt.field.Type, strings.NewReader(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			defer arr.Release()
			rec := array.NewRecord(arrow.NewSchema([]arrow.Field{tt.field}, nil), []arrow.Array{arr}, int64(arr.Len()))
			defer rec.Release()
			if tt.slice != [2]int64{} {
				rec = rec.NewSlice(tt.slice[0], tt.slice[1])
				defer rec.Release()
			}
			err = checkRequiredValues(rec)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (!errors.Is(err, ErrSchemaMismatch) || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("err = %v, want ErrSchemaMismatch saying %q", err, tt.want)
			}
			// A bucket of this schema, with or without schema evolution,
			// takes the record or refuses it alike, keeping nothing of a
			// refused one.
			for _, evolve := range []bool{false, true} {
				b, err := Open(Options{Path: t.TempDir(), FlushThreshold: 1000, SchemaEvolution: evolve})
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
				if err := b.Append(rec); (err == nil) != (tt.want == "") {
					t.Fatalf("evolve %v: Append: %v", evolve, err)
				}
				if s, _ := b.Stats(); s.BufferCount != map[bool]int64{true: rec.NumRows(), false: 0}[tt.want == ""] {
					t.Fatalf("evolve %v: %d rows buffered", evolve, s.BufferCount)
				}
				if err := b.Flush(); err != nil {
					t.Fatalf("evolve %v: flush: %v", evolve, err)
				}
			}
		})
	}
}
