package file

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/float16"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/internal/arrowtest"
)

// describe20 renders a 2.0 page encoding tree with its buffer indices,
// to compare our pages with pylance's.
func describe20(e *arrayEncoding) string {
	if e == nil {
		return "-"
	}
	switch e.kind {
	case encFlat:
		return fmt.Sprintf("Flat%d@%d", e.bitsPerValue, e.bufferIndex)
	case encNullable:
		switch e.nulls {
		case noNulls:
			return "NoNulls(" + describe20(e.values) + ")"
		case someNulls:
			return "SomeNulls(" + describe20(e.validity) + "," + describe20(e.values) + ")"
		}
		return "AllNulls"
	case encFixedSizeList:
		return fmt.Sprintf("FixedSizeList%d(%s)", e.dimension, describe20(e.items))
	case encList:
		return "List(" + describe20(e.offsets) + ")"
	case encBinary:
		return "Binary(" + describe20(e.indices) + "," + describe20(e.bytes) + ")"
	}
	return e.name
}

// rowValue appends row i of a test column to b.
type rowValue func(b array.Builder, i int)

// fslRows: fixed-size lists of float32 [i, -i, k...], null rows where
// nullRow, null items where nullItem.
func fslRows(nullRow func(int) bool, nullItem func(i, k int) bool) rowValue {
	return func(b array.Builder, i int) {
		lb := b.(*array.FixedSizeListBuilder)
		if nullRow(i) {
			lb.AppendNull()
			return
		}
		lb.Append(true)
		dim := int(lb.Type().(*arrow.FixedSizeListType).Len())
		for k := 0; k < dim; k++ {
			appendNumber(lb.ValueBuilder(), i*dim+k, nullItem(i, k))
		}
	}
}

// appendNumber appends x (or a null) to a builder of numbers or strings.
func appendNumber(b array.Builder, x int, null bool) {
	if null {
		b.AppendNull()
		return
	}
	switch vb := b.(type) {
	case *array.Float32Builder:
		vb.Append(float32(x) * 0.5)
	case *array.Float64Builder:
		vb.Append(-float64(x) / 3)
	case *array.Int8Builder:
		vb.Append(int8(x))
	case *array.Int64Builder:
		vb.Append(int64(x) * 1000003)
	case *array.Float16Builder:
		vb.Append(float16.New(float32(x % 2000)))
	case *array.StringBuilder:
		vb.Append(strings.Repeat("é", x%4) + fmt.Sprint(x))
	case *array.LargeStringBuilder:
		vb.Append(fmt.Sprint("s", x))
	case *array.FixedSizeBinaryBuilder:
		vb.Append([]byte{byte(x), byte(x >> 8), 7})
	case *array.Decimal128Builder:
		vb.Append(decimal128.FromI64(int64(x) * -31))
	case *array.BooleanBuilder:
		vb.Append(x%3 == 0)
	default:
		panic(fmt.Sprintf("appendNumber: %T", b))
	}
}

// listRows: lists of i%4 items, null lists every 7th row, empty lists
// every 7th (shifted), null items every 5th.
func listRows(b array.Builder, i int) {
	lb := b.(array.ListLikeBuilder)
	switch i % 7 {
	case 1:
		lb.AppendNull()
		return
	case 2:
		lb.Append(true) // empty
		return
	}
	lb.Append(true)
	for k := 0; k < i%4+1; k++ {
		appendNumber(lb.ValueBuilder(), i*4+k, (i+k)%5 == 0)
	}
}

func never(int) bool          { return false }
func neverItem(_, _ int) bool { return false }

// write20Cases are columns pylance 14 writes at file version 2.0 and the
// encoding of their page (describe20), which ours must have too.
var write20Cases = []struct {
	name  string
	dt    arrow.DataType
	value rowValue
	want  []string // the field's columns' pages, in column order
}{
	{"vec", arrow.FixedSizeListOf(4, arrow.PrimitiveTypes.Float32), fslRows(never, neverItem),
		[]string{"NoNulls(FixedSizeList4(NoNulls(Flat32@0)))"}},
	{"vec_null_rows", arrow.FixedSizeListOf(3, arrow.PrimitiveTypes.Float32), fslRows(func(i int) bool { return i%5 == 3 }, neverItem),
		[]string{"SomeNulls(Flat1@0,FixedSizeList3(SomeNulls(Flat1@1,Flat32@2)))"}}, // a null row's items are null
	{"vec_null_items", arrow.FixedSizeListOf(2, arrow.PrimitiveTypes.Float64), fslRows(never, func(i, k int) bool { return (i+k)%3 == 0 }),
		[]string{"NoNulls(FixedSizeList2(SomeNulls(Flat1@0,Flat64@1)))"}},
	{"vec_both_nulls", arrow.FixedSizeListOf(16, arrow.PrimitiveTypes.Int8), fslRows(func(i int) bool { return i%4 == 0 }, func(i, k int) bool { return k == 3 }),
		[]string{"SomeNulls(Flat1@0,FixedSizeList16(SomeNulls(Flat1@1,Flat8@2)))"}},
	{"vec_all_null", arrow.FixedSizeListOf(2, arrow.PrimitiveTypes.Float32), fslRows(func(int) bool { return true }, neverItem),
		[]string{"AllNulls"}},
	{"vec_bool", arrow.FixedSizeListOf(3, arrow.FixedWidthTypes.Boolean), fslRows(func(i int) bool { return i%3 == 1 }, func(i, k int) bool { return k == 2 }),
		[]string{"SomeNulls(Flat1@0,FixedSizeList3(SomeNulls(Flat1@1,Flat1@2)))"}},
	{"half", arrow.FixedWidthTypes.Float16, func(b array.Builder, i int) { appendNumber(b, i, i%3 == 1) },
		[]string{"SomeNulls(Flat1@0,Flat16@1)"}},
	{"list_i64", arrow.ListOf(arrow.PrimitiveTypes.Int64), listRows,
		[]string{"List(NoNulls(Flat64@0))", "SomeNulls(Flat1@0,Flat64@1)"}},
	{"large_list_str", arrow.LargeListOf(arrow.BinaryTypes.String), listRows,
		[]string{"List(NoNulls(Flat64@0))", "Binary(NoNulls(Flat64@0),Flat8@1)"}},
	{"list_large_str", arrow.ListOf(arrow.BinaryTypes.LargeString), listRows,
		[]string{"List(NoNulls(Flat64@0))", "Binary(NoNulls(Flat64@0),Flat8@1)"}},
	{"list_f16", arrow.ListOf(arrow.FixedWidthTypes.Float16), listRows,
		[]string{"List(NoNulls(Flat64@0))", "SomeNulls(Flat1@0,Flat16@1)"}},
	{"list_fsb", arrow.ListOf(&arrow.FixedSizeBinaryType{ByteWidth: 3}), listRows,
		[]string{"List(NoNulls(Flat64@0))", "SomeNulls(Flat1@0,Flat24@1)"}},
	{"list_dec", arrow.ListOf(&arrow.Decimal128Type{Precision: 20, Scale: 2}), listRows,
		[]string{"List(NoNulls(Flat64@0))", "SomeNulls(Flat1@0,Flat128@1)"}},
	{"list_bool", arrow.ListOf(arrow.FixedWidthTypes.Boolean), listRows,
		[]string{"List(NoNulls(Flat64@0))", "SomeNulls(Flat1@0,Flat1@1)"}},
	{"list_vec", arrow.ListOf(arrow.FixedSizeListOf(2, arrow.PrimitiveTypes.Float32)), func(b array.Builder, i int) {
		lb := b.(*array.ListBuilder)
		if i%6 == 5 {
			lb.AppendNull()
			return
		}
		lb.Append(true)
		for k := 0; k < i%3; k++ {
			fslRows(func(int) bool { return k == 1 }, neverItem)(lb.ValueBuilder(), i+k)
		}
	}, []string{"List(NoNulls(Flat64@0))", "SomeNulls(Flat1@0,FixedSizeList2(SomeNulls(Flat1@1,Flat32@2)))"}},
	{"list_list", arrow.ListOf(arrow.ListOf(arrow.PrimitiveTypes.Int64)), func(b array.Builder, i int) {
		lb := b.(*array.ListBuilder)
		if i%6 == 5 {
			lb.AppendNull()
			return
		}
		lb.Append(true)
		for k := 0; k < i%3; k++ {
			listRows(lb.ValueBuilder(), i+k)
		}
	}, []string{"List(NoNulls(Flat64@0))", "List(NoNulls(Flat64@0))", "SomeNulls(Flat1@0,Flat64@1)"}},
}

// write20Record builds rows of the cases' columns.
func write20Record(rows int) arrow.Record {
	fs := make([]arrow.Field, len(write20Cases))
	for i, c := range write20Cases {
		fs[i] = arrow.Field{Name: c.name, Type: c.dt, Nullable: true}
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fs, nil))
	defer b.Release()
	for i := 0; i < rows; i++ {
		for ci, c := range write20Cases {
			c.value(b.Field(ci), i)
		}
	}
	return b.NewRecord()
}

// legacyColumnStarts is the first 2.0 column of each field of sch.
func legacyColumnStarts(sch *arrow.Schema) []int {
	cols := make([]int, sch.NumFields())
	c := 0
	for i, f := range sch.Fields() {
		cols[i] = c
		c += legacyColumns(f.Type)
	}
	return cols
}

// TestWrite20NestedLikePylance: vectors, float16 and lists of numbers and
// strings are written at 2.0 with the page encodings pylance 14 gives
// them; our reader and pylance read our file back exactly, in one page
// and in many.
func TestWrite20NestedLikePylance(t *testing.T) {
	rec := write20Record(300)
	defer rec.Release()
	sch := rec.Schema()
	dir := t.TempDir()
	in, py := filepath.Join(dir, "in.arrow"), filepath.Join(dir, "py.lance")
	arrowtest.WriteIPCFile(t, in, sch, []arrow.Record{rec})
	runPylance(t, "writever", in, py, "2.0")
	rp, err := Open(py)
	if err != nil {
		t.Fatal(err)
	}
	defer rp.Close()
	for _, tc := range []struct {
		name string
		opts WriteOptions
	}{
		{"one-page", WriteOptions{}},
		{"many-pages", WriteOptions{MaxPageBytes: 200}},
		{"page-rows", WriteOptions{MaxPageRows: 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ours := filepath.Join(t.TempDir(), "ours.lance")
			if _, err := WriteFileWithOptions(ours, mustFields(t, sch), []arrow.Record{rec.NewSlice(0, 120), rec.NewSlice(120, 300)}, tc.opts); err != nil {
				t.Fatal(err)
			}
			ro, err := Open(ours)
			if err != nil {
				t.Fatal(err)
			}
			defer ro.Close()
			if ro.NumColumns() != rp.NumColumns() {
				t.Fatalf("%d columns, pylance %d", ro.NumColumns(), rp.NumColumns())
			}
			starts := legacyColumnStarts(sch)
			for fi, c := range write20Cases {
				for k, want := range c.want {
					ci := starts[fi] + k
					if tc.name == "one-page" {
						checkPages20(t, c.name, rp, ci, want, true)
					}
					checkPages20(t, c.name, ro, ci, want, tc.name == "one-page")
				}
			}
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			checkBothReaders(t, ours, sch, rec.Columns(), mem)
			mem.AssertSize(t, 0)
		})
	}
}

// checkPages20: column ci of r has pages encoded as want (one page if
// onePage; otherwise a page's null kinds may differ from want's).
func checkPages20(t *testing.T, name string, r *Reader, ci int, want string, onePage bool) {
	t.Helper()
	pages := r.cols[ci].pages
	if onePage && len(pages) != 1 {
		t.Fatalf("%s column %d: %d pages, want 1", name, ci, len(pages))
	}
	for _, p := range pages {
		got := describe20(p.encoding)
		if onePage && got != want {
			t.Errorf("%s column %d: page %s, want %s", name, ci, got, want)
		}
		if !onePage && strings.SplitN(got, "(", 2)[0] != strings.SplitN(want, "(", 2)[0] &&
			!strings.Contains("NoNulls SomeNulls AllNulls", strings.SplitN(got, "(", 2)[0]) {
			t.Errorf("%s column %d: page %s, want a page like %s", name, ci, got, want)
		}
	}
}

// TestWrite20ListsOddArrays: a null list over items of its own (which are
// dropped), sliced arrays and arrays with offsets not from 0 are written
// at 2.0 as the lists they hold.
func TestWrite20ListsOddArrays(t *testing.T) {
	vals := array.NewInt64Builder(memory.DefaultAllocator)
	defer vals.Release()
	vals.AppendValues([]int64{9, 1, 2, 3, 4, 5, 6}, nil)
	items := vals.NewArray()
	defer items.Release()
	offs := memory.NewBufferBytes(arrow.Int32Traits.CastToBytes([]int32{1, 3, 5, 5, 7}))
	valid := memory.NewBufferBytes([]byte{0b1101}) // row 1 is null over items 3, 4
	data := array.NewData(arrow.ListOf(arrow.PrimitiveTypes.Int64), 4, []*memory.Buffer{valid, offs}, []arrow.ArrayData{items.Data()}, 1, 0)
	defer data.Release()
	whole := array.MakeFromData(data)
	defer whole.Release()
	sch := arrow.NewSchema([]arrow.Field{{Name: "l", Type: whole.DataType(), Nullable: true}}, nil)
	for _, tc := range []struct{ from, to int64 }{{0, 4}, {1, 4}, {2, 4}, {1, 2}} {
		t.Run(fmt.Sprint(tc.from, "-", tc.to), func(t *testing.T) {
			col := array.NewSlice(whole, tc.from, tc.to)
			defer col.Release()
			rec := array.NewRecord(sch, []arrow.Array{col}, tc.to-tc.from)
			defer rec.Release()
			path := filepath.Join(t.TempDir(), "f.lance")
			if _, err := WriteFileWithOptions(path, mustFields(t, sch), []arrow.Record{rec, rec}, WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			want, err := array.Concatenate([]arrow.Array{col, col}, memory.DefaultAllocator)
			if err != nil {
				t.Fatal(err)
			}
			defer want.Release()
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			checkBothReaders(t, path, sch, []arrow.Array{want}, mem)
			mem.AssertSize(t, 0)
		})
	}
}

// TestCheckWritable20: at 2.0 the writer takes vectors, float16 and lists
// (of numbers, strings, vectors, lists) and refuses what 2.0 cannot hold
// as pylance writes it, naming the field and the version it needs.
func TestCheckWritable20(t *testing.T) {
	st := arrow.StructOf(arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int32, Nullable: true})
	dict := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	for _, tc := range []struct {
		name string
		dt   arrow.DataType
		want string // "" = writable
	}{
		{"vector", arrow.FixedSizeListOf(128, arrow.PrimitiveTypes.Float32), ""},
		{"bool vector", arrow.FixedSizeListOf(3, arrow.FixedWidthTypes.Boolean), ""},
		{"half", arrow.FixedWidthTypes.Float16, ""},
		{"list", arrow.ListOf(arrow.BinaryTypes.String), ""},
		{"large list", arrow.LargeListOf(arrow.PrimitiveTypes.Float64), ""},
		{"list of lists", arrow.ListOf(arrow.ListOf(arrow.PrimitiveTypes.Int8)), ""},
		{"list of vectors", arrow.ListOf(arrow.FixedSizeListOf(2, arrow.PrimitiveTypes.Float32)), ""},
		{"struct", st, "struct columns need file version 2.1 or later"},
		{"list of structs", arrow.ListOf(st), "struct columns need file version 2.1 or later"},
		{"map", arrow.MapOf(arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int64), "map columns need file version 2.1 or later (maps 2.2)"},
		{"string vector", arrow.FixedSizeListOf(2, arrow.BinaryTypes.String), "fixed_size_list of utf8 is not supported at file version 2.0"},
		{"list of dictionaries", arrow.ListOf(dict), "not supported by the writer at file version 2.0"},
		{"huge vector", arrow.FixedSizeListOf(1<<20+1, arrow.PrimitiveTypes.Uint8), "fixed_size_list of 1048577 items is not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fields := mustFields(t, arrow.NewSchema([]arrow.Field{{Name: "c", Type: tc.dt, Nullable: true}}, nil))
			err := CheckWritableVersion(fields, V2_0)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `field "c"`)):
				t.Fatalf("err = %v, want one naming field \"c\" and %q", err, tc.want)
			}
			if err := CheckWritableVersion(fields, V2_2); err != nil && tc.want != "" && strings.Contains(tc.want, "2.1") {
				t.Fatalf("2.2 refused %s: %v", tc.name, err)
			}
		})
	}
}

// TestWrite20AllListTypes writes every flat type and every list and vector
// type of issue #3 (random values, nulls at every level) at 2.0, in one
// page and in many, plain and compressed: our reader and pylance read back
// exactly what was written, whole and (ours) in ranges across pages.
func TestWrite20AllListTypes(t *testing.T) {
	fs := arrowtest.FlatTypes()
	for _, f := range arrowtest.NestedTypes() {
		if !strings.Contains(f.Type.String(), "struct") {
			fs = append(fs, f)
		}
	}
	sch := arrow.NewSchema(fs, nil)
	fields := mustFields(t, sch)
	recs, want := unevenRecords(t, sch, 20)
	for _, tc := range []struct {
		name string
		opts WriteOptions
	}{
		{"one-page", WriteOptions{}},
		{"many-pages", WriteOptions{MaxPageBytes: 4 << 10, MaxPageRows: 300}},
		{"zstd", WriteOptions{Compression: "zstd", MaxPageRows: 170}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "w.lance")
			res, err := WriteFileWithOptions(p, fields, recs, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.MajorVersion != 2 || res.MinorVersion != 0 || len(res.Fields) != len(fields) {
				t.Fatalf("result %+v for %d fields", res, len(fields))
			}
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			checkBothReaders(t, p, sch, want, mem)
			r, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			for _, rg := range [][2]int64{{0, 1}, {299, 3}, {450, 300}, {1000, 201}} {
				rec, err := r.Read(sch, legacyColumnStarts(sch), rg[0], rg[1], mem)
				if err != nil {
					t.Fatal(err)
				}
				for c := range want {
					exp := array.NewSlice(want[c], rg[0], rg[0]+rg[1])
					if d := arrowtest.DiffArrays(exp, rec.Column(c)); d != "" {
						t.Errorf("rows %v, column %q: %s", rg, sch.Field(c).Name, d)
					}
					exp.Release()
				}
				rec.Release()
			}
			mem.AssertSize(t, 0)
		})
	}
}
