package file

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync/atomic"
)

// FSST string decompression (rust/compression/fsst in Lance). The symbol table
// travels in the encoding (Fsst.symbol_table):
//
//	u64 LE header: bits 0-7 number of symbols S, 8-15 terminator, 16-23 suffix
//	               limit, bit 24 "compressed", bits 32-63 = "FSST" (0x46535354)
//	S x u64 LE     symbols (the symbol's bytes, first byte lowest)
//	S x u8         symbol lengths (1..8)
//
// Lance pads the table to 2312 bytes. When the "compressed" bit is clear the
// strings are stored as they are. Otherwise each input byte c is a code:
// 255 escapes the next byte (a literal), any other c emits the first len[c]
// bytes of symbol c.

const fsstMagic = 0x46535354
const fsstEscape = 255

type fsstTable struct {
	on    bool
	n     int
	syms  [256][8]byte
	words [256]uint64 // syms as little-endian words (256: a byte indexes them unchecked)
	lens  [256]uint8
	// ratio: the expansion (x256) of the last block fsstDecode expanded
	// with this table, the estimate for the next (the chunks of a page
	// share a table); 0: none yet
	ratio atomic.Uint32
}

func parseFsstTable(b []byte) (*fsstTable, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("FSST symbol table too short")
	}
	h := binary.LittleEndian.Uint64(b)
	if h>>32 != fsstMagic {
		return nil, fmt.Errorf("FSST symbol table without magic")
	}
	t := &fsstTable{on: h&(1<<24) != 0, n: int(h & 255)}
	if !t.on {
		return t, nil
	}
	if t.n > 255 || len(b) < 8+9*t.n {
		return nil, fmt.Errorf("FSST symbol table of %d bytes too short for %d symbols", len(b), t.n)
	}
	for i := 0; i < t.n; i++ {
		copy(t.syms[i][:], b[8+8*i:])
		l := b[8+8*t.n+i]
		if l == 0 || l > 8 {
			return nil, fmt.Errorf("FSST symbol %d has length %d", i, l)
		}
		t.lens[i] = l
		// bytes past the symbol's length are never part of the output
		t.words[i] = binary.LittleEndian.Uint64(t.syms[i][:])
	}
	return t, nil
}

// fsstSampleLen is the compressed bytes fsstDecode expands (in size only)
// to estimate a block's expansion when its table has expanded none yet.
const fsstSampleLen = 2048

// decodedLen is the length the codes src expand to (escapes counted as
// literals; a code outside the table, which decodeInto refuses before it
// writes, as a symbol of 8 bytes).
func (t *fsstTable) decodedLen(src []byte) int {
	total := 0
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == fsstEscape:
			i++
			total++
		case int(c) < t.n:
			total += int(t.lens[c])
		default:
			total += 8
		}
	}
	return total
}

// maxFsstExpansion bounds the decompressed size of one block relative to its
// compressed size (each code emits at most 8 bytes).
const maxFsstExpansion = 8

// decodeInto expands src at buf[pos:] and returns the end position. Each
// symbol is stored as a whole 8-byte word and the end moved by its length,
// so buf must hold decodedLen(src)+8 bytes from pos.
func (t *fsstTable) decodeInto(buf []byte, pos int, src []byte) (int, error) {
	n := t.n
	i := 0
	// two symbols at a time (the common case), then one code at a time
	for ; i+1 < len(src); i += 2 {
		c0, c1 := src[i], src[i+1]
		if int(c0) >= n || int(c1) >= n {
			break
		}
		binary.LittleEndian.PutUint64(buf[pos:pos+8], t.words[c0])
		pos += int(t.lens[c0])
		binary.LittleEndian.PutUint64(buf[pos:pos+8], t.words[c1])
		pos += int(t.lens[c1])
	}
	for ; i < len(src); i++ {
		c := src[i]
		if int(c) < n { // the common case: a symbol
			binary.LittleEndian.PutUint64(buf[pos:pos+8], t.words[c])
			pos += int(t.lens[c])
			continue
		}
		if c != fsstEscape {
			return 0, fmt.Errorf("FSST code %d outside table of %d symbols", c, t.n)
		}
		i++
		if i >= len(src) {
			return 0, fmt.Errorf("FSST escape at end of string")
		}
		buf[pos] = src[i]
		pos++
	}
	return pos, nil
}

// decode expands one compressed string, appending to dst.
func (t *fsstTable) decode(dst, src []byte) ([]byte, error) {
	dst = slices.Grow(dst, 8*len(src)+8)
	end, err := t.decodeInto(dst[:cap(dst)], len(dst), src)
	if err != nil {
		return nil, err
	}
	return dst[:end], nil
}

// fsstTableOf returns e's symbol table, parsed once.
func fsstTableOf(e *compressive) (*fsstTable, error) {
	if t := e.fsst.Load(); t != nil {
		return t, nil
	}
	t, err := parseFsstTable(e.symbolTable)
	if err != nil {
		return nil, err
	}
	e.fsst.Store(t)
	return t, nil
}

// fsstDecode expands every string of a variable-width block.
// The expanded bytes may come from bl (nil: a plain allocation).
func fsstDecode(e *compressive, in *block, bl *borrowList) (*block, error) {
	if in.fixedWidth() {
		return nil, fmt.Errorf("FSST over fixed-width values")
	}
	return fsstDecodeOwned(e, &block{n: in.n, offs: slices.Clone(in.offs[:in.n+1]), data: in.data}, bl)
}

// fsstDecodeOwned is fsstDecode of a block whose offsets are the caller's
// own (freshly decoded): the expanded strings' offsets replace them.
func fsstDecodeOwned(e *compressive, in *block, bl *borrowList) (*block, error) {
	if in.fixedWidth() {
		return nil, fmt.Errorf("FSST over fixed-width values")
	}
	t, err := fsstTableOf(e)
	if err != nil {
		return nil, err
	}
	if !t.on {
		return in, nil
	}
	// one pass into a buffer sized by the expected expansion (the table's
	// last block's, else a sample's), grown (rarely) when a string does not
	// fit
	out := &block{n: in.n, offs: in.offs}
	all := in.data[in.offs[0]:in.offs[in.n]]
	ratio := int(t.ratio.Load()) // expanded bytes per compressed byte, x256
	if ratio == 0 {
		sample := all[:min(len(all), fsstSampleLen)]
		ratio = 256 * (t.decodedLen(sample) + 8) / (len(sample) + 1)
	}
	est := len(all)*ratio/256*9/8 + 64
	buf := bl.bytes(est)
	pos := 0
	// locals, not in's fields: the loop reloads nothing but them after
	// each call (a call per string costs about as much as its codes).
	// offs[i] is read before ends[i], the same slot, is written.
	data, offs, ends := in.data, in.offs[:in.n+1], out.offs[:in.n+1]
	start := offs[0]
	first := start
	ends[0] = 0
	for i := 1; i < len(offs); i++ {
		end := offs[i]
		src := data[start:end]
		start = end
		if pos+8*len(src)+8 > len(buf) && pos+t.decodedLen(src)+8 > len(buf) {
			// this string, and the estimate for the rest
			left := len(all) - int(end-first)
			need := pos + t.decodedLen(src) + 8 + left*ratio/256*9/8 + 64
			if need > maxMetadataBytes {
				return nil, fmt.Errorf("FSST data expands to more than %d bytes", maxMetadataBytes)
			}
			nb := bl.bytes(need)
			copy(nb, buf[:pos])
			buf = nb
		}
		if pos, err = t.decodeInto(buf, pos, src); err != nil {
			return nil, err
		}
		ends[i] = uint64(pos)
	}
	if len(all) > 0 {
		t.ratio.Store(uint32(min(256*pos/len(all), 256*maxFsstExpansion)))
	}
	out.data = buf[:pos]
	return out, nil
}
