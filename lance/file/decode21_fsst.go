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

// decode expands one compressed string, appending to dst. Each symbol is
// stored as a whole 8-byte word and the end moved by its length, so dst
// keeps 8 bytes of slack.
func (t *fsstTable) decode(dst, src []byte) ([]byte, error) {
	if need := len(dst) + 8*len(src) + 8; cap(dst) < need {
		dst = slices.Grow(dst, need-len(dst))
	}
	buf := dst[:cap(dst)]
	pos := len(dst)
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == fsstEscape {
			i++
			if i >= len(src) {
				return nil, fmt.Errorf("FSST escape at end of string")
			}
			buf[pos] = src[i]
			pos++
			continue
		}
		if int(c) >= t.n {
			return nil, fmt.Errorf("FSST code %d outside table of %d symbols", c, t.n)
		}
		binary.LittleEndian.PutUint64(buf[pos:], t.words[c])
		pos += int(t.lens[c])
	}
	return buf[:pos], nil
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
	out := &block{n: in.n, offs: make([]uint64, in.n+1)}
	data := make([]byte, 0, len(in.data)*3)
	for i := 0; i < in.n; i++ {
		if data, err = t.decode(data, in.data[in.offs[i]:in.offs[i+1]]); err != nil {
			return nil, err
		}
		out.offs[i+1] = uint64(len(data))
	}
	out.data = data
	return out, nil
}
