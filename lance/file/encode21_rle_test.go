package file

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// rleRoundTrip encodes the n w-byte values of raw with RLE, checks the
// encoder's size accounting, and decodes them with the reader's decoder,
// through the encoding message the writer stores.
func rleRoundTrip(t *testing.T, raw []byte, w, n int) (vals, lens []byte) {
	t.Helper()
	vals, lens = appendRle(nil, nil, raw, w, n)
	if runs := rleRuns(raw, w, n, n+1); runs != len(lens) || len(vals) != runs*w {
		t.Fatalf("%d runs counted, %d written (%d value bytes)", runs, len(lens), len(vals))
	}
	e, err := decodeCompressive(encRle21(8*w), 0)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := decodeMini(e, [][]byte{vals, lens}, n, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(blk.data, raw[:n*w]) || blk.bits != 8*w {
		t.Fatalf("%d-bit: decoded %x, want %x", 8*w, blk.data, raw[:n*w])
	}
	return vals, lens
}

func TestRleRoundTrip(t *testing.T) {
	runsOf := func(w int, lengths ...int) []byte {
		var b []byte
		for k, l := range lengths {
			for i := 0; i < l; i++ {
				b = binary.LittleEndian.AppendUint64(b, uint64(k*0x0101010101010101+1))[:len(b)+w]
			}
		}
		return b
	}
	for _, tc := range []struct {
		name     string
		w        int
		raw      []byte
		wantRuns int
	}{
		{"one value", 4, runsOf(4, 1), 1},
		{"no runs", 1, runsOf(1, 1, 1, 1, 1), 4},
		{"short runs", 2, runsOf(2, 3, 1, 7), 3},
		{"run of 255", 8, runsOf(8, 255), 1},
		{"run of 256 splits", 8, runsOf(8, 256), 2},
		{"long runs", 4, runsOf(4, 1000, 3, 600), 4 + 1 + 3},
		{"empty", 8, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := len(tc.raw) / tc.w
			_, lens := rleRoundTrip(t, tc.raw, tc.w, n)
			if len(lens) != tc.wantRuns {
				t.Fatalf("%d runs, want %d", len(lens), tc.wantRuns)
			}
		})
	}
}

// TestRleChoice: a page's integers are run-length encoded when their runs
// take fewer bytes than their bit-packed form, as pylance chooses.
func TestRleChoice(t *testing.T) {
	for _, tc := range []struct {
		name    string
		runLen  int
		wantRle bool
	}{
		{"runs of 1", 1, false},
		{"runs of 2", 2, false}, // packing 15 bits beats 5 bytes a run
		{"runs of 4", 4, true},
		{"runs of 300", 300, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 20000
			raw := make([]byte, 4*n)
			for i := 0; i < n; i++ {
				binary.LittleEndian.PutUint32(raw[4*i:], uint32(i/tc.runLen))
			}
			var plans []chunkPlan
			var bufs [][][]byte
			for v := 0; v < n; v += 1024 {
				e := min(v+1024, n)
				plans = append(plans, chunkPlan{v0: v, v1: e, last: e == n})
				bufs = append(bufs, [][]byte{raw[4*v : 4*e]})
			}
			packed := packedChunksSize(bufs, plans, 32)
			if got := rleSize(bufs, plans, 4, packed) < packed; got != tc.wantRle {
				t.Fatalf("RLE chosen %v, want %v (packed %d bytes)", got, tc.wantRle, packed)
			}
		})
	}
}

// FuzzRle: any values of any width, as they are or stretched into runs,
// run-length encode and decode to themselves.
func FuzzRle(f *testing.F) {
	f.Add(uint8(2), []byte{1, 2, 3, 4, 5, 6, 7, 8, 9}, uint8(0))
	f.Add(uint8(0), []byte{0xff, 0xff, 0, 0xff}, uint8(200))
	f.Add(uint8(3), bytes.Repeat([]byte{7}, 64), uint8(37))
	f.Fuzz(func(t *testing.T, ws uint8, raw []byte, stretch uint8) {
		w := []int{1, 2, 4, 8}[ws%4]
		var vals []byte
		for i := 0; i+w <= len(raw) && len(vals) < 1<<16; i += w {
			for k := 0; k <= int(stretch)*int(raw[i]%4); k++ {
				vals = append(vals, raw[i:i+w]...)
			}
		}
		rleRoundTrip(t, vals, w, len(vals)/w)
	})
}
