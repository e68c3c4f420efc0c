package file

import (
	"encoding/binary"
	"math/rand"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// listFile writes rows of list<int64> (lists of 0..40 items, some null)
// and list<list<int32>> with our 2.2 writer, in pages of many mini-block
// chunks, and returns the file image and the rows.
func listFile(t *testing.T, rows int) ([]byte, arrow.Record) {
	t.Helper()
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64), Nullable: true},
		{Name: "ll", Type: arrow.ListOf(arrow.ListOf(arrow.PrimitiveTypes.Int32)), Nullable: true},
	}, nil)
	rb := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer rb.Release()
	rng := rand.New(rand.NewSource(7))
	lb := rb.Field(0).(*array.ListBuilder)
	llb := rb.Field(1).(*array.ListBuilder)
	inner := llb.ValueBuilder().(*array.ListBuilder)
	for i := 0; i < rows; i++ {
		if i%17 == 5 {
			lb.AppendNull()
		} else {
			lb.Append(true)
			for k, m := 0, rng.Intn(41); k < m; k++ {
				lb.ValueBuilder().(*array.Int64Builder).Append(int64(i*100 + k))
			}
		}
		llb.Append(true)
		for k, m := 0, rng.Intn(4); k < m; k++ {
			inner.Append(true)
			for j, mm := 0, rng.Intn(3); j < mm; j++ {
				inner.ValueBuilder().(*array.Int32Builder).Append(int32(j))
			}
		}
	}
	rec := rb.NewRecord()
	p := filepath.Join(t.TempDir(), "lists.lance")
	if _, err := WriteFileWithOptions(p, mustFields(t, sch), []arrow.Record{rec}, WriteOptions{Version: V2_2, MaxPageBytes: 64 << 10}); err != nil {
		t.Fatal(err)
	}
	b, err := readFileBytes(p)
	if err != nil {
		t.Fatal(err)
	}
	return b, rec
}

// TestRepetitionIndexReads: short reads anywhere in list pages of our own
// writer (which they decode through the repetition index) equal the same
// rows of a full read; a damaged index gives an error or the right number
// of rows, never a panic.
func TestRepetitionIndexReads(t *testing.T) {
	img, want := listFile(t, 6000)
	defer want.Release()
	sch := want.Schema()
	cols := []int{0, 1}
	r, err := openBytes(img)
	if err != nil {
		t.Fatal(err)
	}
	indexed := 0
	for c := range r.cols {
		for _, p := range r.cols[c].pages {
			if p.layout != nil && p.layout.repIndexDepth > 0 {
				indexed++
			}
		}
	}
	if indexed < 4 {
		t.Fatalf("only %d pages with a repetition index", indexed)
	}
	n := r.NumRows()
	var ranges [][2]int64
	for off := int64(0); off < n; off += 1 + n/300 {
		ranges = append(ranges, [2]int64{off, 1}, [2]int64{off, min(5, n-off)})
	}
	ranges = append(ranges, [2]int64{n - 1, 1}, [2]int64{0, n})
	for _, rg := range ranges {
		rec, err := r.Read(sch, cols, rg[0], rg[1], memory.DefaultAllocator)
		if err != nil {
			t.Fatalf("Read(%d, %d): %v", rg[0], rg[1], err)
		}
		for i := range cols {
			exp := array.NewSlice(want.Column(i), rg[0], rg[0]+rg[1])
			if !array.Equal(exp, rec.Column(i)) {
				t.Fatalf("Read(%d, %d) column %d:\n got %v\nwant %v", rg[0], rg[1], i, trunc(rec.Column(i)), trunc(exp))
			}
			exp.Release()
		}
		rec.Release()
	}

	damage := []struct {
		name string
		word func(rng *rand.Rand, old uint64) uint64
	}{
		{"zero", func(*rand.Rand, uint64) uint64 { return 0 }},
		{"huge", func(*rand.Rand, uint64) uint64 { return ^uint64(0) }},
		{"off by one", func(_ *rand.Rand, old uint64) uint64 { return old + 1 }},
		{"random", func(rng *rand.Rand, _ uint64) uint64 { return uint64(rng.Intn(200)) }},
	}
	for _, d := range damage {
		t.Run(d.name, func(t *testing.T) {
			bad := append([]byte(nil), img...)
			rng := rand.New(rand.NewSource(1))
			for c := range r.cols {
				for _, p := range r.cols[c].pages {
					if p.layout == nil || p.layout.repIndexDepth == 0 {
						continue
					}
					last := len(p.bufOffsets) - 1
					for off := p.bufOffsets[last]; off+8 <= p.bufOffsets[last]+p.bufSizes[last]; off += 8 {
						if rng.Intn(3) == 0 {
							binary.LittleEndian.PutUint64(bad[off:], d.word(rng, binary.LittleEndian.Uint64(bad[off:])))
						}
					}
				}
			}
			br, err := openBytes(bad)
			if err != nil {
				t.Fatal(err)
			}
			for _, rg := range ranges {
				rec, err := br.Read(sch, cols, rg[0], rg[1], memory.DefaultAllocator)
				if err != nil {
					continue
				}
				if rec.NumRows() != rg[1] {
					t.Fatalf("Read(%d, %d) returned %d rows", rg[0], rg[1], rec.NumRows())
				}
				rec.Release()
			}
		})
	}
}
