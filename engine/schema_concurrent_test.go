package engine

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

// TestWithAddedFields: a bucket takes a schema pylance changed under it only
// when the change added nullable fields after the stored ones.
func TestWithAddedFields(t *testing.T) {
	i64, f64, str := arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Float64, arrow.BinaryTypes.String
	field := func(name string, typ arrow.DataType) arrow.Field {
		return arrow.Field{Name: name, Type: typ, Nullable: true}
	}
	schema := func(fs ...arrow.Field) *arrow.Schema { return arrow.NewSchema(fs, nil) }
	stored := schema(field("id", i64), field("s", str))
	cases := []struct {
		name           string
		bucket, latest *arrow.Schema
		want           *arrow.Schema // nil: not taken
	}{
		{"added", stored, schema(field("id", i64), field("s", str), field("g", f64)),
			schema(field("id", i64), field("s", str), field("g", f64))},
		{"bucket-only fields stay, after the added ones",
			schema(field("id", i64), field("u", arrow.Null), field("s", str), field("h", str)),
			schema(field("id", i64), field("s", str), field("g", f64)),
			schema(field("id", i64), field("s", str), field("g", f64), field("u", arrow.Null), field("h", str))},
		{"an untyped field takes the added type", schema(field("id", i64), field("s", str), field("g", arrow.Null)),
			schema(field("id", i64), field("s", str), field("g", f64)),
			schema(field("id", i64), field("s", str), field("g", f64))},
		{"an unstored field of another type", schema(field("id", i64), field("s", str), field("g", str)),
			schema(field("id", i64), field("s", str), field("g", f64)), nil},
		{"nothing added", stored, stored, nil},
		{"renamed", stored, schema(field("id", i64), field("s2", str), field("g", f64)), nil},
		{"cast", stored, schema(field("id", f64), field("s", str), field("g", f64)), nil},
		{"dropped and added", stored, schema(field("id", i64), field("g", f64)), nil},
		{"added not nullable", stored, schema(field("id", i64), field("s", str), arrow.Field{Name: "g", Type: f64}), nil},
		{"nullability changed", stored, schema(field("id", i64), arrow.Field{Name: "s", Type: str}, field("g", f64)), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := withAddedFields(c.bucket, stored, c.latest)
			switch {
			case c.want == nil && ok:
				t.Fatalf("taken: %v", got)
			case c.want != nil && (!ok || !got.Equal(c.want)):
				t.Fatalf("got %v (%v), want %v", got, ok, c.want)
			}
		})
	}
}
