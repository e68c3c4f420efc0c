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

// boolVectorStruct is n structs {id int32, mask fixed_size_list<bool>[dim]};
// every 9th struct is null, masks as boolVectors makes them.
func boolVectorStruct(mem memory.Allocator, n int, dim int32) arrow.Array {
	masks := boolVectors(mem, n, dim, 4, 7)
	defer masks.Release()
	ib := array.NewInt32Builder(mem)
	defer ib.Release()
	valid := make([]bool, n)
	for i := range valid {
		ib.Append(int32(i))
		valid[i] = i%9 != 0
	}
	ids := ib.NewArray()
	defer ids.Release()
	s, err := array.NewStructArrayWithNulls([]arrow.Array{ids, masks}, []string{"id", "mask"}, bitmapOf(valid), countFalse(valid), 0)
	if err != nil {
		panic(err)
	}
	return s
}

func bitmapOf(v []bool) *memory.Buffer {
	b := make([]byte, (len(v)+7)/8)
	for i, ok := range v {
		if ok {
			b[i/8] |= 1 << (i % 8)
		}
	}
	return memory.NewBufferBytes(b)
}

func countFalse(v []bool) int {
	n := 0
	for _, ok := range v {
		if !ok {
			n++
		}
	}
	return n
}

// TestWriteBoolVectorsLikePylance: fixed_size_list<bool> columns of several
// dims (up to 4096 bits, which pylance still keeps in mini-block chunks),
// with null rows, null items and both, all null, top level and in a struct, get
// pylance 14's layout at 2.1 and 2.2, and our reader and pylance read them
// back exactly.
func TestWriteBoolVectorsLikePylance(t *testing.T) {
	mini := both("MiniBlockLayout[FixedSizeList(Flat)]")
	cases := []struct {
		dim                         int32
		nullRowEvery, nullItemEvery int
	}{
		{1, 0, 0}, {3, 0, 0}, {8, 0, 0}, {13, 0, 0}, {64, 0, 0}, {4096, 0, 0},
		{1, 3, 0}, {3, 10, 0}, {13, 0, 17}, {5, 7, 11}, {64, 5, 3}, {4096, 3, 5},
	}
	const rows = 3000
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	var fields []arrow.Field
	var cols []arrow.Array
	var wants []map[string]string
	for _, c := range cases {
		a := boolVectors(mem, rows, c.dim, c.nullRowEvery, c.nullItemEvery)
		defer a.Release()
		fields = append(fields, arrow.Field{Name: fmt.Sprintf("m%d_%d_%d", c.dim, c.nullRowEvery, c.nullItemEvery), Type: a.DataType(), Nullable: true})
		cols = append(cols, a)
		wants = append(wants, mini)
	}
	allNull := boolVectors(mem, rows, 9, 1, 0)
	defer allNull.Release()
	fields = append(fields, arrow.Field{Name: "nulls", Type: allNull.DataType(), Nullable: true})
	cols = append(cols, allNull)
	wants = append(wants, both("ConstantLayout[null]"))
	st := boolVectorStruct(mem, rows, 11)
	defer st.Release()
	fields = append(fields, arrow.Field{Name: "st", Type: st.DataType(), Nullable: true})
	cols = append(cols, st)
	wants = append(wants, nil, mini) // st.id: not this test's business
	sch := arrow.NewSchema(fields, nil)
	rec := array.NewRecord(sch, cols, rows)
	defer rec.Release()
	checkRecordLikePylance(t, rec, wants, nil)
}

// TestWriteBoolVectorsPagesAndSlices: bool vectors appended from sliced
// arrays (bit offsets that are not byte aligned), in several batches, cut
// into small pages, compressed, under a list, and wider than pylance
// writes (a row per chunk); our reader and pylance read back exactly what
// was written.
func TestWriteBoolVectorsPagesAndSlices(t *testing.T) {
	cases := []struct {
		name     string
		dim      int32
		list     bool
		opts     WriteOptions
		nullRow  int
		nullItem int
	}{
		{"dim3-small-pages", 3, false, WriteOptions{Version: V2_1, MaxPageBytes: 1 << 10}, 4, 0},
		{"dim13-nulls-small-pages", 13, false, WriteOptions{Version: V2_2, MaxPageBytes: 2 << 10}, 6, 5},
		{"dim200-zstd", 200, false, WriteOptions{Version: V2_2, Compression: CompressionZstd}, 0, 0},
		{"dim31-lz4-item-nulls", 31, false, WriteOptions{Version: V2_1, Compression: CompressionLZ4}, 0, 9},
		{"dim5-in-list", 5, true, WriteOptions{Version: V2_2}, 3, 7},
		{"dim64-in-list-2.1", 64, true, WriteOptions{Version: V2_1, MaxPageBytes: 4 << 10}, 0, 0},
		{"dim65536-2.1", 1 << 16, false, WriteOptions{Version: V2_1}, 5, 0},
		{"dim65536-2.2", 1 << 16, false, WriteOptions{Version: V2_2}, 0, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			dt := arrow.DataType(arrow.FixedSizeListOf(tc.dim, arrow.FixedWidthTypes.Boolean))
			if tc.list {
				dt = arrow.ListOf(dt)
			}
			sch := arrow.NewSchema([]arrow.Field{arrowtest.Nullable("m", dt)}, nil)
			var recs []arrow.Record
			for b := 0; b < 3; b++ {
				whole := boolVectors(mem, rowsFor(tc.dim)+b*41, tc.dim, tc.nullRow, tc.nullItem)
				a := array.NewSlice(whole, int64(1+b), int64(whole.Len()-3))
				whole.Release()
				if tc.list {
					a = wrapInLists(mem, a)
				}
				recs = append(recs, array.NewRecord(sch, []arrow.Array{a}, int64(a.Len())))
				a.Release()
			}
			defer releaseAll(recs)
			want := arrowtest.ConcatColumns(t, sch, recs)
			defer releaseAll2(want)
			dir := t.TempDir()
			p := filepath.Join(dir, "m.lance")
			if _, err := WriteFileWithOptions(p, mustFields(t, sch), recs, tc.opts); err != nil {
				t.Fatal(err)
			}
			checkBothReaders(t, p, sch, want, mem)
		})
	}
}

// wrapInLists makes a list array of a's values: list i holds i%4 of them
// (0: an empty list), every 10th list is null. It releases a.
func wrapInLists(mem memory.Allocator, a arrow.Array) arrow.Array {
	defer a.Release()
	offs := []int32{0}
	var valid []bool
	for i, pos := 0, 0; pos < a.Len(); i++ {
		k := min(i%4, a.Len()-pos)
		if i%10 == 9 {
			k = 0
		}
		pos += k
		offs = append(offs, int32(pos))
		valid = append(valid, i%10 != 9)
	}
	n := len(valid)
	data := array.NewData(arrow.ListOf(a.DataType()), n,
		[]*memory.Buffer{bitmapOf(valid), memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(offs))},
		[]arrow.ArrayData{a.Data()}, countFalse(valid), 0)
	defer data.Release()
	return array.MakeFromData(data)
}

// TestWriteBoolVectorsRefusesTooWide: bool vectors wider than any
// fixed_size_list the writer takes, or (at 2.1, whose mini-block chunks stay
// within 32 KiB) than one chunk holds, get a clear error.
func TestWriteBoolVectorsRefusesTooWide(t *testing.T) {
	for _, tc := range []struct {
		dim   int32
		v     Version
		words string
	}{
		{1<<20 + 1, V2_2, "fixed_size_list of 1048577 items is not supported"},
		{1 << 19, V2_1, "exceeds the format's limits"},
	} {
		t.Run(fmt.Sprint(tc.dim, "/", tc.v), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			sch := arrow.NewSchema([]arrow.Field{arrowtest.Nullable("m", arrow.FixedSizeListOf(tc.dim, arrow.FixedWidthTypes.Boolean))}, nil)
			var recs []arrow.Record
			if tc.dim <= 1<<20 {
				a := boolVectors(mem, 2, tc.dim, 0, 0)
				recs = append(recs, array.NewRecord(sch, []arrow.Array{a}, 2))
				a.Release()
			}
			defer releaseAll(recs)
			_, err := WriteFileWithOptions(filepath.Join(t.TempDir(), "m.lance"), mustFields(t, sch), recs, WriteOptions{Version: tc.v})
			if err == nil || !strings.Contains(err.Error(), tc.words) {
				t.Fatalf("got %v, want an error saying %q", err, tc.words)
			}
		})
	}
}

// rowsFor keeps the wide cases small.
func rowsFor(dim int32) int { return int(min(700, 1<<20/dim+10)) }
