package file

import (
	"bytes"
	"math/rand"
	"testing"
)

// TestNextNonZero: the word-at-a-time scan finds the same level as a plain
// one, at every start, around the 8-level steps and the tail.
func TestNextNonZero(t *testing.T) {
	for _, levels := range [][]uint16{
		nil,
		{0},
		{1},
		{0, 0, 0, 0, 0, 0, 0, 0},
		{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2},
		{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0},
		{0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0},
	} {
		for i := 0; i <= len(levels); i++ {
			want := i
			for want < len(levels) && levels[want] == 0 {
				want++
			}
			if got := nextNonZero(levels, i); got != want {
				t.Errorf("nextNonZero(%v, %d) = %d, want %d", levels, i, got, want)
			}
		}
	}
}

// TestUnpackBlockEveryWidth: unpacking what the reference packer packed
// gives the values back, for every word size and width (t = 16, the
// levels' size, has its own unpacker).
func TestUnpackBlockEveryWidth(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for _, tb := range []int{8, 16, 32, 64} {
		for w := 0; w <= tb; w++ {
			raw := make([]byte, 1024*tb/8)
			rng.Read(raw)
			want := maskValues(tb, w, raw)
			got := make([]byte, len(want))
			if err := unpackBlock(tb, w, packBlockRef(tb, w, want), got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("t=%d w=%d: unpacked values differ", tb, w)
			}
		}
	}
}
