package lance

import (
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/schema"
)

// TestCheckNullsNow: rows checked against the schema a flush read are checked
// again against a version pylance committed since, where a field may have
// been made not nullable.
func TestCheckNullsNow(t *testing.T) {
	field := func(id, parent int32, name string, nullable bool) schema.Field {
		return schema.Field{ID: id, ParentID: parent, Name: name, Nullable: nullable}
	}
	read := []schema.Field{field(0, -1, "id", true), field(1, -1, "s", true), field(2, 1, "a", true)}
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "s", Type: arrow.StructOf(arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true}), Nullable: true},
	}, nil))
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2}, []bool{true, false})
	st := b.Field(1).(*array.StructBuilder)
	st.AppendValues([]bool{true, true})
	st.FieldBuilder(0).(*array.Int64Builder).AppendValues([]int64{1, 2}, nil)
	rec := b.NewRecord()
	defer rec.Release()
	cases := []struct {
		name string
		now  []schema.Field
		says string // "" when the rows may be written
	}{
		{"unchanged", read, ""},
		{"a column without nulls made not nullable", []schema.Field{field(0, -1, "id", true), field(1, -1, "s", false), field(2, 1, "a", true)}, ""},
		{"a column with a null made not nullable", []schema.Field{field(0, -1, "id", false), field(1, -1, "s", true), field(2, 1, "a", true)},
			`field "id" is not nullable but has 1 nulls`},
		{"a nested field made not nullable", []schema.Field{field(0, -1, "id", true), field(1, -1, "s", true), field(2, 1, "a", false)},
			`field "a" was made not nullable concurrently`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := checkNullsNow(read, c.now, []arrow.Record{rec})
			switch {
			case c.says == "" && err != nil:
				t.Fatal(err)
			case c.says != "" && (!errors.Is(err, ErrSchemaMismatch) || !strings.Contains(err.Error(), c.says)):
				t.Fatalf("got %v, want %q", err, c.says)
			}
		})
	}
}
