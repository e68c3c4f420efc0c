package engine

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// tensorField is a field of fixed_size_list<float32>[size], carrying the
// extension name and parameters in its metadata as the C Data Interface
// delivers an extension type (no name: a plain fixed-size list).
func tensorField(size int32, name, params string) arrow.Field {
	f := arrow.Field{Name: "obs", Type: arrow.FixedSizeListOf(size, arrow.PrimitiveTypes.Float32), Nullable: true}
	if name != "" {
		f.Metadata = arrow.NewMetadata([]string{extensionNameKey, extensionParamsKey}, []string{name, params})
	}
	return f
}

// tensorRow is one row of field f, its values 0, 1, ...
func tensorRow(f arrow.Field) arrow.Record {
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema([]arrow.Field{f}, nil))
	defer b.Release()
	lb := b.Field(0).(*array.FixedSizeListBuilder)
	lb.Append(true)
	for i := int32(0); i < f.Type.(*arrow.FixedSizeListType).Len(); i++ {
		lb.ValueBuilder().(*array.Float32Builder).Append(float32(i))
	}
	return b.NewRecord()
}

// TestColumnsFitOnlyFieldsOfTheirExtension: the storage type alone does not
// say what a value is (fixed_size_list<float>[6] holds a 2x3 tensor, a 3x2
// one, or six numbers), so a column must carry the field's extension and
// parameters, or neither; else it is refused naming both, and leaves no
// trace - strict or evolving, before and after a reopen.
func TestColumnsFitOnlyFieldsOfTheirExtension(t *testing.T) {
	const tensor = "arrow.fixed_shape_tensor"
	stored := tensorField(6, tensor, `{"shape":[2,3],"permutation":[0,1]}`)
	cases := []struct {
		name   string
		field  arrow.Field
		accept bool
	}{
		{"the same tensor", stored, true},
		{"the same tensor, parameters spelled otherwise", tensorField(6, tensor, `{ "shape": [2, 3] }`), true},
		{"another shape of as many values", tensorField(6, tensor, `{"shape":[3,2],"permutation":[0,1]}`), false},
		{"a flat tensor", tensorField(6, tensor, `{"shape":[6]}`), false},
		{"another permutation", tensorField(6, tensor, `{"shape":[2,3],"permutation":[1,0]}`), false},
		{"a plain fixed-size list", tensorField(6, "", ""), false},
		{"another extension", tensorField(6, "my.vector", `{"shape":[2,3]}`), false},
	}
	for _, evolve := range []bool{false, true} {
		for _, reopen := range []bool{false, true} {
			for _, c := range cases {
				t.Run(fmt.Sprintf("evolve=%v/reopen=%v/%s", evolve, reopen, c.name), func(t *testing.T) {
					opts := Options{Path: t.TempDir(), FlushThreshold: 100, SchemaEvolution: evolve, Logger: t.Logf}
					b, err := Open(opts)
					if err != nil {
						t.Fatal(err)
					}
					defer func() { b.Close() }()
					first := tensorRow(stored)
					defer first.Release()
					if err := b.Append(first); err != nil {
						t.Fatal(err)
					}
					if reopen {
						if err := b.Close(); err != nil {
							t.Fatal(err)
						}
						if b, err = Open(opts); err != nil {
							t.Fatal(err)
						}
					}
					before := bucketTrace(t, b)
					row := tensorRow(c.field)
					defer row.Release()
					err = b.Append(row)
					if c.accept {
						if err != nil {
							t.Fatal(err)
						}
						if err := b.Flush(); err != nil {
							t.Fatal(err)
						}
						return
					}
					want := fmt.Sprintf(`field "obs": expected %s, found %s`, fieldTypeText(stored), fieldTypeText(c.field))
					if !errors.Is(err, ErrSchemaMismatch) || !strings.Contains(err.Error(), want) {
						t.Fatalf("Append: %v, want ErrSchemaMismatch with %q", err, want)
					}
					if after := bucketTrace(t, b); after != before {
						t.Fatalf("a refused batch left a trace:\n before %s\n after  %s", before, after)
					}
				})
			}
		}
	}
}

// TestRecordsKeepTheFieldsExtensions: a record that evolves an evolving
// bucket's schema (a new field) keeps the extension of the fields it leaves
// alone, so the same tensors are still taken after it - flushed or not.
func TestRecordsKeepTheFieldsExtensions(t *testing.T) {
	stored := tensorField(6, "arrow.fixed_shape_tensor", `{"shape":[2,3]}`)
	for _, flush := range []bool{false, true} {
		t.Run(fmt.Sprintf("flush=%v", flush), func(t *testing.T) {
			b, err := Open(Options{Path: t.TempDir(), FlushThreshold: 100, SchemaEvolution: true, Logger: t.Logf})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			row := tensorRow(stored)
			defer row.Release()
			if err := b.Append(row); err != nil {
				t.Fatal(err)
			}
			if _, err := b.AppendRecords(pyMarshal(t, rec("step", int64(1)))); err != nil {
				t.Fatal(err)
			}
			if flush {
				if err := b.Flush(); err != nil {
					t.Fatal(err)
				}
			}
			s, err := b.Schema()
			if err != nil {
				t.Fatal(err)
			}
			if got := fieldTypeText(s.Field(0)); got != fieldTypeText(stored) {
				t.Fatalf("after a record: field obs is %s, want %s", got, fieldTypeText(stored))
			}
			if err := b.Append(row); err != nil {
				t.Fatalf("the same tensor after a record: %v", err)
			}
		})
	}
}
