package file

import (
	"encoding/binary"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Assembling Arrow arrays from decoded 2.1+ spans. Every output buffer is
// allocated from the caller's allocator.

// readColumn21 reads rows [offset, offset+limit) of a leaf column of a 2.1+
// file as an array of type dt.
func (r *Reader) readColumn21(c *column, dt arrow.DataType, offset, limit int64, alloc memory.Allocator) (arrow.Array, error) {
	spans, err := c.spans(offset, limit)
	if err != nil {
		return nil, err
	}
	parts, err := r.decodeSpans21(spans)
	defer giveBackSpans(parts) // once the array (a copy) is built
	if err != nil {
		return nil, err
	}
	return assembleLeaf(parts, dt, limit, alloc)
}

// decodeSpans21 decodes spans in parallel. The caller gives the decoded
// spans back (giveBackSpans), also when an error is returned.
func (r *Reader) decodeSpans21(spans []pageSpan) ([]*span21, error) {
	parts := make([]*span21, len(spans))
	err := parallelFor(len(spans), func(i int) error {
		var err error
		parts[i], err = r.decodeSpan21(spans[i])
		return err
	})
	return parts, err
}

func giveBackSpans(parts []*span21) {
	for _, sp := range parts {
		if sp != nil {
			sp.giveBack()
		}
	}
}

// boolsFromBytes converts one byte per value to one bit per value (bit 0 of
// each byte). A constant page stores a bool scalar as the one-byte buffer
// of a one-element Arrow boolean array; repeating it yields bytes.
func boolsFromBytes(b *block) *block {
	out := &block{n: b.n, bits: 1, data: make([]byte, (b.n+7)/8)}
	for i := 0; i < b.n; i++ {
		if b.data[i]&1 != 0 {
			out.data[i/8] |= 1 << (i % 8)
		}
	}
	return out
}

// leafBits is the value width of a flat Arrow type: 1 for bool, 0 for
// string/binary, -1 if unsupported.
func leafBits(dt arrow.DataType) int {
	switch dt.ID() {
	case arrow.BOOL:
		return 1
	case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY:
		return 0
	}
	if bits := fixedValueBits(dt); bits > 0 {
		return bits
	}
	return -1
}

// byteLen is the number of value bytes of a variable-width block.
func (b *block) byteLen() uint64 {
	if b.dict == nil {
		return b.offs[b.n] - b.offs[0]
	}
	var t uint64
	for _, k := range b.dictIx {
		if k != noIndex {
			t += b.dict.offs[k+1] - b.dict.offs[k]
		}
	}
	return t
}

// valPiece is a run of rows of a flat column and their values (nil: all
// null).
type valPiece struct {
	rows int
	vals *block
}

// assembleLeaf builds a flat (non-nested) array from spans whose levels have
// no repetition: one level and one value per row.
func assembleLeaf(parts []*span21, dt arrow.DataType, n int64, alloc memory.Allocator) (arrow.Array, error) {
	bits := leafBits(dt)
	if bits < 0 {
		return nil, fmt.Errorf("reading arrow type %s is not supported", dt)
	}
	// values come per page, or per mini-block chunk (span21.valParts)
	var pieces []valPiece
	for _, sp := range parts {
		for _, l := range sp.layers {
			if l.isList() {
				return nil, fmt.Errorf("page has list levels but %s is not a list type", dt)
			}
		}
		if sp.rep != nil || sp.nVis != sp.rows || (sp.def != nil && len(sp.def) != sp.rows) {
			return nil, fmt.Errorf("page levels do not match its %d rows", sp.rows)
		}
		if sp.valParts == nil {
			pieces = append(pieces, valPiece{sp.rows, sp.vals})
			continue
		}
		sum := 0
		for _, v := range sp.valParts {
			pieces = append(pieces, valPiece{v.n, v})
			sum += v.n
		}
		if sum != sp.rows {
			return nil, fmt.Errorf("page decoded %d values for %d rows", sum, sp.rows)
		}
	}
	var total int64
	for i := range pieces {
		pc := &pieces[i]
		if v := pc.vals; v != nil && v.dict != nil {
			direct := bits == 0 && v.dict.bits == 0 || bits > 1 && v.dict.bits == bits && v.dict.dim == 0
			if !direct {
				var err error
				if pc.vals, err = v.gathered(); err != nil {
					return nil, err
				}
			}
		}
		if pc.vals != nil {
			if pc.vals.n != pc.rows {
				return nil, fmt.Errorf("page decoded %d values for %d rows", pc.vals.n, pc.rows)
			}
			if bits == 1 && pc.vals.bits == 8 && pc.vals.dim == 0 {
				pc.vals = boolsFromBytes(pc.vals)
			}
			if pc.vals.bits != bits || pc.vals.dim != 0 {
				return nil, fmt.Errorf("page stores %d-bit values, %s needs %d", pc.vals.bits, dt, bits)
			}
			if bits == 0 {
				k := pc.vals.byteLen()
				if pc.vals.dict != nil && k > maxMetadataBytes {
					return nil, fmt.Errorf("dictionary expands to %d bytes", k)
				}
				total += int64(k)
			}
		}
	}
	// a validity bitmap only when some row is null
	var validity *memory.Buffer
	var nulls int64
	pos := int64(0)
	for _, sp := range parts {
		for i, d := range sp.def {
			if d == 0 {
				continue
			}
			if validity == nil {
				validity = newBuffer(alloc, (n+7)/8)
				defer validity.Release()
				bitutil.SetBitsTo(validity.Bytes(), 0, n, true)
			}
			bitutil.ClearBit(validity.Bytes(), int(pos)+i)
			nulls++
		}
		pos += int64(sp.rows)
	}
	if pos != n {
		return nil, fmt.Errorf("pages hold %d rows, want %d", pos, n)
	}
	var bufs []*memory.Buffer
	if bits > 0 {
		complete := bits > 1 // every byte gets written unless a span has no values
		for _, sp := range pieces {
			complete = complete && sp.vals != nil
		}
		var values *memory.Buffer
		if complete {
			values = newBufferUncleared(alloc, (n*int64(bits)+7)/8)
		} else {
			values = newBuffer(alloc, (n*int64(bits)+7)/8)
		}
		defer values.Release()
		xb := values.Bytes()
		pos := 0
		for _, sp := range pieces {
			if d := sp.vals; d != nil && d.dict != nil {
				w := bits / 8
				o := xb[pos*w : (pos+sp.rows)*w]
				for i, v := range d.dictIx {
					if v == noIndex {
						clear(o[i*w : (i+1)*w])
					} else {
						copy(o[i*w:(i+1)*w], d.dict.data[int(v)*w:int(v+1)*w])
					}
				}
			} else if sp.vals != nil {
				if bits == 1 {
					bitutil.CopyBitmap(sp.vals.data, 0, sp.rows, xb, pos)
				} else {
					copy(xb[pos*bits/8:], sp.vals.data[:sp.rows*bits/8])
				}
			}
			pos += sp.rows
		}
		bufs = []*memory.Buffer{nil, values}
	} else {
		large := dt.ID() == arrow.LARGE_STRING || dt.ID() == arrow.LARGE_BINARY
		if !large && total > offsetsLimit {
			return nil, fmt.Errorf("%w: %d bytes of values, of %s", ErrOffsetsOverflow, total, dt)
		}
		w := int64(4)
		if large {
			w = 8
		}
		// both buffers are written whole: offsets 0..n, values 0..total
		// (plus 8 bytes for short dictionary items stored as whole words,
		// cut off again below)
		offsets := newBufferUncleared(alloc, (n+1)*w)
		values := newBufferUncleared(alloc, total+8)
		defer offsets.Release()
		defer values.Release()
		ob, xb := offsets.Bytes(), values.Bytes()
		var short shortItems
		var plain []stringPiece
		row := 0
		var end uint64
		put := func(i int, o uint64) {
			if large {
				binary.LittleEndian.PutUint64(ob[i*8:], o)
			} else {
				binary.LittleEndian.PutUint32(ob[i*4:], uint32(o))
			}
		}
		put(0, 0)
		for _, sp := range pieces {
			if sp.vals == nil {
				for i := 1; i <= sp.rows; i++ {
					put(row+i, end)
				}
				row += sp.rows
				continue
			}
			v := sp.vals
			if v.dict != nil {
				if short.of(v.dict) {
					end = short.gather(xb, ob, large, row, end, v.dictIx)
				} else {
					for i, k := range v.dictIx {
						if k != noIndex {
							end += uint64(copy(xb[end:], v.dict.data[v.dict.offs[k]:v.dict.offs[k+1]]))
						}
						put(row+i+1, end)
					}
				}
				row += sp.rows
				continue
			}
			plain = append(plain, stringPiece{v, row, end})
			end += v.offs[sp.rows] - v.offs[0]
			row += sp.rows
		}
		// pieces of plain strings are copied after the loop (which may
		// store a dictionary item's slack word into the next piece's
		// bytes), each to its own bytes and offsets, so in parallel
		if err := parallelRanges(len(plain), 4, func(lo, hi int) error {
			for _, p := range plain[lo:hi] {
				p.copyTo(xb, ob, large)
			}
			return nil
		}); err != nil {
			return nil, err
		}
		values.ResizeNoShrink(int(total))
		bufs = []*memory.Buffer{nil, offsets, values}
	}
	if nulls > 0 {
		bufs[0] = validity
	}
	data := array.NewData(dt, int(n), bufs, nil, int(nulls), 0)
	defer data.Release()
	return array.MakeFromData(data), nil
}

// stringPiece is a piece of plain (expanded, not dictionary) strings and
// where they go: their offsets from row+1 on, their bytes from end on.
type stringPiece struct {
	vals *block
	row  int
	end  uint64
}

// copyTo copies p's strings into the value buffer xb and their end
// offsets into the offsets buffer ob (64-bit if large).
func (p stringPiece) copyTo(xb, ob []byte, large bool) {
	v, offs := p.vals, p.vals.offs[1:p.vals.n+1]
	base := v.offs[0]
	copy(xb[p.end:], v.data[base:v.offs[v.n]])
	add := p.end - base // from the piece's offsets to the array's
	if large {
		o := ob[(p.row+1)*8 : (p.row+1+len(offs))*8]
		for i, x := range offs {
			binary.LittleEndian.PutUint64(o[8*i:], x+add)
		}
	} else {
		o := ob[(p.row+1)*4 : (p.row+1+len(offs))*4]
		for i, x := range offs {
			binary.LittleEndian.PutUint32(o[4*i:], uint32(x+add))
		}
	}
}

// shortItems holds the items of a string dictionary whose items are at
// most 8 bytes each as whole words, so that gathering them stores one word
// per value instead of calling copy.
type shortItems struct {
	dict  *block // the dictionary the words are of (nil: none)
	ok    bool   // its items are short (and not too many)
	words []uint64
	lens  []uint8
}

// maxShortItems bounds the dictionaries shortItems takes (their words are
// made once per leaf and page).
const maxShortItems = 4096

// of prepares s for dict and reports whether gather can take it.
func (s *shortItems) of(dict *block) bool {
	if s.dict == dict {
		return s.ok
	}
	s.dict, s.ok = dict, false
	if dict.n > maxShortItems || len(dict.offs) != dict.n+1 {
		return false
	}
	s.words, s.lens = s.words[:0], s.lens[:0]
	for k := 0; k < dict.n; k++ {
		item := dict.data[dict.offs[k]:dict.offs[k+1]]
		if len(item) > 8 {
			return false
		}
		var b [8]byte
		copy(b[:], item)
		s.words = append(s.words, binary.LittleEndian.Uint64(b[:]))
		s.lens = append(s.lens, uint8(len(item)))
	}
	s.ok = true
	return true
}

// gather stores the items ix (noIndex: a null, no bytes) at xb[end:] (8
// bytes of slack past the last), their end offsets at ob from row+1 on,
// and returns the new end.
func (s *shortItems) gather(xb, ob []byte, large bool, row int, end uint64, ix []uint32) uint64 {
	words, lens := s.words, s.lens
	for i, k := range ix {
		if k != noIndex {
			binary.LittleEndian.PutUint64(xb[end:], words[k])
			end += uint64(lens[k])
		}
		if large {
			binary.LittleEndian.PutUint64(ob[(row+i+1)*8:], end)
		} else {
			binary.LittleEndian.PutUint32(ob[(row+i+1)*4:], uint32(end))
		}
	}
	return end
}
