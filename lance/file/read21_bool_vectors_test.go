package file

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/internal/arrowtest"
)

// boolVectors is n fixed_size_list<bool>[dim] rows; every nullRowEvery-th row
// is null and every nullItemEvery-th item is null (0: none).
func boolVectors(mem memory.Allocator, n int, dim int32, nullRowEvery, nullItemEvery int) arrow.Array {
	b := array.NewFixedSizeListBuilder(mem, dim, arrow.FixedWidthTypes.Boolean)
	defer b.Release()
	vb := b.ValueBuilder().(*array.BooleanBuilder)
	item := 0
	for i := 0; i < n; i++ {
		b.Append(nullRowEvery == 0 || i%nullRowEvery != 0)
		for j := 0; j < int(dim); j++ {
			item++
			if nullItemEvery > 0 && item%nullItemEvery == 0 {
				vb.AppendNull()
			} else {
				vb.Append((i*7+j*3)%5 < 2)
			}
		}
	}
	return b.NewArray()
}

// Masks and other bool tensors: pylance 14 writes fixed_size_list<bool> as
// mini-block FixedSizeList(Flat) pages of 1-bit items, so a row is dim bits
// that need not start on a byte. Our reader must read them exactly, in pages
// of several chunks and with nulls at both levels.
func TestReadPylanceBoolVectors(t *testing.T) {
	cases := []struct {
		dim                         int32
		nullRowEvery, nullItemEvery int
	}{
		{1, 0, 0}, {3, 0, 0}, {8, 0, 0}, {13, 0, 0}, {64, 0, 0},
		{3, 10, 0}, {13, 0, 17}, {5, 7, 11}, {9, 1, 0}, // {9, 1, 0}: all null
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("dim%d_rownull%d_itemnull%d", c.dim, c.nullRowEvery, c.nullItemEvery), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			arr := boolVectors(mem, 9000, c.dim, c.nullRowEvery, c.nullItemEvery)
			defer arr.Release()
			sch := arrow.NewSchema([]arrow.Field{{Name: "m", Type: arr.DataType(), Nullable: true}}, nil)
			rec := array.NewRecord(sch, []arrow.Array{arr}, int64(arr.Len()))
			defer rec.Release()
			for _, ver := range versions21 {
				dir := t.TempDir()
				in, py := filepath.Join(dir, "in.arrow"), filepath.Join(dir, "py.lance")
				arrowtest.WriteIPCFile(t, in, sch, []arrow.Record{rec})
				runPylance(t, "writever", in, py, ver)
				got := readAllColumns(t, py, sch, mem)
				diffColumns(t, "our reader of pylance "+ver, sch, rec.Columns(), got)
				releaseAll2(got)
			}
		})
	}
}
