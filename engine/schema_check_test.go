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

// nestedStruct is a struct type levels-1 structs deep around an int64: a
// field of it nests levels levels, as nestedDict(levels-1) does.
func nestedStruct(levels int) arrow.DataType {
	var t arrow.DataType = arrow.PrimitiveTypes.Int64
	for i := 0; i < levels-1; i++ {
		t = arrow.StructOf(arrow.Field{Name: fmt.Sprintf("l%d", i), Type: t, Nullable: true})
	}
	return t
}

// nullRow is one row of schema s, null in every field.
func nullRow(s *arrow.Schema) arrow.Record {
	b := array.NewRecordBuilder(memory.DefaultAllocator, s)
	defer b.Release()
	for _, f := range b.Fields() {
		f.AppendNull()
	}
	return b.NewRecord()
}

// TestArrowBatchesMeetTheSameNameAndDepthRules: an Arrow batch with a name
// Lance or Arrow cannot carry, nested too, or nested deeper than a record
// may be, is refused as a record would be - as the first batch and after
// others, strict or evolving - and leaves no trace.
func TestArrowBatchesMeetTheSameNameAndDepthRules(t *testing.T) {
	field := func(name string, typ arrow.DataType) arrow.Field {
		return arrow.Field{Name: name, Type: typ, Nullable: true}
	}
	id := field("id", arrow.PrimitiveTypes.Int64)
	cases := []struct {
		name   string
		field  arrow.Field
		err    error
		msg    string
		accept bool
	}{
		{"dotted", field("a.b", arrow.PrimitiveTypes.Int64), ErrInvalidArgument, `field name 'a.b': must be non-empty and without '.'`, false},
		{"empty", field("", arrow.PrimitiveTypes.Int64), ErrInvalidArgument, `field name '': must be non-empty`, false},
		{"NUL", field("a\x00b", arrow.PrimitiveTypes.Int64), ErrInvalidArgument, `field name 'a\\x00b': must not contain NUL`, false},
		{"nested dotted", field("s", arrow.StructOf(field("x.y", arrow.PrimitiveTypes.Int64))), ErrInvalidArgument, `field name 'x.y' in 's'`, false},
		{"nested in a list", field("l", arrow.ListOf(arrow.StructOf(field("", arrow.PrimitiveTypes.Int64)))), ErrInvalidArgument, `field name '' in 'l\[\]'`, false},
		{"at the limit", field("deep", nestedStruct(maxNesting)), nil, "", true},
		{"past the limit", field("deep", nestedStruct(maxNesting+1)), ErrType, `field 'deep(\.l\d+)+': cannot store a value nested more than 62 levels deep`, false},
		{"a list at the limit", field("deep", arrow.ListOf(nestedStruct(maxListNesting-1))), nil, "", true},
		{"a list past the limit", field("deep", arrow.ListOf(nestedStruct(maxListNesting))), ErrType, `nested more than 32 levels deep \(Lance's limit with a list inside\)`, false},
	}
	for _, evolve := range []bool{false, true} {
		for _, first := range []bool{true, false} {
			for _, c := range cases {
				if !first && !evolve {
					continue // a strict bucket refuses any new field
				}
				t.Run(fmt.Sprintf("evolve=%v/first=%v/%s", evolve, first, c.name), func(t *testing.T) {
					b, err := Open(Options{Path: t.TempDir(), FlushThreshold: 100, SchemaEvolution: evolve, Logger: t.Logf})
					if err != nil {
						t.Fatal(err)
					}
					defer b.Close()
					fields := []arrow.Field{c.field}
					if !first {
						row := nullRow(arrow.NewSchema([]arrow.Field{id}, nil))
						err := b.Append(row)
						row.Release()
						if err != nil {
							t.Fatal(err)
						}
						if err := b.Flush(); err != nil {
							t.Fatal(err)
						}
						fields = append([]arrow.Field{id}, c.field)
					}
					before := bucketTrace(t, b)
					row := nullRow(arrow.NewSchema(fields, nil))
					defer row.Release()
					err = b.Append(row)
					if c.accept {
						if err != nil {
							t.Fatal(err)
						}
						if err := b.Flush(); err != nil { // and Lance writes it
							t.Fatal(err)
						}
						return
					}
					if !errors.Is(err, c.err) || !regexp.MustCompile(c.msg).MatchString(err.Error()) {
						t.Fatalf("Append: %v, want %v matching %q", err, c.err, c.msg)
					}
					if after := bucketTrace(t, b); after != before {
						t.Fatalf("a refused batch left a trace:\n before %s\n after  %s", before, after)
					}
				})
			}
		}
	}
}

// TestAdmitStrict: a strict bucket takes Arrow columns by name, widens
// narrower ones without loss and fills missing nullable fields with nulls;
// anything else is refused naming the field.
func TestAdmitStrict(t *testing.T) {
	want := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	col := func(name string, typ arrow.DataType, nullable bool) arrow.Field {
		return arrow.Field{Name: name, Type: typ, Nullable: nullable}
	}
	cases := []struct {
		name   string
		fields []arrow.Field
		null   bool // the row is null in every field (else values)
		msg    string
	}{
		{"same", want.Fields(), false, ""},
		{"reordered, int32 and float32 widened, s missing",
			[]arrow.Field{col("x", arrow.PrimitiveTypes.Float32, true), col("id", arrow.PrimitiveTypes.Int32, false)}, false, ""},
		{"large_string into string", []arrow.Field{col("s", arrow.BinaryTypes.LargeString, true), col("id", arrow.PrimitiveTypes.Int64, false)}, false, ""},
		{"a field the bucket lacks", []arrow.Field{col("id", arrow.PrimitiveTypes.Int64, false), col("new", arrow.PrimitiveTypes.Int64, true)}, false,
			`field 'new' is not in this bucket's schema \(fields: id, x, s\)`},
		{"another type", []arrow.Field{col("id", arrow.BinaryTypes.String, false)}, false, `field "id": expected int64, found utf8`},
		{"int64 into a float64 field, exact", []arrow.Field{col("id", arrow.PrimitiveTypes.Int64, false), col("x", arrow.PrimitiveTypes.Int64, true)}, false, ``},
		{"a missing field that is not nullable", []arrow.Field{col("x", arrow.PrimitiveTypes.Float64, true)}, false, `field 'id' is missing; it is not nullable`},
		{"nulls in a field that is not nullable", []arrow.Field{col("id", arrow.PrimitiveTypes.Int64, true)}, true, `field 'id': expected values \(not nullable\), found 1 nulls`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := arrow.NewSchema(c.fields, nil)
			bld := array.NewRecordBuilder(memory.DefaultAllocator, s)
			defer bld.Release()
			for _, f := range bld.Fields() {
				if c.null {
					f.AppendNull()
					continue
				}
				switch b := f.(type) {
				case *array.Int64Builder:
					b.Append(1 << 40)
				case *array.Int32Builder:
					b.Append(7)
				case *array.Float32Builder:
					b.Append(0.5)
				case *array.Float64Builder:
					b.Append(0.25)
				case *array.StringBuilder:
					b.Append("v")
				case *array.LargeStringBuilder:
					b.Append("v")
				}
			}
			rec := bld.NewRecord()
			defer rec.Release()
			_, got, err := admitStrict(want, rec, memory.DefaultAllocator)
			if c.msg != "" {
				if err == nil || !errors.Is(err, ErrSchemaMismatch) || !regexp.MustCompile(c.msg).MatchString(err.Error()) {
					t.Fatalf("admitStrict: %v, want ErrSchemaMismatch matching %q", err, c.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer got.Release()
			if !got.Schema().Equal(want) {
				t.Fatalf("schema %v", got.Schema())
			}
			if s := got.Column(2); c.name == "large_string into string" && (s.Len() != 1 || s.(*array.String).Value(0) != "v") {
				t.Fatalf("s = %v", s)
			}
		})
	}
}

// TestArrowTypesAnUntypedField: on a strict bucket, an Arrow column types a
// field records left untyped (as a record's value would), converting the
// buffered rows; CheckSchema agrees beforehand.
func TestArrowTypesAnUntypedField(t *testing.T) {
	b, err := Open(Options{Path: t.TempDir(), FlushThreshold: 100, Logger: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	appendRecords(t, b, rec("id", 1, "note", nil))
	row := batch(t, "note", "x", "id", int64(2))
	defer row.Release()
	if err := b.CheckSchema(row.Schema()); err != nil {
		t.Fatal(err)
	}
	if err := b.Append(row); err != nil {
		t.Fatal(err)
	}
	s, _ := b.Schema()
	if got := schemaText(s); got != "id: int64, note: string" {
		t.Fatalf("schema %q", got)
	}
	if got := strings.Join(rowsOf(t, b), "|"); got != "id=1 note=(null) |id=2 note=x " {
		t.Fatalf("rows %q", got)
	}
}

// TestArrowNullColumnsAreUntyped: an Arrow column of type null is an untyped
// field, as a record's None: taken, then stored as a null column by a strict
// bucket's flush or left out of an evolving bucket's dataset. A null type
// inside a nested column is written as it is, as pylance writes it.
func TestArrowNullColumnsAreUntyped(t *testing.T) {
	for _, c := range []struct {
		evolve          bool
		schema, dataset string
	}{{false, "id: int64, a: null", "id: int64, a: null"}, {true, "id: int64, a: null", "id: int64"}} {
		b, err := Open(Options{Path: t.TempDir(), FlushThreshold: 100, SchemaEvolution: c.evolve, Logger: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		row := nullRow(arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, {Name: "a", Type: arrow.Null, Nullable: true}}, nil))
		if err := b.Append(row); err != nil {
			t.Fatal(err)
		}
		row.Release()
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
		if s, _ := b.Schema(); schemaText(s) != c.schema {
			t.Fatalf("evolve=%v: schema %q, want %q", c.evolve, schemaText(s), c.schema)
		}
		if got := schemaText(b.dataset.Schema()); got != c.dataset {
			t.Fatalf("evolve=%v: dataset schema %q, want %q", c.evolve, got, c.dataset)
		}
		if c.evolve {
			nested := nullRow(arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.StructOf(arrow.Field{Name: "x", Type: arrow.Null, Nullable: true}), Nullable: true}}, nil))
			if err := b.Append(nested); err != nil {
				t.Fatalf("a null type in a struct: %v", err)
			}
			nested.Release()
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
			if s, _ := b.Schema(); schemaText(s) != "id: int64, a: null, s: struct<x: null>" {
				t.Fatalf("schema %q after a struct with a null field", schemaText(s))
			}
		}
		b.Close()
	}
}
