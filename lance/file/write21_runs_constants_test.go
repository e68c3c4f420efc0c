package file

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/internal/arrowtest"
)

// runsAndConstants are columns with runs, constant values and nulls, each
// written by pylance 14 with the layout and value encoding (describe()
// without the level encodings) given per version: RLE for runs of numbers
// and dictionary indices, constant pages for a 2.2 page whose valid values
// are all equal, all-null pages.
var runsAndConstants = []encodingCase{
	{col21{"r2", arrow.PrimitiveTypes.Int32, nil, func(i int) any { return int32(i / 2) }},
		both("MiniBlockLayout[InlineBitpacking]")},
	{col21{"r4", arrow.PrimitiveTypes.Int32, nil, func(i int) any { return int32(i / 4) }},
		both("MiniBlockLayout[Rle(Flat,Flat)]")},
	{col21{"r300", arrow.PrimitiveTypes.Int32, nil, func(i int) any { return int32(i / 300) }},
		both("MiniBlockLayout[Rle(Flat,Flat)]")},
	{col21{"ru8", arrow.PrimitiveTypes.Uint8, nil, func(i int) any { return uint8(i / 1000) }},
		both("MiniBlockLayout[Rle(Flat,Flat)]")},
	{col21{"ri16", arrow.PrimitiveTypes.Int16, nil, func(i int) any { return int16(-i / 70) }},
		map[string]string{"2.1": "MiniBlockLayout[Rle(Flat,Flat)]"}}, // 2.2: we add a dictionary, pylance does not
	{col21{"rnull", arrow.PrimitiveTypes.Int32, nil, nullEvery(7, func(i int) any { return int32(i / 300) })},
		both("MiniBlockLayout[InlineBitpacking]")},
	{col21{"rf32", arrow.PrimitiveTypes.Float32, nil, func(i int) any { return float32(i/10) * 1.37 }},
		both("MiniBlockLayout[Rle(Flat,Flat)]")},
	{col21{"rstr", arrow.BinaryTypes.String, nil, func(i int) any { return fmt.Sprint("value-", i/300) }},
		both("MiniBlockLayout[Rle(Flat,Flat)]")},
	{col21{"cb", arrow.FixedWidthTypes.Boolean, nil, func(i int) any { return true }},
		map[string]string{"2.1": "MiniBlockLayout[Flat]", "2.2": "ConstantLayout[inline]"}},
	{col21{"cbn", arrow.FixedWidthTypes.Boolean, nil, nullEvery(3, func(i int) any { return false })},
		map[string]string{"2.1": "MiniBlockLayout[Flat]", "2.2": "ConstantLayout[inline]"}},
	{col21{"cf", arrow.PrimitiveTypes.Float64, nil, func(i int) any { return 2.5 }},
		map[string]string{"2.1": "MiniBlockLayout[Rle(Flat,Flat)]", "2.2": "ConstantLayout[inline]"}},
	{col21{"cs", arrow.BinaryTypes.String, nil, func(i int) any { return "sämé" }},
		map[string]string{"2.1": "MiniBlockLayout[InlineBitpacking]", "2.2": "ConstantLayout[scalar]"}},
	{col21{"csn", arrow.BinaryTypes.String, nil, nullEvery(4, func(i int) any { return "same" })},
		map[string]string{"2.1": "MiniBlockLayout[InlineBitpacking]", "2.2": "ConstantLayout[scalar]"}},
	{col21{"cls", arrow.BinaryTypes.LargeString, nil, func(i int) any { return "same" }},
		map[string]string{"2.1": "MiniBlockLayout[InlineBitpacking]", "2.2": "ConstantLayout[scalar]"}},
	{col21{"cbin", arrow.BinaryTypes.LargeBinary, nil, nullEvery(5, func(i int) any { return []byte{0, 1, 0xff} })},
		map[string]string{"2.1": "MiniBlockLayout[InlineBitpacking]", "2.2": "ConstantLayout[scalar]"}},
	{col21{"clong", arrow.BinaryTypes.String, nil, func(i int) any { return strings.Repeat("x", 400) }},
		map[string]string{"2.2": "ConstantLayout[scalar]"}}, // 2.1: pylance a dictionary, we full-zip
	{col21{"empty", arrow.BinaryTypes.String, nil, func(i int) any { return "" }},
		map[string]string{"2.2": "ConstantLayout[scalar]"}},
	{col21{"ni", arrow.PrimitiveTypes.Int64, nil, allNull}, both("ConstantLayout[null]")},
	{col21{"ns", arrow.BinaryTypes.String, nil, allNull}, both("ConstantLayout[null]")},
	{col21{"nb", arrow.FixedWidthTypes.Boolean, nil, allNull}, both("ConstantLayout[null]")},
}

func both(d string) map[string]string { return map[string]string{"2.1": d, "2.2": d} }

// valueLayout is a page description without its level encodings and
// dictionary (pylance compresses some dictionaries with lz4, we do not),
// and whether it has a dictionary.
func valueLayout(d string) (string, bool) {
	d, _, _ = strings.Cut(d, " def=")
	d, _, _ = strings.Cut(d, " rep=")
	d, _, dict := strings.Cut(d, " dict=")
	return d, dict
}

// encodingCase is a column and the layout and value encoding (describe()
// without levels and dictionary) pylance 14 gives its page, by version.
type encodingCase struct {
	col  col21
	want map[string]string
}

// TestWriteRunsAndConstantsLikePylance: runsAndConstants are written as
// pylance writes them (checkLikePylance).
func TestWriteRunsAndConstantsLikePylance(t *testing.T) {
	checkLikePylance(t, runsAndConstants, 20000, nil)
}

// checkLikePylance writes rows of the cases' columns with pylance and with
// our writer, at 2.1 and 2.2: pylance and our writer choose the layout and
// value encoding each case expects, and a dictionary alike; our reader and
// pylance read our file back exactly; a scalar constant's buffer is byte
// for byte pylance's.
func checkLikePylance(t *testing.T, cases []encodingCase, rows int, differ map[string]string) {
	cols := make([]col21, len(cases))
	wants := make([]map[string]string, len(cases))
	for i, c := range cases {
		cols[i] = c.col
		wants[i] = c.want
	}
	tc := case21{name: "cases", rows: rows, cols: cols}
	rec := tc.record()
	defer rec.Release()
	checkRecordLikePylance(t, rec, wants, differ)
}

// writeLikePylance has pylance and our writer write rec at file version ver
// (pylance's spelling, "2.1"), checks that both our readers read ours back
// exactly, and opens both files (closed when the test ends).
func writeLikePylance(t *testing.T, rec arrow.Record, ver string) (pylances, ours *Reader) {
	t.Helper()
	sch := rec.Schema()
	dir := t.TempDir()
	in, py, our := filepath.Join(dir, "in.arrow"), filepath.Join(dir, "py.lance"), filepath.Join(dir, "ours.lance")
	arrowtest.WriteIPCFile(t, in, sch, []arrow.Record{rec})
	runPylance(t, "writever", in, py, ver)
	if _, err := WriteFileWithOptions(our, mustFields(t, sch), []arrow.Record{rec}, WriteOptions{Version: Version{2, minorOf(ver)}}); err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	checkBothReaders(t, our, sch, rec.Columns(), mem)
	mem.AssertSize(t, 0)
	open := func(path string) *Reader {
		r, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	return open(py), open(our)
}

// checkRecordLikePylance is checkLikePylance for the leaf columns of rec,
// wants[c] the layout pylance gives leaf column c by version.
func checkRecordLikePylance(t *testing.T, rec arrow.Record, wants []map[string]string, differ map[string]string) {
	sch := rec.Schema()
	for _, ver := range versions21 {
		t.Run(ver, func(t *testing.T) {
			rp, ro := writeLikePylance(t, rec, ver)
			for ci, cw := range wants {
				name := fmt.Sprint("column ", ci)
				if ci < len(sch.Fields()) && len(wants) == len(sch.Fields()) {
					name = sch.Field(ci).Name
				}
				pd, od := rp.pageDescriptions(ci), ro.pageDescriptions(ci)
				if want, ok := cw[ver]; ok {
					if len(pd) != 1 || len(od) == 0 {
						t.Fatalf("%s: pages %v, pylance's %v", name, od, pd)
					}
					pv, pDict := valueLayout(pd[0])
					if pv != want {
						t.Errorf("%s: pylance wrote %v, the test expects %s", name, pd, want)
					}
					if o, ok := differ[name]; ok {
						want = o
					}
					for _, d := range od { // we may split a column into more pages
						if ov, oDict := valueLayout(d); ov != want || oDict != pDict {
							t.Errorf("%s: we wrote %v, pylance %v", name, od, pd)
						}
					}
				}
				if len(od) == 1 && od[0] == "ConstantLayout[scalar]" {
					pb, err1 := rp.readBuf(&rp.cols[ci].pages[0], 0)
					ob, err2 := ro.readBuf(&ro.cols[ci].pages[0], 0)
					if err1 != nil || err2 != nil || !bytes.Equal(pb, ob) {
						t.Errorf("%s: scalar buffer %x, pylance's %x (%v, %v)", name, ob, pb, err1, err2)
					}
				}
			}
		})
	}
}

// FuzzScalarBuffer: any string or binary value, with 32- or 64-bit
// offsets, makes a constant page's scalar buffer the reader decodes to it.
func FuzzScalarBuffer(f *testing.F) {
	f.Add([]byte("same"), false)
	f.Add([]byte{}, true)
	f.Add(bytes.Repeat([]byte{0xff}, 300), false)
	f.Fuzz(func(t *testing.T, v []byte, large bool) {
		ob := 32
		if large {
			ob = 64
		}
		blk, err := decodeScalarBuffer(scalarBuffer(v, ob))
		if err != nil {
			t.Fatal(err)
		}
		if blk.n != 1 || !bytes.Equal(blk.data[blk.offs[0]:blk.offs[1]], v) {
			t.Fatalf("decoded %q, want %q", blk.data, v)
		}
	})
}

// TestWriteNestedConstantsLikePylance: at 2.2 a list's or a struct's leaf
// whose valid values are all equal gets a constant page too, levels and
// all, as pylance writes it; runs under a list are run-length encoded.
func TestWriteNestedConstantsLikePylance(t *testing.T) {
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "li", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true},
		{Name: "ls", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		{Name: "lr", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true},
		{Name: "st", Type: arrow.StructOf(
			arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
			arrow.Field{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true}), Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	for i := 0; i < 5000; i++ {
		li, ls, lr := b.Field(0).(*array.ListBuilder), b.Field(1).(*array.ListBuilder), b.Field(2).(*array.ListBuilder)
		if i%11 == 0 {
			li.AppendNull()
			ls.AppendNull()
		} else {
			li.Append(true)
			ls.Append(true)
			for k := 0; k < i%3; k++ {
				li.ValueBuilder().(*array.Int32Builder).Append(7)
				if k == 1 && i%5 == 0 {
					ls.ValueBuilder().AppendNull()
				} else {
					ls.ValueBuilder().(*array.StringBuilder).Append("x")
				}
			}
		}
		lr.Append(true)
		lr.ValueBuilder().(*array.Int32Builder).AppendValues([]int32{int32(i / 100), int32(i / 100)}, nil)
		st := b.Field(3).(*array.StructBuilder)
		st.Append(true)
		st.FieldBuilder(0).(*array.Int64Builder).Append(3)
		if i%4 == 0 {
			st.FieldBuilder(1).AppendNull()
		} else {
			st.FieldBuilder(1).(*array.BooleanBuilder).Append(false)
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	rle := both("MiniBlockLayout[Rle(Flat,Flat)]")
	checkRecordLikePylance(t, rec, []map[string]string{
		{"2.1": "MiniBlockLayout[Rle(Flat,Flat)]", "2.2": "ConstantLayout[inline]"},
		{"2.2": "ConstantLayout[scalar]"},
		rle,
		{"2.1": "MiniBlockLayout[Rle(Flat,Flat)]", "2.2": "ConstantLayout[inline]"},
		{"2.2": "ConstantLayout[inline]"},
	}, nil)
}
