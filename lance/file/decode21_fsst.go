package file

import (
	"encoding/binary"
	"fmt"
	"slices"
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
	syms  [255][8]byte
	words [255]uint64 // syms as little-endian words
	lens  [255]uint8
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

// maxFsstExpansion bounds the decompressed size of one block relative to its
// compressed size (each code emits at most 8 bytes).
const maxFsstExpansion = 8

// decodedLen is the length src expands to, checking every code.
func (t *fsstTable) decodedLen(src []byte) (int, error) {
	n := 0
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == fsstEscape {
			i++
			if i >= len(src) {
				return 0, fmt.Errorf("FSST escape at end of string")
			}
			n++
			continue
		}
		if int(c) >= t.n {
			return 0, fmt.Errorf("FSST code %d outside table of %d symbols", c, t.n)
		}
		n += int(t.lens[c])
	}
	return n, nil
}

// decodeInto expands src, already checked by decodedLen, at buf[pos:] and
// returns the end position. Each symbol is stored as a whole 8-byte word
// and the end moved by its length, so buf needs 8 bytes of slack.
func (t *fsstTable) decodeInto(buf []byte, pos int, src []byte) int {
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == fsstEscape {
			i++
			buf[pos] = src[i]
			pos++
			continue
		}
		binary.LittleEndian.PutUint64(buf[pos:pos+8], t.words[c])
		pos += int(t.lens[c])
	}
	return pos
}

// decode expands one compressed string, appending to dst.
func (t *fsstTable) decode(dst, src []byte) ([]byte, error) {
	n, err := t.decodedLen(src)
	if err != nil {
		return nil, err
	}
	dst = slices.Grow(dst, n+8)
	end := t.decodeInto(dst[:cap(dst)], len(dst), src)
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
func fsstDecode(e *compressive, in *block) (*block, error) {
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
	// size the output exactly first, so the expansion never reallocates
	out := &block{n: in.n, offs: make([]uint64, in.n+1)}
	total := 0
	for i := 0; i < in.n; i++ {
		k, err := t.decodedLen(in.data[in.offs[i]:in.offs[i+1]])
		if err != nil {
			return nil, err
		}
		total += k
		out.offs[i+1] = uint64(total)
	}
	if total > maxMetadataBytes {
		return nil, fmt.Errorf("FSST data expands to %d bytes", total)
	}
	buf := make([]byte, total+8)
	pos := 0
	for i := 0; i < in.n; i++ {
		pos = t.decodeInto(buf, pos, in.data[in.offs[i]:in.offs[i+1]])
	}
	data := buf[:total]
	out.data = data
	return out, nil
}
