package schema

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

func TestFieldProtoRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		f    Field
	}{
		{"zero", Field{}},
		{"top-level", Field{ID: 0, ParentID: -1, Name: "x", LogicalType: "int64", Nullable: true, Encoding: EncodingPlain}},
		{"child-of-0", Field{ID: 3, ParentID: 0, Name: "a", LogicalType: "string", Encoding: EncodingVarBinary}},
		{"metadata", Field{ID: 7, ParentID: -1, Name: "m", LogicalType: "double", Metadata: map[string][]byte{"a": []byte("1"), "b": {}, "lance-encoding:compression": []byte("zstd")}}},
		{"all-members", Field{ID: 9, ParentID: 2, Name: "é", LogicalType: "timestamp:us:UTC", Nullable: true, Encoding: 3, Type: 2,
			ExtensionName: "ext", HasDictionary: true, DictionaryOffset: 5, DictionaryLength: 6, UnenforcedPrimaryKey: true,
			PrimaryKeyPosition: 2, UnenforcedClusteringKey: true, ClusteringKeyPosition: 1}},
		{"unknown-field", Field{ID: 1, ParentID: -1, Name: "u", LogicalType: "bool", Unknown: []byte{0xa0, 0x01, 0x05}}}, // field 20 varint 5
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := MarshalField(tc.f)
			got, err := UnmarshalField(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.f) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, tc.f)
			}
			if b2 := MarshalField(got); !bytes.Equal(b, b2) {
				t.Fatalf("re-marshal differs: %x vs %x", b, b2)
			}
		})
	}
}

func TestParentIDMinusOneIsExplicit(t *testing.T) {
	b := MarshalField(Field{ParentID: -1})
	// tag 4 varint, then the 10-byte two's complement encoding of -1.
	want := []byte{0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}
	if !bytes.Equal(b, want) {
		t.Fatalf("got %x want %x", b, want)
	}
}

func TestSchemaProtoRoundTrip(t *testing.T) {
	fields := []Field{
		{ID: 0, ParentID: -1, Name: "a", LogicalType: "struct", Nullable: true},
		{ID: 1, ParentID: 0, Name: "b", LogicalType: "int32", Nullable: true, Encoding: EncodingPlain},
	}
	for _, md := range []map[string][]byte{nil, {"k": []byte("v"), "z": []byte("")}} {
		b := MarshalSchema(fields, md)
		gf, gm, err := UnmarshalSchema(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gf, fields) || !reflect.DeepEqual(gm, md) {
			t.Fatalf("got %+v %v", gf, gm)
		}
	}
}

func TestUnmarshalMalformed(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
	}{
		{"truncated-tag", []byte{0x80}},
		{"truncated-varint", []byte{0x18, 0xff}},
		{"truncated-bytes", []byte{0x12, 0x05, 'a'}},
		{"name-as-varint", []byte{0x10, 0x01}},
		{"id-as-bytes", []byte{0x1a, 0x00}},
		{"bad-metadata-entry", []byte{0x52, 0x02, 0x08, 0x01}},
		{"group", []byte{0x0b}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := UnmarshalField(tc.b); err == nil {
				t.Fatal("want error")
			}
			// the same bytes wrapped as a Schema.fields entry must also fail
			var s []byte
			s = append(s, 0x0a, byte(len(tc.b)))
			s = append(s, tc.b...)
			if _, _, err := UnmarshalSchema(s); err == nil {
				t.Fatal("want schema error")
			}
		})
	}
}

func nestedSchema() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "st", Type: arrow.StructOf(
			arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
			arrow.Field{Name: "b", Type: arrow.BinaryTypes.String, Nullable: true}), Nullable: true},
		{Name: "l", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		{Name: "v", Type: arrow.FixedSizeListOf(4, arrow.PrimitiveTypes.Float32), Nullable: true},
	}, nil)
}

func TestFromArrowPreOrderIDs(t *testing.T) {
	fields, err := FromArrow(nestedSchema(), 10)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		id, parent int32
		name, lt   string
	}
	want := []row{{10, -1, "id", "int64"}, {11, -1, "st", "struct"}, {12, 11, "a", "int32"}, {13, 11, "b", "string"},
		{14, -1, "l", "list"}, {15, 14, "item", "string"}, {16, -1, "v", "fixed_size_list:float:4"}}
	if len(fields) != len(want) {
		t.Fatalf("got %d fields", len(fields))
	}
	for i, w := range want {
		f := fields[i]
		if f.ID != w.id || f.ParentID != w.parent || f.Name != w.name || f.LogicalType != w.lt {
			t.Errorf("field %d: got %+v want %+v", i, f, w)
		}
	}
	if MaxID(fields) != 16 || MaxID(nil) != -1 {
		t.Errorf("MaxID = %d", MaxID(fields))
	}
}

func TestArrowRoundTrip(t *testing.T) {
	md := arrow.NewMetadata([]string{"a"}, []string{"1"})
	tests := []struct {
		name string
		s    *arrow.Schema
	}{
		{"four-types", arrow.NewSchema([]arrow.Field{
			{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
			{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
			{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
			{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
			{Name: "nn", Type: arrow.PrimitiveTypes.Int64},
		}, nil)},
		{"other-leaves", arrow.NewSchema([]arrow.Field{
			{Name: "i8", Type: arrow.PrimitiveTypes.Int8}, {Name: "i16", Type: arrow.PrimitiveTypes.Int16},
			{Name: "i32", Type: arrow.PrimitiveTypes.Int32}, {Name: "u8", Type: arrow.PrimitiveTypes.Uint8},
			{Name: "u16", Type: arrow.PrimitiveTypes.Uint16}, {Name: "u32", Type: arrow.PrimitiveTypes.Uint32},
			{Name: "u64", Type: arrow.PrimitiveTypes.Uint64}, {Name: "f32", Type: arrow.PrimitiveTypes.Float32},
			{Name: "f16", Type: arrow.FixedWidthTypes.Float16},
			{Name: "ls", Type: arrow.BinaryTypes.LargeString}, {Name: "bin", Type: arrow.BinaryTypes.Binary},
			{Name: "lbin", Type: arrow.BinaryTypes.LargeBinary}, {Name: "null", Type: arrow.Null, Nullable: true},
			{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond}},
			{Name: "tsz", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "+05:30"}},
			{Name: "d32", Type: arrow.FixedWidthTypes.Date32}, {Name: "d64", Type: arrow.FixedWidthTypes.Date64},
			{Name: "t32", Type: arrow.FixedWidthTypes.Time32ms}, {Name: "t64", Type: arrow.FixedWidthTypes.Time64ns},
			{Name: "dur", Type: arrow.FixedWidthTypes.Duration_s},
			{Name: "dec", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}},
			{Name: "dec256", Type: &arrow.Decimal256Type{Precision: 50, Scale: 3}},
			{Name: "fsb", Type: &arrow.FixedSizeBinaryType{ByteWidth: 16}},
			{Name: "fslts", Type: arrow.FixedSizeListOfField(2, arrow.Field{Name: "item", Type: &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}, Nullable: true})},
		}, nil)},
		{"metadata", arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int32, Nullable: true, Metadata: md}}, &md)},
		{"nested", nestedSchema()},
		{"matrices", arrow.NewSchema([]arrow.Field{
			{Name: "m", Type: arrow.FixedSizeListOfField(2, arrow.Field{Name: "item", Nullable: true,
				Type: arrow.FixedSizeListOfField(3, arrow.Field{Name: "item", Type: arrow.PrimitiveTypes.Float32, Nullable: true})}), Nullable: true},
			{Name: "lm", Type: arrow.ListOfField(arrow.Field{Name: "item", Nullable: true, Type: arrow.FixedSizeListOfField(2, arrow.Field{Name: "item", Nullable: true,
				Type: arrow.FixedSizeListOfField(2, arrow.Field{Name: "item", Type: arrow.PrimitiveTypes.Int16, Nullable: true})})}), Nullable: true},
		}, nil)},
		{"list-struct", arrow.NewSchema([]arrow.Field{
			{Name: "ls", Type: arrow.LargeListOf(arrow.StructOf(arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Int64, Nullable: true})), Nullable: true},
		}, nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fields, err := FromArrow(tc.s, 0)
			if err != nil {
				t.Fatal(err)
			}
			// through the protobuf too, as the manifest and file code will do
			b := MarshalSchema(fields, MetadataFromArrow(tc.s))
			f2, md2, err := UnmarshalSchema(b)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ToArrowWithMetadata(f2, md2)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tc.s) || !reflect.DeepEqual(got.Metadata(), tc.s.Metadata()) {
				t.Fatalf("round trip:\n got %v\nwant %v", got, tc.s)
			}
			for i, f := range got.Fields() {
				if !reflect.DeepEqual(f.Metadata, tc.s.Field(i).Metadata) {
					t.Fatalf("field %s metadata %v", f.Name, f.Metadata)
				}
			}
		})
	}
}

var jsonTag = arrow.NewMetadata([]string{"ARROW:extension:name", "ARROW:extension:metadata"}, []string{"arrow.json", ""})

func TestFromArrowErrors(t *testing.T) {
	tests := []struct {
		name, wantInErr string
		s               *arrow.Schema
	}{
		{"union", "un", arrow.NewSchema([]arrow.Field{{Name: "un", Type: arrow.SparseUnionOf(nil, nil)}}, nil)},
		{"nested-unsupported", "st.u", arrow.NewSchema([]arrow.Field{{Name: "st", Type: arrow.StructOf(arrow.Field{Name: "u", Type: arrow.DenseUnionOf(nil, nil)})}}, nil)},
		{"dot", "a.b", arrow.NewSchema([]arrow.Field{{Name: "a.b", Type: arrow.PrimitiveTypes.Int64}}, nil)},
		{"dup", "x", arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}, {Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)},
		// pylance reads a column tagged arrow.json as JSONB: text under the tag is unreadable to it
		{"json", "j", arrow.NewSchema([]arrow.Field{{Name: "j", Type: arrow.BinaryTypes.String, Metadata: jsonTag}}, nil)},
		{"json-in-list", "l.item", arrow.NewSchema([]arrow.Field{{Name: "l", Type: arrow.ListOfField(
			arrow.Field{Name: "item", Type: arrow.BinaryTypes.String, Nullable: true, Metadata: jsonTag})}}, nil)},
		{"lance-json", "j", arrow.NewSchema([]arrow.Field{{Name: "j", Type: arrow.BinaryTypes.LargeBinary,
			Metadata: arrow.NewMetadata([]string{"ARROW:extension:name"}, []string{"lance.json"})}}, nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromArrow(tc.s, 0)
			if err == nil || !strings.Contains(err.Error(), `"`+tc.wantInErr+`"`) {
				t.Fatalf("err = %v, want mention of %q", err, tc.wantInErr)
			}
		})
	}
}

func TestToArrowErrors(t *testing.T) {
	tests := []struct {
		name   string
		fields []Field
	}{
		{"unknown-type", []Field{{ID: 0, ParentID: -1, Name: "x", LogicalType: "int128"}}},
		{"bad-timestamp", []Field{{ID: 0, ParentID: -1, Name: "x", LogicalType: "timestamp:xs:-"}}},
		{"bad-fsl", []Field{{ID: 0, ParentID: -1, Name: "x", LogicalType: "fixed_size_list:float:x"}}},
		{"bad-decimal", []Field{{ID: 0, ParentID: -1, Name: "x", LogicalType: "decimal:128:99:1"}}},
		{"child-first", []Field{{ID: 1, ParentID: 0, Name: "c", LogicalType: "int32"}, {ID: 0, ParentID: -1, Name: "p", LogicalType: "struct"}}},
		{"dup-id", []Field{{ID: 0, ParentID: -1, Name: "a", LogicalType: "int32"}, {ID: 0, ParentID: -1, Name: "b", LogicalType: "int32"}}},
		{"list-no-child", []Field{{ID: 0, ParentID: -1, Name: "l", LogicalType: "list"}}},
		{"leaf-with-child", []Field{{ID: 0, ParentID: -1, Name: "l", LogicalType: "int64"}, {ID: 1, ParentID: 0, Name: "c", LogicalType: "int64"}}},
		{"self-parent", []Field{{ID: 0, ParentID: 0, Name: "l", LogicalType: "struct"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ToArrow(tc.fields); err == nil {
				t.Fatal("want error")
			}
		})
	}
}

// TestFixedSizeListOfStructRefused: pylance 2.2 writes fixed_size_list<struct>
// with the struct as the list's child field; the error names the column and
// the type, not "has children".
func TestFixedSizeListOfStructRefused(t *testing.T) {
	_, err := ToArrow([]Field{
		{ID: 0, ParentID: -1, Name: "c", LogicalType: "fixed_size_list:struct:2"},
		{ID: 1, ParentID: 0, Name: "item", LogicalType: "struct"},
		{ID: 2, ParentID: 1, Name: "a", LogicalType: "int32"},
	})
	want := `lance schema: field "c": fixed-size lists of struct (logical type "fixed_size_list:struct:2") are not supported`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}

// pythonCmd returns the interpreter used for pylance cross-checks. The tests
// fail (not skip) without it: CI installs pylance.
func pythonCmd() string {
	if p := os.Getenv("PYTHON"); p != "" {
		return p
	}
	return "python3"
}

// TestMatchesPylance checks that our protobuf bytes are identical to what
// pylance 14 embeds in a 2.0 file for the same Arrow schema.
func TestMatchesPylance(t *testing.T) {
	out, err := exec.Command(pythonCmd(), "testdata/pylance_schema.py").Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("running pylance (pip install pylance==14.0.3 pyarrow): %v\n%s", err, stderr)
	}
	var got map[string]string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	md := arrow.NewMetadata([]string{"k"}, []string{"v"})
	fmd := arrow.NewMetadata([]string{"a"}, []string{"1"})
	cases := map[string]*arrow.Schema{
		"prims": arrow.NewSchema([]arrow.Field{
			{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
			{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
			{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
			{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
			{Name: "nn", Type: arrow.PrimitiveTypes.Int64},
		}, &md),
		"ints": arrow.NewSchema([]arrow.Field{
			{Name: "i8", Type: arrow.PrimitiveTypes.Int8, Nullable: true}, {Name: "i16", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
			{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true}, {Name: "u8", Type: arrow.PrimitiveTypes.Uint8, Nullable: true},
			{Name: "u16", Type: arrow.PrimitiveTypes.Uint16, Nullable: true}, {Name: "u32", Type: arrow.PrimitiveTypes.Uint32, Nullable: true},
			{Name: "u64", Type: arrow.PrimitiveTypes.Uint64, Nullable: true}, {Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
			{Name: "ls", Type: arrow.BinaryTypes.LargeString, Nullable: true}, {Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
			{Name: "lbin", Type: arrow.BinaryTypes.LargeBinary, Nullable: true},
		}, nil),
		"meta": arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int32, Nullable: true, Metadata: fmd}}, nil),
		"temporal": arrow.NewSchema([]arrow.Field{
			{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
			{Name: "tsz", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}, Nullable: true},
			{Name: "d32", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
			{Name: "d64", Type: arrow.FixedWidthTypes.Date64, Nullable: true},
		}, nil),
		"nested": nestedSchema(),
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			h, ok := got[name]
			if !ok {
				t.Fatalf("python produced no %q", name)
			}
			want, _ := hex.DecodeString(h)
			fields, err := FromArrow(s, 0)
			if err != nil {
				t.Fatal(err)
			}
			mine := MarshalSchema(fields, MetadataFromArrow(s))
			if !bytes.Equal(mine, want) {
				pf, _, perr := UnmarshalSchema(want)
				t.Fatalf("bytes differ\n mine %x\n lance %x\n lance fields %+v (%v)\n mine fields %+v", mine, want, pf, perr, fields)
			}
			pf, pmd, err := UnmarshalSchema(want)
			if err != nil {
				t.Fatal(err)
			}
			back, err := ToArrowWithMetadata(pf, pmd)
			if err != nil {
				t.Fatal(err)
			}
			if !back.Equal(s) {
				t.Fatalf("ToArrow(pylance) = %v want %v", back, s)
			}
		})
	}
}

// TestTypeEqual: large_list types compare by value even after a timestamp
// inside cached its location (arrow.TypeEqual's DeepEqual fails there).
func TestTypeEqual(t *testing.T) {
	mk := func() arrow.DataType {
		return arrow.LargeListOfField(arrow.Field{Name: "item", Nullable: true, Type: arrow.StructOf(
			arrow.Field{Name: "t", Type: &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}, Nullable: true})})
	}
	a, b := mk(), mk()
	ts := a.(*arrow.LargeListType).Elem().(*arrow.StructType).Field(0).Type.(*arrow.TimestampType)
	if _, err := ts.GetToTimeFunc(); err != nil { // caches the location
		t.Fatal(err)
	}
	if !TypeEqual(a, b) {
		t.Fatal("equal large_list types compare unequal")
	}
	c := arrow.LargeListOfField(arrow.Field{Name: "item", Nullable: false, Type: a.(*arrow.LargeListType).Elem()})
	d := arrow.ListOfField(arrow.Field{Name: "item", Nullable: true, Type: a.(*arrow.LargeListType).Elem()})
	e := arrow.FixedSizeListOf(3, arrow.PrimitiveTypes.Float32)
	f := arrow.FixedSizeListOf(4, arrow.PrimitiveTypes.Float32)
	for _, p := range [][2]arrow.DataType{{a, c}, {a, d}, {e, f}, {a, nil}} {
		if TypeEqual(p[0], p[1]) {
			t.Errorf("%v == %v", p[0], p[1])
		}
	}
}
