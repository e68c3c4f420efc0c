package file

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// dictArray builds a dictionary array of dt from a dictionary of strings
// (or int64s), with a null item at its end if nullItem, and indices (-1:
// null row).
func dictArray(t testing.TB, dt *arrow.DictionaryType, dict any, nullItem bool, ix []int) arrow.Array {
	t.Helper()
	mem := memory.DefaultAllocator
	var d arrow.Array
	switch v := dict.(type) {
	case []string:
		b := array.NewStringBuilder(mem)
		b.AppendValues(v, nil)
		if nullItem {
			b.AppendNull()
		}
		d = b.NewArray()
	case []int64:
		b := array.NewInt64Builder(mem)
		b.AppendValues(v, nil)
		if nullItem {
			b.AppendNull()
		}
		d = b.NewArray()
	}
	defer d.Release()
	ib := array.NewBuilder(mem, dt.IndexType)
	defer ib.Release()
	for _, i := range ix {
		if i < 0 {
			ib.AppendNull()
			continue
		}
		switch b := ib.(type) {
		case *array.Int8Builder:
			b.Append(int8(i))
		case *array.Int32Builder:
			b.Append(int32(i))
		case *array.Uint16Builder:
			b.Append(uint16(i))
		}
	}
	idx := ib.NewArray()
	defer idx.Release()
	return array.NewDictionaryArray(dt, idx, d)
}

func noValidIndex(ix []int) bool {
	for _, i := range ix {
		if i >= 0 {
			return false
		}
	}
	return true
}

func cycle(n, k, nullEvery int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i % k
		if nullEvery > 0 && i%nullEvery == 0 {
			out[i] = -1
		}
	}
	return out
}

// TestDictionaryColumnsRoundTrip writes dictionary columns and reads them
// back with the same dictionary and indices, as pylance returns them: the
// column's first dictionary whole (unused entries included), the values of
// later dictionaries it lacks added, and in a 2.0 file with null rows a
// null item at its end.
func TestDictionaryColumnsRoundTrip(t *testing.T) {
	str32 := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	str8 := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}
	int64u16 := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Uint16, ValueType: arrow.PrimitiveTypes.Int64}
	cases := []struct {
		name    string
		dt      *arrow.DictionaryType
		batches [][2]any // dictionary, indices
		// wantDict and wantIx: the column as read back
		wantDict any
		wantIx   []int
	}{
		{"strings with nulls", str32, [][2]any{{[]string{"red", "green", "blue"}, cycle(3000, 3, 7)}},
			[]string{"red", "green", "blue"}, cycle(3000, 3, 7)},
		{"few rows, unused entries", str32, [][2]any{{[]string{"w", "x", "y", "z"}, []int{3, 1, 3, -1, 1}}},
			[]string{"w", "x", "y", "z"}, []int{3, 1, 3, -1, 1}},
		{"int8 indices", str8, [][2]any{{[]string{"a", "b", "c"}, cycle(500, 3, 11)}},
			[]string{"a", "b", "c"}, cycle(500, 3, 11)},
		{"int64 values", int64u16, [][2]any{{[]int64{10, -4, 7}, cycle(200, 3, 0)}},
			[]int64{10, -4, 7}, cycle(200, 3, 0)},
		{"two dictionaries", str32, [][2]any{{[]string{"p", "q"}, []int{0, 1, 0}}, {[]string{"r", "p", "s"}, []int{0, 1, 2}}},
			[]string{"p", "q", "r", "s"}, []int{0, 1, 0, 2, 0, 3}},
		{"first dictionary with duplicates", str32, [][2]any{{[]string{"p", "q", "p"}, []int{2, 1}}, {[]string{"q", "p"}, []int{0, 1}}},
			[]string{"p", "q", "p"}, []int{2, 1, 1, 0}},
		{"same dictionary twice", str32, [][2]any{{[]string{"p", "q"}, []int{0, 1}}, {[]string{"p", "q"}, []int{1, -1}}},
			[]string{"p", "q"}, []int{0, 1, 1, -1}},
		{"all null", str32, [][2]any{{[]string{"p"}, []int{-1, -1, -1}}},
			[]string{"p"}, []int{-1, -1, -1}},
	}
	for _, v := range WritableVersions {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/%s", v, tc.name), func(t *testing.T) {
				sch := arrow.NewSchema([]arrow.Field{{Name: "d", Type: tc.dt, Nullable: true}}, nil)
				var recs []arrow.Record
				for _, b := range tc.batches {
					a := dictArray(t, tc.dt, b[0], false, b[1].([]int))
					recs = append(recs, array.NewRecord(sch, []arrow.Array{a}, int64(a.Len())))
					a.Release()
				}
				r := writeAndOpen(t, sch, recs, v)
				got, err := r.Read(sch, []int{0}, 0, r.NumRows(), memory.DefaultAllocator)
				if err != nil {
					t.Fatal(err)
				}
				defer got.Release()
				nullItem := false
				for _, i := range tc.wantIx {
					nullItem = nullItem || (i < 0 && v == V2_0)
				}
				wantDict := tc.wantDict
				if noValidIndex(tc.wantIx) && v != V2_0 {
					wantDict = []string{} // an all-null page, as pylance writes it: no dictionary
				}
				want := dictArray(t, tc.dt, wantDict, nullItem, tc.wantIx)
				defer want.Release()
				if !array.Equal(got.Column(0), want) || !array.Equal(got.Column(0).(*array.Dictionary).Dictionary(), want.(*array.Dictionary).Dictionary()) {
					t.Fatalf("read back\n%v\nwant\n%v", trunc(got.Column(0)), trunc(want))
				}
				// a range inside the file keeps the whole dictionary
				if n := int64(len(tc.wantIx)); n > 2 {
					part, err := r.Read(sch, []int{0}, 1, n-2, memory.DefaultAllocator)
					if err != nil {
						t.Fatal(err)
					}
					defer part.Release()
					wantPart := array.NewSlice(want, 1, n-1)
					defer wantPart.Release()
					if !array.Equal(part.Column(0), wantPart) {
						t.Fatalf("rows 1..%d: %v, want %v", n-1, trunc(part.Column(0)), trunc(wantPart))
					}
				}
			})
		}
	}
}

// TestMapColumns writes map columns (alone and inside a struct) at 2.2 and
// reads them back as maps; older versions refuse them, as pylance does.
func TestMapColumns(t *testing.T) {
	mt := arrow.MapOf(arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int64)
	inStruct := arrow.StructOf(arrow.Field{Name: "id", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		arrow.Field{Name: "props", Type: mt, Nullable: true})
	build := func(dt arrow.DataType, n int) arrow.Array {
		b := array.NewBuilder(memory.DefaultAllocator, dt)
		defer b.Release()
		var mb *array.MapBuilder
		if sb, ok := b.(*array.StructBuilder); ok {
			mb = sb.FieldBuilder(1).(*array.MapBuilder)
			for i := 0; i < n; i++ {
				if i%5 == 4 {
					sb.AppendNull() // and a null in each child
					continue
				}
				sb.Append(true)
				sb.FieldBuilder(0).(*array.Int32Builder).Append(int32(i))
				mb.Append(true)
				mb.KeyBuilder().(*array.StringBuilder).Append(fmt.Sprint("k", i))
				mb.ItemBuilder().(*array.Int64Builder).Append(int64(i))
			}
			return b.NewArray()
		}
		mb = b.(*array.MapBuilder)
		for i := 0; i < n; i++ {
			switch i % 4 {
			case 0:
				mb.AppendNull()
			case 1:
				mb.Append(true) // empty
			default:
				mb.Append(true)
				for k := 0; k < i%4; k++ {
					mb.KeyBuilder().(*array.StringBuilder).Append(fmt.Sprint("key", k))
					if k == 1 {
						mb.ItemBuilder().AppendNull()
					} else {
						mb.ItemBuilder().(*array.Int64Builder).Append(int64(i * k))
					}
				}
			}
		}
		return b.NewArray()
	}
	for _, tc := range []struct {
		name string
		dt   arrow.DataType
		n    int
	}{
		{"map", mt, 3000},
		{"map in struct", inStruct, 200},
	} {
		for _, v := range WritableVersions {
			t.Run(fmt.Sprintf("%s/%s", v, tc.name), func(t *testing.T) {
				sch := arrow.NewSchema([]arrow.Field{{Name: "m", Type: tc.dt, Nullable: true}}, nil)
				a := build(tc.dt, tc.n)
				defer a.Release()
				rec := array.NewRecord(sch, []arrow.Array{a}, int64(a.Len()))
				defer rec.Release()
				path := tempPath(t, "map.lance")
				_, err := WriteFileWithOptions(path, mustFields(t, sch), []arrow.Record{rec}, WriteOptions{Version: v})
				if v != V2_2 {
					if err == nil {
						t.Fatalf("a map column was written at %s", v)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				r, err := Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				for _, rng := range [][2]int64{{0, int64(tc.n)}, {3, int64(tc.n) - 5}} {
					got, err := r.Read(sch, []int{0}, rng[0], rng[1], memory.DefaultAllocator)
					if err != nil {
						t.Fatal(err)
					}
					want := array.NewSlice(a, rng[0], rng[0]+rng[1])
					if !arrow.TypeEqual(got.Column(0).DataType(), tc.dt) || !array.Equal(got.Column(0), want) {
						t.Fatalf("rows %v: got %s %v, want %v", rng, got.Column(0).DataType(), trunc(got.Column(0)), trunc(want))
					}
					want.Release()
					got.Release()
				}
			})
		}
	}
}

// TestDictionaryNullEntries: a row pointing at a null dictionary entry is
// written as a null row (a 2.1+ page dictionary has no validity), and the
// entry is dropped.
func TestDictionaryNullEntries(t *testing.T) {
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	sch := arrow.NewSchema([]arrow.Field{{Name: "d", Type: dt, Nullable: true}}, nil)
	db := array.NewStringBuilder(memory.DefaultAllocator)
	db.AppendValues([]string{"a", "", "b"}, []bool{true, false, true})
	dict := db.NewArray()
	defer dict.Release()
	ib := array.NewInt32Builder(memory.DefaultAllocator)
	ib.AppendValues([]int32{0, 1, 2, 0}, []bool{true, true, true, false})
	idx := ib.NewArray()
	defer idx.Release()
	in := array.NewDictionaryArray(dt, idx, dict)
	defer in.Release()
	rec := array.NewRecord(sch, []arrow.Array{in}, 4)
	defer rec.Release()
	for _, v := range WritableVersions {
		t.Run(v.String(), func(t *testing.T) {
			path := tempPath(t, "dict.lance")
			if _, err := WriteFileWithOptions(path, mustFields(t, sch), []arrow.Record{rec}, WriteOptions{Version: v}); err != nil {
				t.Fatal(err)
			}
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, err := r.Read(sch, []int{0}, 0, 4, memory.DefaultAllocator)
			if err != nil {
				t.Fatal(err)
			}
			defer got.Release()
			nullItem := v == V2_0
			want := dictArray(t, dt, []string{"a", "b"}, nullItem, []int{0, -1, 1, -1})
			defer want.Release()
			if !array.Equal(got.Column(0), want) || !array.Equal(got.Column(0).(*array.Dictionary).Dictionary(), want.(*array.Dictionary).Dictionary()) {
				t.Fatalf("read back %v, want %v", got.Column(0), want)
			}
		})
	}
}

// TestDictionaryOverflowStartsAPage: values beyond what the index type
// addresses start a page with a new dictionary; each page reads back, and
// a read across pages whose values do not fit the index type says so.
func TestDictionaryOverflowStartsAPage(t *testing.T) {
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}
	sch := arrow.NewSchema([]arrow.Field{{Name: "d", Type: dt, Nullable: true}}, nil)
	batch := func(b int) []string {
		vals := make([]string, 100)
		for i := range vals {
			vals[i] = fmt.Sprintf("b%d-%d", b, i)
		}
		return vals
	}
	for _, v := range WritableVersions {
		t.Run(v.String(), func(t *testing.T) {
			var recs []arrow.Record
			for b := 0; b < 3; b++ {
				a := dictArray(t, dt, batch(b), false, cycle(100, 100, 0))
				recs = append(recs, array.NewRecord(sch, []arrow.Array{a}, 100))
				a.Release()
			}
			r := writeAndOpen(t, sch, recs, v)
			for b := int64(0); b < 3; b++ {
				got, err := r.Read(sch, []int{0}, 100*b, 100, memory.DefaultAllocator)
				if err != nil {
					t.Fatal(err)
				}
				if !array.Equal(got.Column(0), recs[b].Column(0)) {
					t.Fatalf("batch %d: %v", b, trunc(got.Column(0)))
				}
				got.Release()
			}
			if _, err := r.Read(sch, []int{0}, 0, 300, memory.DefaultAllocator); err == nil || !strings.Contains(err.Error(), "read fewer rows") {
				t.Fatalf("reading 300 distinct values as dictionary<int8>: %v", err)
			}
		})
	}
}

// TestStreamWriterRefusesAnOverflowingDictionary: a record whose dictionary
// values would overflow the file's int8 dictionary is refused with
// ErrDictionaryFull before anything of it is written; the file then closes
// with the rows before it, and the record goes into a new file whole.
func TestStreamWriterRefusesAnOverflowingDictionary(t *testing.T) {
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}
	sch := arrow.NewSchema([]arrow.Field{{Name: "d", Type: dt, Nullable: true}}, nil)
	part := func(k int) arrow.Record {
		vals, ix := make([]string, 100), make([]int, 300)
		for i := range vals {
			vals[i] = fmt.Sprintf("k%d_%d", k, i)
		}
		for i := range ix {
			ix[i] = i % 100
		}
		a := dictArray(t, dt, vals, false, ix)
		defer a.Release()
		return array.NewRecord(sch, []arrow.Array{a}, int64(a.Len()))
	}
	first, second := part(0), part(1)
	defer first.Release()
	defer second.Release()
	for _, v := range WritableVersions {
		t.Run(v.String(), func(t *testing.T) {
			var files []string
			write := func(recs ...arrow.Record) error {
				p := tempPath(t, fmt.Sprintf("f%d.lance", len(files)))
				files = append(files, p)
				sw, err := CreateStream(p, mustFields(t, sch), WriteOptions{Version: v})
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range recs {
					if err := sw.Write(r); err != nil {
						if _, cerr := sw.Close(); cerr != nil {
							t.Fatal(cerr)
						}
						return err
					}
				}
				_, err = sw.Close()
				return err
			}
			if err := write(first, second); !errors.Is(err, ErrDictionaryFull) || !strings.Contains(err.Error(), `column "d"`) {
				t.Fatalf("Write = %v, want ErrDictionaryFull naming the column", err)
			}
			if err := write(second); err != nil {
				t.Fatal(err)
			}
			for i, want := range []arrow.Record{first, second} {
				r, err := Open(files[i])
				if err != nil {
					t.Fatal(err)
				}
				got, err := r.Read(sch, []int{0}, 0, r.NumRows(), memory.DefaultAllocator)
				r.Close()
				if err != nil {
					t.Fatal(err)
				}
				if !array.Equal(got.Column(0), want.Column(0)) {
					t.Errorf("file %d: read %v, wrote %v", i, got.Column(0), want.Column(0))
				}
				got.Release()
			}
		})
	}
}

// TestDictionaryRuns: records split where their int8 dictionaries stop
// fitting one (100 new values each: one record a run; 50: two a run);
// records without dictionary columns are one run.
func TestDictionaryRuns(t *testing.T) {
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}
	sch := arrow.NewSchema([]arrow.Field{{Name: "d", Type: dt, Nullable: true}}, nil)
	part := func(k, values int) arrow.Record {
		vals := make([]string, values)
		for i := range vals {
			vals[i] = fmt.Sprintf("k%d_%d", k, i)
		}
		a := dictArray(t, dt, vals, false, []int{0, values - 1})
		defer a.Release()
		return array.NewRecord(sch, []arrow.Array{a}, int64(a.Len()))
	}
	plain := arrow.NewSchema([]arrow.Field{{Name: "i", Type: arrow.PrimitiveTypes.Int64}}, nil)
	for _, tc := range []struct {
		name string
		recs func() []arrow.Record
		want []int // records per run
	}{
		{"100-value dictionaries", func() []arrow.Record { return []arrow.Record{part(0, 100), part(1, 100), part(2, 100)} }, []int{1, 1, 1}},
		{"50-value dictionaries", func() []arrow.Record { return []arrow.Record{part(0, 50), part(1, 50), part(2, 50)} }, []int{2, 1}},
		{"the same dictionary", func() []arrow.Record { return []arrow.Record{part(0, 100), part(0, 100)} }, []int{2}},
		{"no dictionary", func() []arrow.Record {
			return []arrow.Record{array.NewRecord(plain, nil, 0), array.NewRecord(plain, nil, 0)}
		}, []int{2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs := tc.recs()
			defer releaseAll(recs)
			var got []int
			for _, run := range DictionaryRuns(recs) {
				got = append(got, len(run))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("runs of %v records, want %v", got, tc.want)
			}
		})
	}
}

// writeAndOpen writes recs as one file at version v and opens it (closed
// when the test ends).
func writeAndOpen(t *testing.T, sch *arrow.Schema, recs []arrow.Record, v Version) *Reader {
	t.Helper()
	path := tempPath(t, "dict.lance")
	if _, err := WriteFileWithOptions(path, mustFields(t, sch), recs, WriteOptions{Version: v}); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}
