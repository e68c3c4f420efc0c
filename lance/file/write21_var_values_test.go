package file

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestStringEncodersReadTheArrays: a flat string page's FSST encoding and
// dictionary read from the appended arrays (pageValues over them: no
// copy) are the ones read from the copy materializeVar makes, byte for
// byte: arrays sliced, with nulls, offsets that do not start at 0. A null
// holding bytes makes the page use the copy.
func TestStringEncodersReadTheArrays(t *testing.T) {
	mem := memory.NewGoAllocator()
	urls := func(i int) string { return fmt.Sprintf("https://example.com/items/%d?ref=%d", i*7, i%13) }
	build := func(rows int, value func(int) string, null func(i int) bool) arrow.Array {
		b := array.NewStringBuilder(mem)
		defer b.Release()
		for i := range rows {
			if null(i) {
				b.AppendNull()
				continue
			}
			b.Append(value(i))
		}
		return b.NewArray()
	}
	never := func(int) bool { return false }
	// A null with bytes: its slot spans bytes of the array's data buffer.
	withBytes := func(value func(int) string) arrow.Array {
		a := build(3000, value, never)
		defer a.Release()
		valid := make([]byte, (a.Len()+7)/8)
		for i := range a.Len() {
			if i%5 != 0 {
				bitutil.SetBit(valid, i)
			}
		}
		d := a.Data()
		return array.NewStringData(array.NewData(d.DataType(), d.Len(),
			[]*memory.Buffer{memory.NewBufferBytes(valid), d.Buffers()[1], d.Buffers()[2]}, nil, array.UnknownNullCount, 0))
	}
	layouts := []struct {
		name     string
		arrays   func(value func(int) string) []arrow.Array
		zeroCopy bool
	}{
		{"one array", func(value func(int) string) []arrow.Array { return []arrow.Array{build(5000, value, never)} }, true},
		{"three arrays with nulls", func(value func(int) string) []arrow.Array {
			return []arrow.Array{build(2000, value, func(i int) bool { return i%3 == 0 }), build(10, value, func(int) bool { return true }),
				build(3000, value, func(i int) bool { return i%7 == 1 })}
		}, true},
		{"slices", func(value func(int) string) []arrow.Array {
			a := build(6000, value, func(i int) bool { return i%11 == 0 })
			defer a.Release()
			return []arrow.Array{array.NewSlice(a, 1000, 3500), array.NewSlice(a, 17, 900), array.NewSlice(a, 4000, 6000)}
		}, true},
		{"nulls with bytes", func(value func(int) string) []arrow.Array {
			return []arrow.Array{withBytes(value), build(2000, value, never)}
		}, false},
	}
	fsst := func(t *testing.T, lw *leafWriter, pv *pageValues) []byte {
		enc := learnFsst(pv)
		defer enc.release()
		f := &pageFsst{ends: make([]uint64, len(pv.ends))}
		f.compressParallel(enc, pv, 3)
		if len(f.data) == 0 || len(f.data) >= int(lw.p.offs[lw.p.nVis-1]) {
			t.Errorf("%d values compressed to %d bytes: not a test of FSST", lw.p.nValid, len(f.data))
		}
		out := append(enc.table(), f.data...)
		for _, e := range f.ends {
			out = fmt.Append(out, e, ",")
		}
		return out
	}
	dict := func(t *testing.T, lw *leafWriter, pv *pageValues) []byte {
		d := lw.varDict(pv)
		if d == nil {
			t.Fatal("no dictionary: not a test of dictionaries")
		}
		return fmt.Append(d.block, d.idx)
	}
	encoders := []struct {
		name   string
		value  func(int) string
		encode func(t *testing.T, lw *leafWriter, pv *pageValues) []byte
	}{
		{"fsst", urls, fsst},
		{"dictionary of short strings", func(i int) string { return fmt.Sprint("r", i%37) }, dict},
		{"dictionary", func(i int) string { return fmt.Sprint("https://example.com/region/", i%37) }, dict},
	}
	for _, enc := range encoders {
		for _, tc := range layouts {
			t.Run(enc.name+", "+tc.name, func(t *testing.T) {
				fields := mustFields(t, arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}}, nil))
				cols, _, err := newTopWriters(fields, V2_1, "", WriteOptions{})
				if err != nil {
					t.Fatal(err)
				}
				w := newFileWriter(io.Discard)
				defer w.release()
				for _, a := range tc.arrays(enc.value) {
					if err := cols[0].append(w, a); err != nil {
						t.Fatal(err)
					}
					a.Release()
				}
				lw := cols[0].(*fieldWriter21).leaves[0]
				fromArrays := lw.varValues()
				if copied := cap(lw.p.data) > 0; copied == tc.zeroCopy {
					t.Fatalf("the page's values copied: %v, want %v", copied, !tc.zeroCopy)
				}
				got := enc.encode(t, lw, fromArrays)
				lw.materializeVar()
				want := enc.encode(t, lw, contiguousValues(lw.p.data, lw.p.offs[:lw.p.nVis]))
				if !bytes.Equal(got, want) {
					t.Errorf("the encoding from the arrays differs from the one from the copy (%d vs %d bytes)", len(got), len(want))
				}
			})
		}
	}
}
