package file

import (
	"encoding/binary"
	"testing"
)

// FuzzInlineBitpack: any integers of any word size pack (InlineBitpacking)
// and unpack to themselves.
func FuzzInlineBitpack(f *testing.F) {
	f.Add(uint8(3), []byte{1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add(uint8(0), []byte{0xff})
	f.Fuzz(func(t *testing.T, ws uint8, raw []byte) {
		tb := []int{8, 16, 32, 64}[ws%4]
		n := len(raw) / (tb / 8)
		raw = raw[:n*tb/8]
		packed := packInline(nil, tb, raw, n)
		if len(packed) != packedInlineSize(tb, raw, n) {
			t.Fatalf("size %d, predicted %d", len(packed), packedInlineSize(tb, raw, n))
		}
		out, err := unpackInline(tb, packed, n, nil)
		if err != nil || string(out) != string(raw) {
			t.Fatalf("%d-bit: %x -> %x (%v)", tb, raw, out, err)
		}
	})
}

// FuzzPackedLevels: any levels pack (OutOfLineBitpacking at their width)
// and unpack to themselves, raw tail or packed.
func FuzzPackedLevels(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0, 1, 0})
	f.Add(make([]byte, 2*1500))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ls := make([]uint16, len(raw)/2)
		for i := range ls {
			ls[i] = binary.LittleEndian.Uint16(raw[2*i:]) % 300
		}
		w := levelWidth(ls)
		if w == 0 {
			return
		}
		packed := appendPackedLevels(nil, ls, w)
		if len(packed) != packedLevelsSize(len(ls), w) {
			t.Fatalf("size %d, predicted %d", len(packed), packedLevelsSize(len(ls), w))
		}
		out, err := unpackOutOfLine(16, w, packed, len(ls), nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range ls {
			if got := binary.LittleEndian.Uint16(out[2*i:]); got != l {
				t.Fatalf("level %d: %d, want %d", i, got, l)
			}
		}
	})
}

// FuzzDictBlock: a dictionary's Variable block decodes to its items.
func FuzzDictBlock(f *testing.F) {
	f.Add([]byte("abcdef"), []byte{2, 0, 3}, false)
	f.Fuzz(func(t *testing.T, data, cuts []byte, large bool) {
		var ends []uint64
		var e uint64
		for _, c := range cuts {
			e = min(e+uint64(c), uint64(len(data)))
			ends = append(ends, e)
		}
		ob := 32
		if large {
			ob = 64
		}
		blk, err := variableBlock(varBlock(ob, ends, data[:e]), len(ends))
		if err != nil {
			t.Fatal(err)
		}
		var start uint64
		for i, end := range ends {
			if got := string(blk.data[blk.offs[i]:blk.offs[i+1]]); got != string(data[start:end]) {
				t.Fatalf("item %d: %q, want %q", i, got, data[start:end])
			}
			start = end
		}
	})
}
