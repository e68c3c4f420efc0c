package file

import (
	"bytes"
	"fmt"
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
		{0, 0, 0, 0, 0, 0x100, 0, 0, 0, 0, 0x8000, 0, 0, 0, 0, 0, 0}, // high bytes only
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
// gives the values back, for every word size and width, from and into
// aligned and unaligned buffers.
func TestUnpackBlockEveryWidth(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for _, tb := range []int{8, 16, 32, 64} {
		for w := 0; w <= tb; w++ {
			raw := make([]byte, 1024*tb/8)
			rng.Read(raw)
			want := maskValues(tb, w, raw)
			packed := packBlockRef(tb, w, want)
			// aligned buffers are read as words in place, others copied
			for _, shift := range []int{0, 1} {
				in := append(make([]byte, shift), packed...)[shift:]
				got := make([]byte, len(want)+shift)[shift:]
				if err := unpackBlock(tb, w, in, got); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("t=%d w=%d shift=%d: unpacked values differ", tb, w, shift)
				}
			}
		}
	}
}

// TestUnravel: canonical levels to per-layer slots, with and without def
// levels, one and two list layers, and the level errors unravel reports.
func TestUnravel(t *testing.T) {
	list := []bool{false, true}
	for _, tc := range []struct {
		name     string
		rep, def []uint16
		kinds    []bool
		nVals    int
		want     []layerSlots // nil: an error
	}{
		{"all valid", []uint16{1, 0, 0, 1, 0}, nil, list, 5,
			[]layerSlots{{n: 5}, {n: 2, offsets: []int64{0, 3, 5}}}},
		{"list of lists", []uint16{2, 1, 0, 2, 0}, nil, []bool{false, true, true}, 5,
			[]layerSlots{{n: 5}, {n: 3, offsets: []int64{0, 1, 3, 5}}, {n: 2, offsets: []int64{0, 2, 3}}}},
		{"struct of list", []uint16{1, 0, 1}, nil, []bool{false, true, false}, 3,
			[]layerSlots{{n: 3}, {n: 2, offsets: []int64{0, 2, 3}}, {n: 2}}},
		// null item, null list, empty list
		{"nulls", []uint16{1, 0, 1, 1}, []uint16{0, 1, 2, 3}, list, 2,
			[]layerSlots{{n: 2, valid: []bool{true, false}}, {n: 3, valid: []bool{true, false, true}, offsets: []int64{0, 2, 2, 2}}}},
		{"def all 0", []uint16{1, 0, 1}, []uint16{0, 0, 0}, list, 3,
			[]layerSlots{{n: 3}, {n: 2, offsets: []int64{0, 2, 3}}}},
		{"rep above the lists", []uint16{2, 0}, nil, list, 2, nil},
		{"rep above the lists, with def", []uint16{2, 0}, []uint16{0, 0}, list, 2, nil},
		{"values and levels disagree", []uint16{1, 0}, nil, list, 3, nil},
		{"def out of range", []uint16{1, 0}, []uint16{0, 9}, list, 2, nil},
	} {
		got, err := unravel(tc.rep, tc.def, tc.kinds, tc.nVals, 4)
		if tc.want == nil {
			if err == nil {
				t.Errorf("%s: no error, slots %+v", tc.name, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: slots %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// BenchmarkUnpackBlock: one 1024-value block per word size, at a width
// typical of small integers and levels.
func BenchmarkUnpackBlock(b *testing.B) {
	for _, tb := range []int{8, 16, 32, 64} {
		b.Run(fmt.Sprint(tb), func(b *testing.B) {
			w := tb / 4
			raw := make([]byte, 1024*tb/8)
			rand.New(rand.NewSource(1)).Read(raw)
			packed := packBlockRef(tb, w, maskValues(tb, w, raw))
			out := make([]byte, len(raw))
			b.SetBytes(int64(len(raw)))
			for i := 0; i < b.N; i++ {
				if err := unpackBlock(tb, w, packed, out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
