package file

import (
	"encoding/binary"
	"fmt"
	"unsafe"
)

// FastLanes bit-packing, as Lance 2.1+ stores it (rust/compression/bitpacking,
// a copy of the fastlanes crate). Values are unsigned words of T bits
// (T = 8, 16, 32, 64; signed data is packed as its bit pattern) in blocks of
// 1024. A block packed at width W (0..T) takes W*1024/T words of T bits. With
// LANES = 1024/T, lane l owns the words packed[LANES*k + l], k = 0..W-1; the
// concatenation of their bits (LSB first) holds, for row r = 0..T-1, the
// value with index FL_ORDER[r/8]*16 + (r%8)*128 + l in bits [r*W, r*W+W).

var flOrder = [8]int{0, 4, 2, 6, 1, 5, 3, 7}

// packedWords is the number of T-bit words of a block packed at width w.
func packedWords(t, w int) int { return w * 1024 / t }

func readWord(b []byte, t, i int) uint64 {
	switch t {
	case 8:
		return uint64(b[i])
	case 16:
		return uint64(binary.LittleEndian.Uint16(b[2*i:]))
	case 32:
		return uint64(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return binary.LittleEndian.Uint64(b[8*i:])
}

func putWord(b []byte, t, i int, v uint64) {
	switch t {
	case 8:
		b[i] = byte(v)
	case 16:
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	case 32:
		binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
	default:
		binary.LittleEndian.PutUint64(b[8*i:], v)
	}
}

// unpackBlock unpacks one block of 1024 t-bit values packed at width w from
// packed (exactly packedWords(t, w)*t/8 bytes) into out (1024*t/8 bytes,
// little-endian).
func unpackBlock(t, w int, packed, out []byte) error {
	if t != 8 && t != 16 && t != 32 && t != 64 {
		return fmt.Errorf("bit-packing word size %d not supported", t)
	}
	if w < 0 || w > t {
		return fmt.Errorf("bit width %d out of range for %d-bit values", w, t)
	}
	nb := packedWords(t, w) * t / 8
	if len(packed) < nb || len(out) < 1024*t/8 {
		return fmt.Errorf("bit-packed block truncated")
	}
	packed, out = packed[:nb], out[:1024*t/8]
	if w == 0 {
		clear(out)
		return nil
	}
	switch t {
	case 8:
		unpackWords(w, packed, out, wordsOf[uint8](packed), wordsOf[uint8](out))
	case 16:
		unpackWords(w, packed, out, wordsOf[uint16](packed), wordsOf[uint16](out))
	case 32:
		unpackWords(w, packed, out, wordsOf[uint32](packed), wordsOf[uint32](out))
	default:
		unpackWords(w, packed, out, wordsOf[uint64](packed), wordsOf[uint64](out))
	}
	return nil
}

type word interface {
	~uint8 | ~uint16 | ~uint32 | ~uint64
}

// wordsOf views b as little-endian words of type W, or is nil when it
// cannot (a big-endian machine, or b not aligned to W).
func wordsOf[W word](b []byte) []W {
	size := int(unsafe.Sizeof(W(0)))
	p := unsafe.Pointer(unsafe.SliceData(b))
	if !nativeLittleEndian || len(b) < size || uintptr(p)%uintptr(size) != 0 {
		return nil
	}
	return unsafe.Slice((*W)(p), len(b)/size)
}

// bytesOf views the words s as their bytes (in memory order).
func bytesOf[W word](s []W) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*int(unsafe.Sizeof(W(0))))
}

// unpackWords unpacks a block (see unpackBlock, 0 < w <= the word size)
// from packed into out, through their word views when both have one
// (words and dst) and through aligned copies otherwise. Row by row: every
// lane of a row shares its word index and shift, so the lane loop is a
// plain shift-and-mask.
func unpackWords[W word](w int, packed, out []byte, words, dst []W) {
	t := int(unsafe.Sizeof(W(0))) * 8
	if words == nil {
		words = make([]W, len(packed)*8/t)
		for i := range words {
			words[i] = W(readWord(packed, t, i))
		}
	}
	direct := dst != nil
	if !direct {
		dst = make([]W, 1024)
	}
	lanes := 1024 / t
	mask := W(1)<<uint(w) - 1 // all ones when w == t: the shift gives 0
	// Words narrower than 64 bits go several lanes per 64-bit operation
	// (SWAR): under one shift a lane's low w bits stay its own, and the
	// mask drops what slid in from the next lane.
	swar := t < 64 && nativeLittleEndian
	var mask64 uint64
	for i := 0; i < 64/t; i++ {
		mask64 |= uint64(mask) << (i * t)
	}
	for row := 0; row < t; row++ {
		bit := row * w
		k, shift := bit/t, uint(bit%t)
		base := flOrder[row/8]*16 + (row%8)*128
		o := dst[base : base+lanes]
		lo := words[lanes*k : lanes*k+lanes]
		if int(shift)+w <= t && swar {
			ob, ib := bytesOf(o), bytesOf(lo) // 128 bytes each
			for j := 0; j+8 <= len(ob); j += 8 {
				binary.LittleEndian.PutUint64(ob[j:], binary.LittleEndian.Uint64(ib[j:])>>shift&mask64)
			}
			continue
		}
		if int(shift)+w <= t {
			for l := range o {
				o[l] = lo[l] >> shift & mask
			}
			continue
		}
		hi := words[lanes*(k+1) : lanes*(k+1)+lanes]
		up := uint(t) - shift
		for l := range o {
			o[l] = (lo[l]>>shift | hi[l]<<up) & mask
		}
	}
	if !direct {
		for i, v := range dst {
			putWord(out, t, i, uint64(v))
		}
	}
}

// unpackInline decodes InlineBitpacking data holding n t-bit values: one or
// more blocks, each a t-bit word holding the width W followed by the W*1024/t
// packed words; the last block is zero-padded to 1024 values.
// The output may come from bl (nil: a plain allocation).
func unpackInline(t int, src []byte, n int, bl *borrowList) ([]byte, error) {
	if t != 8 && t != 16 && t != 32 && t != 64 {
		return nil, fmt.Errorf("bit-packing word size %d not supported", t)
	}
	wb := t / 8
	blocks := (n + 1023) / 1024
	if n < 0 || blocks > len(src)/wb+1 {
		return nil, fmt.Errorf("bit-packed data too short for %d values", n)
	}
	out := bl.bytes(blocks * 1024 * wb) // every block is written whole
	pos := 0
	for b := 0; b < blocks; b++ {
		if len(src)-pos < wb {
			return nil, fmt.Errorf("bit-packed data truncated")
		}
		w := readWord(src[pos:], t, 0)
		pos += wb
		if w > uint64(t) {
			return nil, fmt.Errorf("bit width %d out of range for %d-bit values", w, t)
		}
		size := packedWords(t, int(w)) * wb
		if len(src)-pos < size {
			return nil, fmt.Errorf("bit-packed data truncated")
		}
		if err := unpackBlock(t, int(w), src[pos:pos+size], out[b*1024*wb:]); err != nil {
			return nil, err
		}
		pos += size
	}
	return out[:n*wb], nil
}

// unpackOutOfLine decodes OutOfLineBitpacking data: n t-bit values packed at
// the constant width w in headerless blocks of 1024. A final partial block of
// r values is either one more padded block or, when the buffer holds exactly
// r more words, stored raw.
// The output may come from bl (nil: a plain allocation).
func unpackOutOfLine(t, w int, src []byte, n int, bl *borrowList) ([]byte, error) {
	if t != 8 && t != 16 && t != 32 && t != 64 {
		return nil, fmt.Errorf("bit-packing word size %d not supported", t)
	}
	if w < 0 || w > t {
		return nil, fmt.Errorf("bit width %d out of range for %d-bit values", w, t)
	}
	wb := t / 8
	full, tail := n/1024, n%1024
	per := packedWords(t, w) * wb
	if n < 0 || (per > 0 && full > len(src)/per) || (per == 0 && n > 1<<30) {
		return nil, fmt.Errorf("bit-packed data too short for %d values", n)
	}
	out := bl.bytes((full + 1) * 1024 * wb) // written up to n values

	pos := 0
	for b := 0; b < full; b++ {
		if err := unpackBlock(t, w, src[pos:], out[b*1024*wb:]); err != nil {
			return nil, err
		}
		pos += per
	}
	if tail > 0 {
		rest := src[pos:]
		switch {
		case len(rest) == tail*wb:
			copy(out[full*1024*wb:], rest)
		case len(rest) >= per:
			if err := unpackBlock(t, w, rest, out[full*1024*wb:]); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("bit-packed tail of %d bytes fits neither %d raw nor a packed block", len(rest), tail)
		}
	}
	return out[:n*wb], nil
}
