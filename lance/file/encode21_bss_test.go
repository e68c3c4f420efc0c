package file

import (
	"bytes"
	"math"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

// compressedNumbers are columns under a general codec: pylance 14
// byte-stream splits the 32- and 64-bit numbers (and dictionary indices)
// whose byte positions repeat enough, and leaves the others flat.
func compressedNumbers() []encodingCase {
	zstd := map[string]string{"lance-encoding:compression": "zstd"}
	lz4 := map[string]string{"lance-encoding:compression": "lz4"}
	rng := uint64(88172645463325252)
	noise := func(int) uint64 { // xorshift: every byte position random
		rng ^= rng << 13
		rng ^= rng >> 7
		rng ^= rng << 17
		return rng
	}
	return []encodingCase{
		{col21{"seq64", arrow.PrimitiveTypes.Int64, zstd, nullEvery(5, func(i int) any { return int64(i) * 1234567 })},
			both("MiniBlockLayout[General/zstd(ByteStreamSplit(Flat))]")},
		{col21{"seq32", arrow.PrimitiveTypes.Int32, lz4, func(i int) any { return int32(i * 7) }},
			both("MiniBlockLayout[General/lz4(ByteStreamSplit(Flat))]")},
		{col21{"dictionary", arrow.BinaryTypes.String, zstd, func(i int) any { return []string{"a", "bb", "ccc"}[i*7%11%3] }},
			both("MiniBlockLayout[General/zstd(ByteStreamSplit(Flat))]")},
		{col21{"thirds", arrow.PrimitiveTypes.Float64, zstd, func(i int) any { return float64(i) / 3 }},
			both("MiniBlockLayout[General/zstd(ByteStreamSplit(Flat))]")},
		{col21{"f32", arrow.PrimitiveTypes.Float32, zstd, func(i int) any { return float32(math.Sin(float64(i))) }},
			both("MiniBlockLayout[General/zstd(Flat)]")},
		{col21{"noise", arrow.PrimitiveTypes.Float64, zstd, func(i int) any { return math.Float64frombits(noise(i)) }},
			both("MiniBlockLayout[Flat]")},
	}
}

// TestWriteByteStreamSplitLikePylance: compressedNumbers are written as
// pylance writes them (checkLikePylance).
func TestWriteByteStreamSplitLikePylance(t *testing.T) {
	// pylance keeps a codec that saves little; we store plain.
	ours := map[string]string{"f32": "MiniBlockLayout[Flat]"}
	checkLikePylance(t, compressedNumbers(), 10000, ours)
}

func TestSplitBytesRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		w, n int
	}{{"f32", 4, 1000}, {"f64", 8, 3}, {"one", 8, 1}, {"none", 4, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			raw := make([]byte, tc.w*tc.n)
			for i := range raw {
				raw[i] = byte(i * 7 / 3)
			}
			split := splitBytes([]byte{9}, raw, tc.w)[1:]
			blk, err := byteStreamSplit(8*tc.w, split, tc.n)
			if err != nil || !bytes.Equal(blk.data, raw) {
				t.Fatalf("%x -> %x -> %x (%v)", raw, split, blk.data, err)
			}
		})
	}
}

// FuzzByteStreamSplit: any 32- or 64-bit values split and join to
// themselves through the reader's decoder and the encoding message.
func FuzzByteStreamSplit(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, false)
	f.Add(bytes.Repeat([]byte{0, 0, 0x80, 0x3f}, 9), true)
	f.Fuzz(func(t *testing.T, raw []byte, wide bool) {
		w := 4
		if wide {
			w = 8
		}
		n := len(raw) / w
		raw = raw[:n*w]
		e, err := decodeCompressive(encBss21(8*w), 0)
		if err != nil {
			t.Fatal(err)
		}
		blk, err := decodeMini(e, [][]byte{splitBytes(nil, raw, w)}, n, nil)
		if err != nil || !bytes.Equal(blk.data, raw) {
			t.Fatalf("%x -> %x (%v)", raw, blk.data, err)
		}
		if h := byteEntropy([][][]byte{{raw}}, w); h < 0 || h > 8 {
			t.Fatalf("entropy %v bits", h)
		}
	})
}
