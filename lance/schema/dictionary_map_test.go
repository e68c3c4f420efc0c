package schema

import (
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

// TestDictionaryAndMapFields checks the Lance fields of dictionary and map
// columns against what pylance 14 writes, and that they convert back to
// the same Arrow types.
func TestDictionaryAndMapFields(t *testing.T) {
	strMap := arrow.MapOf(arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int64)
	cases := []struct {
		name string
		typ  arrow.DataType
		want []Field // ids, parents, names, logical types, nullability, encodings
	}{
		{"dictionary of strings", &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String},
			[]Field{{ID: 0, ParentID: -1, Name: "c", LogicalType: "dict:string:int32:false", Nullable: true, Encoding: EncodingDictionary, HasDictionary: true}}},
		{"pandas categorical", &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String},
			[]Field{{ID: 0, ParentID: -1, Name: "c", LogicalType: "dict:string:int8:false", Nullable: true, Encoding: EncodingDictionary, HasDictionary: true}}},
		{"dictionary of integers", &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Uint16, ValueType: arrow.PrimitiveTypes.Int64},
			[]Field{{ID: 0, ParentID: -1, Name: "c", LogicalType: "dict:int64:uint16:false", Nullable: true, Encoding: EncodingDictionary, HasDictionary: true}}},
		{"map", strMap, []Field{
			{ID: 0, ParentID: -1, Name: "c", LogicalType: "map", Nullable: true, Encoding: EncodingPlain},
			{ID: 1, ParentID: 0, Name: "entries", LogicalType: "struct", Nullable: false},
			{ID: 2, ParentID: 1, Name: "key", LogicalType: "string", Nullable: false, Encoding: EncodingVarBinary},
			{ID: 3, ParentID: 1, Name: "value", LogicalType: "int64", Nullable: true, Encoding: EncodingPlain},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sch := arrow.NewSchema([]arrow.Field{{Name: "c", Type: tc.typ, Nullable: true}}, nil)
			got, err := FromArrow(sch, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d fields, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				g := got[i]
				if g.ID != w.ID || g.ParentID != w.ParentID || g.Name != w.Name || g.LogicalType != w.LogicalType ||
					g.Nullable != w.Nullable || g.Encoding != w.Encoding || g.HasDictionary != w.HasDictionary {
					t.Errorf("field %d: %+v, want %+v", i, g, w)
				}
			}
			back, err := ToArrow(got)
			if err != nil {
				t.Fatal(err)
			}
			if !arrow.TypeEqual(back.Field(0).Type, tc.typ) {
				t.Fatalf("back to arrow: %s, want %s", back.Field(0).Type, tc.typ)
			}
			// and through the manifest's protobuf
			again, _, err := UnmarshalSchema(MarshalSchema(got, nil))
			if err != nil {
				t.Fatal(err)
			}
			if again[0].LogicalType != tc.want[0].LogicalType || again[0].HasDictionary != tc.want[0].HasDictionary {
				t.Fatalf("protobuf round trip: %+v", again[0])
			}
		})
	}
}

// TestDictionaryAndMapErrors: types upstream cannot store, and malformed
// fields from disk, fail with an error naming the field.
func TestDictionaryAndMapErrors(t *testing.T) {
	sorted := arrow.MapOf(arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int64)
	sorted.KeysSorted = true
	for _, tc := range []struct {
		name string
		typ  arrow.DataType
		want string
	}{
		{"sorted map", sorted, "sorted keys"},
		{"dictionary of timestamps", &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: &arrow.TimestampType{Unit: arrow.Second}}, "not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromArrow(arrow.NewSchema([]arrow.Field{{Name: "c", Type: tc.typ}}, nil), 0)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `"c"`) {
				t.Fatalf("err = %v, want one naming \"c\" and %q", err, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name   string
		fields []Field
		want   string
	}{
		{"dictionary with three parts", []Field{{ID: 0, ParentID: -1, Name: "c", LogicalType: "dict:string:int32"}}, "malformed dictionary type"},
		{"dictionary with string indices", []Field{{ID: 0, ParentID: -1, Name: "c", LogicalType: "dict:string:string:false"}}, "indices must be an integer"},
		{"map without children", []Field{{ID: 0, ParentID: -1, Name: "c", LogicalType: "map"}}, "has 0 children"},
		{"map of a list", []Field{
			{ID: 0, ParentID: -1, Name: "c", LogicalType: "map"},
			{ID: 1, ParentID: 0, Name: "entries", LogicalType: "list"},
			{ID: 2, ParentID: 1, Name: "item", LogicalType: "int32"},
		}, "needs one child struct"},
		{"nullable keys", []Field{
			{ID: 0, ParentID: -1, Name: "c", LogicalType: "map"},
			{ID: 1, ParentID: 0, Name: "entries", LogicalType: "struct"},
			{ID: 2, ParentID: 1, Name: "key", LogicalType: "string", Nullable: true},
			{ID: 3, ParentID: 1, Name: "value", LogicalType: "int32", Nullable: true},
		}, "must not be nullable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ToArrow(tc.fields)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `"c"`) {
				t.Fatalf("err = %v, want one naming \"c\" and %q", err, tc.want)
			}
		})
	}
}
