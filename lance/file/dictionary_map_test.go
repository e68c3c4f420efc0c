package file

import (
	"fmt"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// dictArray builds a dictionary array of dt from a dictionary of strings
// (or int64s) and indices (-1: null row).
func dictArray(t testing.TB, dt *arrow.DictionaryType, dict any, ix []int) arrow.Array {
	t.Helper()
	mem := memory.DefaultAllocator
	var d arrow.Array
	switch v := dict.(type) {
	case []string:
		b := array.NewStringBuilder(mem)
		b.AppendValues(v, nil)
		d = b.NewArray()
	case []int64:
		b := array.NewInt64Builder(mem)
		b.AppendValues(v, nil)
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

// TestDictionaryColumnsRoundTrip writes dictionary columns at 2.1 and 2.2
// and reads them back with the same dictionary and indices, as pylance
// returns them: the column's dictionary whole (unused entries included),
// batches with another dictionary appended to it.
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
			[]string{"p", "q", "r", "p", "s"}, []int{0, 1, 0, 2, 3, 4}},
		{"same dictionary twice", str32, [][2]any{{[]string{"p", "q"}, []int{0, 1}}, {[]string{"p", "q"}, []int{1, -1}}},
			[]string{"p", "q"}, []int{0, 1, 1, -1}},
		{"all null", str32, [][2]any{{[]string{"p"}, []int{-1, -1, -1}}},
			[]string{"p"}, []int{-1, -1, -1}},
	}
	for _, v := range []Version{V2_1, V2_2} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/%s", v, tc.name), func(t *testing.T) {
				sch := arrow.NewSchema([]arrow.Field{{Name: "d", Type: tc.dt, Nullable: true}}, nil)
				var recs []arrow.Record
				for _, b := range tc.batches {
					a := dictArray(t, tc.dt, b[0], b[1].([]int))
					recs = append(recs, array.NewRecord(sch, []arrow.Array{a}, int64(a.Len())))
					a.Release()
				}
				path := tempPath(t, "dict.lance")
				if _, err := WriteFileWithOptions(path, mustFields(t, sch), recs, WriteOptions{Version: v}); err != nil {
					t.Fatal(err)
				}
				r, err := Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				got, err := r.Read(sch, []int{0}, 0, r.NumRows(), memory.DefaultAllocator)
				if err != nil {
					t.Fatal(err)
				}
				defer got.Release()
				want := dictArray(t, tc.dt, tc.wantDict, tc.wantIx)
				defer want.Release()
				if !array.Equal(got.Column(0), want) {
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
