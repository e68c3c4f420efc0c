package file

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/internal/arrowtest"
)

// readWhole reads every row of the file at path as sch.
func readWhole(t *testing.T, path string, sch *arrow.Schema) arrow.Record {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cols := make([]int, sch.NumFields())
	for i := range cols {
		cols[i] = i
	}
	rec, err := r.Read(sch, cols, 0, r.NumRows(), memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// sameColumns fails unless got's columns equal want, dictionaries included.
func sameColumns(t *testing.T, what string, want []arrow.Array, got arrow.Record) {
	t.Helper()
	for i, w := range want {
		g := got.Column(i)
		if !arrow.TypeEqual(g.DataType(), w.DataType()) || !array.Equal(g, w) {
			t.Fatalf("%s: column %d\n got %s %v\nwant %s %v", what, i, g.DataType(), trunc(g), w.DataType(), trunc(w))
		}
		if gd, ok := g.(*array.Dictionary); ok && !array.Equal(gd.Dictionary(), w.(*array.Dictionary).Dictionary()) {
			t.Fatalf("%s: column %d: dictionary %v, want %v", what, i, gd.Dictionary(), w.(*array.Dictionary).Dictionary())
		}
	}
}

// TestDictionaryMapPackedWithPylance: files pylance writes with dictionary,
// map and packed struct columns read as pylance reads them, and the
// dictionary and map files this package writes read in pylance exactly as
// they were written.
func TestDictionaryMapPackedWithPylance(t *testing.T) {
	str32 := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	str8 := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}
	i64 := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.PrimitiveTypes.Int64}
	packedMD := arrow.NewMetadata([]string{packedMetadataKey}, []string{"true"})
	packed := arrow.StructOf(arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		arrow.Field{Name: "b", Type: arrow.PrimitiveTypes.Float64, Nullable: true})
	mt := arrow.MapOf(arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int64)
	const n = 5000
	dicts := func(nulls bool) []arrow.Array {
		every := 0
		if nulls {
			every = 7
		}
		return []arrow.Array{
			dictArray(t, str32, []string{"red", "green", "blue", "unused"}, false, cycle(n, 3, every)),
			dictArray(t, str8, []string{"low", "mid", "high"}, false, cycle(n, 3, every)),
			dictArray(t, i64, []int64{40, -2, 7}, false, cycle(n, 3, 0)),
		}
	}
	dictFields := []arrow.Field{{Name: "s", Type: str32, Nullable: true}, {Name: "c", Type: str8, Nullable: true}, {Name: "i", Type: i64, Nullable: true}}
	packedCol := func(nulls bool) arrow.Array {
		// children without nulls (pylance packs only those), the struct's
		// own validity apart
		ab := array.NewInt32Builder(memory.DefaultAllocator)
		bb := array.NewFloat64Builder(memory.DefaultAllocator)
		defer ab.Release()
		defer bb.Release()
		valid := make([]byte, (n+7)/8)
		nullN := 0
		for i := 0; i < n; i++ {
			ab.Append(int32(i))
			bb.Append(float64(i) / 4)
			if nulls && i%9 == 4 {
				nullN++
			} else {
				valid[i/8] |= 1 << (i % 8)
			}
		}
		a, b := ab.NewArray(), bb.NewArray()
		defer a.Release()
		defer b.Release()
		s, err := array.NewStructArrayWithNulls([]arrow.Array{a, b}, []string{"a", "b"}, memory.NewBufferBytes(valid), nullN, 0)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	mapCol := func() arrow.Array {
		b := array.NewMapBuilder(memory.DefaultAllocator, arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int64, false)
		defer b.Release()
		for i := 0; i < n; i++ {
			if i%6 == 0 {
				b.AppendNull()
				continue
			}
			b.Append(true)
			for k := 0; k < i%3; k++ {
				b.KeyBuilder().(*array.StringBuilder).Append(fmt.Sprint("k", k))
				b.ItemBuilder().(*array.Int64Builder).Append(int64(i * k))
			}
		}
		return b.NewArray()
	}
	cases := []struct {
		name     string
		versions []string
		fields   []arrow.Field
		cols     func(v string) []arrow.Array
		goWrites bool // also written here and read by pylance
	}{
		{"dictionaries", []string{"2.0", "2.1", "2.2"}, dictFields, func(v string) []arrow.Array { return dicts(v != "2.0") }, true},
		{"dictionaries with null rows at 2.0", []string{"2.0"}, dictFields, func(string) []arrow.Array { return dicts(true) }, false},
		{"dictionaries under zstd", []string{"2.1", "2.2"}, withMetadata(dictFields, CompressionMetadataKey, "zstd"), func(string) []arrow.Array { return dicts(true) }, true},
		{"packed struct", []string{"2.0", "2.1", "2.2"}, []arrow.Field{{Name: "p", Type: packed, Nullable: true, Metadata: packedMD}},
			func(v string) []arrow.Array { return []arrow.Array{packedCol(v != "2.0")} }, false},
		{"map", []string{"2.2"}, []arrow.Field{{Name: "m", Type: mt, Nullable: true}}, func(string) []arrow.Array { return []arrow.Array{mapCol()} }, true},
	}
	for _, tc := range cases {
		for _, v := range tc.versions {
			t.Run(tc.name+"/"+v, func(t *testing.T) {
				sch := arrow.NewSchema(tc.fields, nil)
				cols := tc.cols(v)
				rec := array.NewRecord(sch, cols, n)
				defer rec.Release()
				dir := t.TempDir()
				// pylance writes; this package reads what pylance reads
				arrowtest.WriteIPCFile(t, filepath.Join(dir, "in.arrow"), sch, []arrow.Record{rec})
				runPylance(t, "writever", filepath.Join(dir, "in.arrow"), filepath.Join(dir, "py.lance"), v)
				runPylance(t, "read", filepath.Join(dir, "py.lance"), filepath.Join(dir, "py.arrow"))
				_, theirs := arrowtest.ReadIPCColumns(t, filepath.Join(dir, "py.arrow"))
				ours := readWhole(t, filepath.Join(dir, "py.lance"), sch)
				defer ours.Release()
				sameColumns(t, "pylance's file", theirs, ours)
				if !tc.goWrites {
					return
				}
				// this package writes; pylance reads the columns as written
				ver, err := ParseVersion(v)
				if err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(dir, "go.lance")
				if _, err := WriteFileWithOptions(path, mustFields(t, sch), []arrow.Record{rec}, WriteOptions{Version: ver}); err != nil {
					t.Fatal(err)
				}
				runPylance(t, "read", path, filepath.Join(dir, "go.arrow"))
				_, back := arrowtest.ReadIPCColumns(t, filepath.Join(dir, "go.arrow"))
				want := array.NewRecord(sch, back, n)
				defer want.Release()
				sameColumns(t, "pylance reading ours", cols, want)
			})
		}
	}
}

// TestOptInEncodingsTheWriterRefuses: packed structs and blob columns are
// read (packed) or refused by name (blob), never written plain under
// metadata that tells pylance otherwise.
func TestOptInEncodingsTheWriterRefuses(t *testing.T) {
	st := arrow.StructOf(arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int32, Nullable: true})
	for _, tc := range []struct {
		name string
		f    arrow.Field
		want string
	}{
		{"packed", arrow.Field{Name: "p", Type: st, Nullable: true, Metadata: arrow.NewMetadata([]string{packedMetadataKey}, []string{"true"})}, "lance-encoding:packed"},
		{"blob", arrow.Field{Name: "b", Type: arrow.BinaryTypes.LargeBinary, Nullable: true, Metadata: arrow.NewMetadata([]string{blobMetadataKey}, []string{"true"})}, "lance-encoding:blob"},
		{"blob v2", arrow.Field{Name: "b", Type: st, Nullable: true, Metadata: arrow.NewMetadata([]string{extensionNameKey}, []string{"lance.blob.v2"})}, "lance.blob.v2"},
	} {
		for _, v := range WritableVersions {
			t.Run(tc.name+"/"+v.String(), func(t *testing.T) {
				err := CheckWritableVersion(mustFields(t, arrow.NewSchema([]arrow.Field{tc.f}, nil)), v)
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.f.Name)) {
					t.Fatalf("err = %v, want one naming %q and %q", err, tc.f.Name, tc.want)
				}
			})
		}
	}
}

// withMetadata returns fields, each with metadata key set to value.
func withMetadata(fields []arrow.Field, key, value string) []arrow.Field {
	out := make([]arrow.Field, len(fields))
	for i, f := range fields {
		f.Metadata = arrow.NewMetadata([]string{key}, []string{value})
		out[i] = f
	}
	return out
}
