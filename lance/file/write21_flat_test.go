package file

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/internal/queuebatch"
	"github.com/persisting/persisting/lance/internal/arrowtest"
)

// stringsWithFilledNulls is a string array whose null slots hold bytes
// (Arrow allows it; the bytes are not values and must not be written).
func stringsWithFilledNulls(n int) arrow.Array {
	var data []byte
	offs := []int32{0}
	valid := make([]byte, (n+7)/8)
	for i := 0; i < n; i++ {
		if i%3 == 1 {
			data = append(data, "NULL-JUNK"[:i%9]...)
		} else {
			data = append(data, fmt.Sprintf("v%d", i)...)
			valid[i/8] |= 1 << (i % 8)
		}
		offs = append(offs, int32(len(data)))
	}
	ob := make([]byte, 4*len(offs))
	for i, o := range offs {
		ob[4*i], ob[4*i+1], ob[4*i+2], ob[4*i+3] = byte(o), byte(o>>8), byte(o>>16), byte(o>>24)
	}
	d := array.NewData(arrow.BinaryTypes.String, n,
		[]*memory.Buffer{memory.NewBufferBytes(valid), memory.NewBufferBytes(ob), memory.NewBufferBytes(data)},
		nil, array.UnknownNullCount, 0)
	defer d.Release()
	return array.MakeFromData(d)
}

// TestWriteFlatSegments: flat columns are written from the appended arrays
// themselves (no copy), so chunks and pages span arrays, start inside them
// (slices, unaligned bool offsets) and skip the bytes of null slots. Our
// reader and pylance read back exactly the input in every layout.
func TestWriteFlatSegments(t *testing.T) {
	queue := queuebatch.Schema()
	var queueRecs []arrow.Record
	for i, n := range []int{3000, 1, 4099, 777} {
		queueRecs = append(queueRecs, queuebatch.Batch(n, int64(i*10000), int64(i)))
	}
	// Slices at odd offsets: bool bits and values start mid-buffer.
	queueRecs = append(queueRecs, queueRecs[0].NewSlice(3, 2001), queueRecs[2].NewSlice(1027, 4090))

	filled := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	arr := stringsWithFilledNulls(5000)
	whole := array.NewRecord(filled, []arrow.Array{arr}, int64(arr.Len()))
	arr.Release()
	filledRecs := []arrow.Record{whole, whole.NewSlice(5, 4000), whole.NewSlice(1, 2)}

	rng := rand.New(rand.NewSource(5))
	long := arrow.NewSchema([]arrow.Field{
		{Name: "ls", Type: arrow.BinaryTypes.LargeString, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	}, nil)
	gen := arrowtest.GenOptions{NullRate: 0.2, LongRate: 0.05}
	longRecs := []arrow.Record{arrowtest.GenRecord(rng, long, 1500, gen), arrowtest.GenRecord(rng, long, 300, gen)}
	longRecs = append(longRecs, longRecs[0].NewSlice(7, 600))

	t.Cleanup(func() { releaseAll(queueRecs); releaseAll(filledRecs); releaseAll(longRecs) })
	// The parallel subtests below write the same records at once: their
	// lazily cached null counts are settled first, as any concurrent
	// readers of one arrow-go array must.
	for _, recs := range [][]arrow.Record{queueRecs, filledRecs, longRecs} {
		for _, rec := range recs {
			for _, col := range rec.Columns() {
				settleNullCounts(col)
			}
		}
	}
	for _, tc := range []struct {
		name string
		sch  *arrow.Schema
		recs []arrow.Record
		opts WriteOptions
	}{
		{"queue one page", queue, queueRecs, WriteOptions{Version: V2_2}},
		{"queue small pages", queue, queueRecs, WriteOptions{Version: V2_2, MaxPageBytes: 20 << 10}},
		{"queue page rows", queue, queueRecs, WriteOptions{Version: V2_1, MaxPageRows: 1000}},
		{"queue zstd", queue, queueRecs, WriteOptions{Version: V2_2, Compression: "zstd", MaxPageBytes: 64 << 10}},
		{"filled nulls", filled, filledRecs, WriteOptions{Version: V2_2, MaxPageBytes: 8 << 10}},
		{"filled nulls lz4", filled, filledRecs, WriteOptions{Version: V2_1, Compression: "lz4"}},
		{"long values full-zip", long, longRecs, WriteOptions{Version: V2_2, MaxPageRows: 400}},
		{"long values one full-zip page", long, longRecs, WriteOptions{Version: V2_1}}, // ~100 KiB > zipPiece
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			p := filepath.Join(dir, "w.lance")
			if _, err := WriteFileWithOptions(p, mustFields(t, tc.sch), tc.recs, tc.opts); err != nil {
				t.Fatal(err)
			}
			want := arrowtest.ConcatColumns(t, tc.sch, tc.recs)
			checkBothReaders(t, p, tc.sch, want, memory.DefaultAllocator)
		})
	}
}

func releaseArrays(as []arrow.Array) {
	for _, a := range as {
		a.Release()
	}
}

// settleNullCounts computes arr's null counts (its children's too) on the
// calling goroutine: arrow-go caches a null count on first use without
// synchronisation, so writers sharing an array would race on it.
func settleNullCounts(arr arrow.Array) {
	arr.NullN()
	switch a := arr.(type) {
	case array.ListLike:
		settleNullCounts(a.ListValues())
	case *array.Struct:
		for i := 0; i < a.NumField(); i++ {
			settleNullCounts(a.Field(i))
		}
	}
}
