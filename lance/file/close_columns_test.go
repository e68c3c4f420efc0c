package file

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestCloseDropsWrittenPages writes a wide file whose pages all wait for
// Close (one pending string page per column) and, each time Close has
// written a column's page, collects garbage and measures the live heap:
// what the columns already written held (their offsets, the copy of their
// values, their encoded page) must be gone, and no more than a few columns
// may be encoded ahead of the one written, so the heap never grows by much
// more than a few columns' pages, however many columns the file has.
func TestCloseDropsWrittenPages(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2)) // encoded ahead: at most 4
	const cols, colBytes = 32, 1 << 20
	cases := []struct {
		name  string
		value func(i int) string
	}{
		{"fsst", func(i int) string { // a copy to compress, the compressed page
			return fmt.Sprintf("event %06d from sensor-%03d: temperature nominal, pressure nominal, status ok", i, i%977)
		}},
		{"dictionary", func(i int) string { // a copy to look up, the indices
			return strings.Repeat("status ", 12) + fmt.Sprint(i%40)
		}},
		{"full-zip", func(i int) string { // a copy, written at Close
			return fmt.Sprintf("%0300d", i*7919)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rows := colBytes / len(tc.value(0))
			// One array for every column: the columns' own memory is not what Close adds.
			rec := wideStringRecord(cols, rows, tc.value)
			defer rec.Release()
			sw, err := CreateStream(tempPath(t, "wide.lance"), mustFields(t, rec.Schema()), WriteOptions{Version: V2_1, NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			if err := sw.Write(rec); err != nil {
				t.Fatal(err)
			}
			liveHeap := func() int64 {
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				return int64(ms.HeapAlloc)
			}
			before := liveHeap()
			written, peak := 0, before
			afterLeafClosed = func() {
				written++
				peak = max(peak, liveHeap())
			}
			defer func() { afterLeafClosed = nil }()
			if _, err := sw.Close(); err != nil {
				t.Fatal(err)
			}
			if written != cols {
				t.Fatalf("the hook saw %d pages written, want %d", written, cols)
			}
			// Four columns encoded ahead (2*GOMAXPROCS) and one written,
			// each a copy and an encoding of about 1.6*colBytes at most:
			// 8 columns' worth (measured), 12 with a margin; the old Close,
			// holding every column's, grew by 1.1-1.4*cols*colBytes.
			grew := peak - before
			t.Logf("live heap %.1f MiB before Close, at most %.1f MiB more while it wrote", float64(before)/(1<<20), float64(grew)/(1<<20))
			if grew > 12*colBytes {
				t.Errorf("the live heap grew by %.1f MiB while Close wrote %d columns of %.1f MiB (at most %.1f MiB expected)",
					float64(grew)/(1<<20), cols, float64(colBytes)/(1<<20), 12.0*colBytes/(1<<20))
			}
		})
	}
}

// TestCloseEncoderPanicIsAnError breaks one leaf's pending page so that
// encoding it panics on an encoder goroutine: Close must return that as an
// error naming the column, wait for the encoders it started, and remove the
// file, whichever leaf breaks.
func TestCloseEncoderPanicIsAnError(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	const cols = 6
	for _, broken := range []int{0, 2, cols - 1} {
		t.Run(fmt.Sprint("column ", broken), func(t *testing.T) {
			rec := wideStringRecord(cols, 5000, func(i int) string { return fmt.Sprintf("value %d of a string column", i) })
			defer rec.Release()
			path := tempPath(t, "broken.lance")
			sw, err := CreateStream(path, mustFields(t, rec.Schema()), WriteOptions{Version: V2_1, NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			if err := sw.Write(rec); err != nil {
				t.Fatal(err)
			}
			l := sw.cols[broken].(*fieldWriter21).leaves[0]
			l.p.offs = l.p.offs[:0] // the encoder indexes past the end
			_, err = sw.Close()
			want := fmt.Sprintf(`column "s%d": field "s%d": internal error encoding a page`, broken, broken)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("Close: %v, want an error containing %q", err, want)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("the file is still there after a failed Close (stat: %v)", err)
			}
		})
	}
}

// wideStringRecord is a record of cols string columns s0, s1 ... that all
// hold the same array of rows values value(0), value(1) ...
func wideStringRecord(cols, rows int, value func(i int) string) arrow.Record {
	b := array.NewStringBuilder(memory.NewGoAllocator())
	defer b.Release()
	for i := range rows {
		b.Append(value(i))
	}
	col := b.NewArray()
	defer col.Release()
	fields := make([]arrow.Field, cols)
	arrs := make([]arrow.Array, cols)
	for i := range fields {
		fields[i] = arrow.Field{Name: fmt.Sprint("s", i), Type: arrow.BinaryTypes.String}
		arrs[i] = col
	}
	return array.NewRecord(arrow.NewSchema(fields, nil), arrs, int64(rows))
}
