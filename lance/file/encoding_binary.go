package file

import (
	"encoding/binary"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// 2.0 string/binary pages (encodings_v2_0.proto):
//
//	Binary{indices: Nullable{no_nulls{Flat{64, buffer 0}}}, bytes: Flat{8, buffer 1},
//	       null_adjustment: A}
//
// indices[i] is the end of value i in the page's bytes (no leading 0); a null
// stores end + A where A = total bytes + 1, so v >= A means null and the real
// end is v - A. pylance also emits, for low-cardinality Utf8 pages,
//
//	Dictionary{indices: Nullable{no_nulls{Flat{8, buffer 0}}},
//	           items: Binary{... buffers 1 and 2}, num_dictionary_items: K}
//
// where index 0 is null and index k >= 1 is items[k-1] (an item may itself
// be null, e.g. in an all-null page).

// binPart is what one page span contributes to the output: either one
// contiguous byte range of the file (Binary) or values taken from a
// dictionary held in memory.
type binPart struct {
	fileOff int64
	size    int64
	memVals [][]byte // non-nil: copy these instead (dictionary or decompressed pages)
}

func (r *Reader) readBinary(spans []pageSpan, dt arrow.DataType, n int64, alloc memory.Allocator) (arrow.Array, error) {
	// Phase 1: per-row ends (relative to the output) and validity, plus the
	// byte sources; the values buffer is allocated once its size is known.
	ends := make([]int64, n)
	valid := make([]bool, n)
	parts := make([]binPart, 0, len(spans))
	var total int64
	var nulls int64
	for _, s := range spans {
		e := s.page.encoding
		var part binPart
		var err error
		switch e.kind {
		case encBinary:
			part, err = r.binarySpan(s, e, total, ends, valid)
		case encDictionary:
			part, err = r.dictionarySpan(s, e, total, ends, valid)
		default:
			err = unsupported(e)
		}
		if err != nil {
			return nil, err
		}
		parts = append(parts, part)
		if s.to > s.from {
			total = ends[s.out+s.to-s.from-1]
		}
	}
	for _, v := range valid {
		if !v {
			nulls++
		}
	}

	large := dt.ID() == arrow.LARGE_STRING || dt.ID() == arrow.LARGE_BINARY
	if !large && total > offsetsLimit {
		return nil, fmt.Errorf("%w: %d bytes of values, of %s", ErrOffsetsOverflow, total, dt)
	}
	width := int64(4)
	if large {
		width = 8
	}
	offsets := newBuffer(alloc, (n+1)*width)
	values := newBuffer(alloc, total)
	validity := newBuffer(alloc, (n+7)/8)
	defer offsets.Release()
	defer values.Release()
	defer validity.Release()
	ob, vb := offsets.Bytes(), validity.Bytes()
	for i := int64(0); i < n; i++ {
		if large {
			binary.LittleEndian.PutUint64(ob[(i+1)*8:], uint64(ends[i]))
		} else {
			binary.LittleEndian.PutUint32(ob[(i+1)*4:], uint32(ends[i]))
		}
		if valid[i] {
			bitutil.SetBit(vb, int(i))
		}
	}

	// Phase 2: fill the values buffer.
	pos := int64(0)
	xb := values.Bytes()
	for _, p := range parts {
		if p.memVals != nil {
			for _, v := range p.memVals {
				pos += int64(copy(xb[pos:], v))
			}
			continue
		}
		if p.size > 0 {
			if _, err := r.f.ReadAt(xb[pos:pos+p.size], p.fileOff); err != nil {
				return nil, err
			}
		}
		pos += p.size
	}
	if pos != total {
		return nil, fmt.Errorf("internal error: wrote %d of %d value bytes", pos, total)
	}

	bufs := []*memory.Buffer{nil, offsets, values}
	if nulls > 0 {
		bufs[0] = validity
	}
	data := array.NewData(dt, int(n), bufs, nil, int(nulls), 0)
	defer data.Release()
	return array.MakeFromData(data), nil
}

// readIndexRange reads rows [from, to) of an integer index buffer
// (Nullable{no_nulls{Flat}} or a bare Flat) as uint64s.
func (r *Reader) readIndexRange(p *pageInfo, e *arrayEncoding, from, to int64) ([]uint64, error) {
	if e.kind == encNullable {
		if e.nulls != noNulls {
			return nil, fmt.Errorf("nullable index buffers are not supported")
		}
		e = e.values
	}
	if e.kind != encFlat {
		return nil, unsupported(e)
	}
	var w int64
	switch e.bitsPerValue {
	case 8, 16, 32, 64:
		w = int64(e.bitsPerValue / 8)
	default:
		return nil, fmt.Errorf("index width of %d bits not supported", e.bitsPerValue)
	}
	off, size, err := pageBuffer(p, e)
	if err != nil {
		return nil, err
	}
	if uint64(to)*uint64(w) > size {
		return nil, fmt.Errorf("index buffer of %d bytes too small for %d rows", size, to)
	}
	raw := make([]byte, (to-from)*w)
	if len(raw) > 0 {
		if _, err := r.f.ReadAt(raw, int64(off)+from*w); err != nil {
			return nil, err
		}
	}
	out := make([]uint64, to-from)
	for i := range out {
		switch w {
		case 1:
			out[i] = uint64(raw[i])
		case 2:
			out[i] = uint64(binary.LittleEndian.Uint16(raw[2*i:]))
		case 4:
			out[i] = uint64(binary.LittleEndian.Uint32(raw[4*i:]))
		default:
			out[i] = binary.LittleEndian.Uint64(raw[8*i:])
		}
	}
	return out, nil
}

// binaryEnds decodes Binary indices for page rows [from, to): it returns the
// byte offset where row from starts, and the real end and validity of each
// row. bytesSize bounds every offset.
func (r *Reader) binaryEnds(p *pageInfo, e *arrayEncoding, from, to int64, bytesSize uint64) (start uint64, realEnds []uint64, valid []bool, err error) {
	lo := from
	if from > 0 {
		lo = from - 1 // the previous row's end is this range's start
	}
	idx, err := r.readIndexRange(p, e.indices, lo, to)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("binary indices: %w", err)
	}
	adj := e.nullAdjustment
	decode := func(v uint64) (uint64, bool) {
		if adj > 0 && v >= adj {
			return v - adj, false
		}
		return v, true
	}
	if from > 0 {
		start, _ = decode(idx[0])
		idx = idx[1:]
	}
	realEnds = make([]uint64, len(idx))
	valid = make([]bool, len(idx))
	prev := start
	for i, v := range idx {
		end, ok := decode(v)
		if end < prev || end > bytesSize {
			return 0, nil, nil, fmt.Errorf("corrupt binary offsets (end %d after %d, %d bytes)", end, prev, bytesSize)
		}
		realEnds[i], valid[i], prev = end, ok, end
	}
	return start, realEnds, valid, nil
}

func (r *Reader) binarySpan(s pageSpan, e *arrayEncoding, base int64, ends []int64, valid []bool) (binPart, error) {
	if e.bytes.kind != encFlat || e.bytes.bitsPerValue != 8 {
		return binPart{}, fmt.Errorf("binary bytes: %w", unsupported(e.bytes))
	}
	var mem []byte // decompressed bytes buffer, if compressed
	var boff, bsize uint64
	var err error
	if e.bytes.compression != "" {
		if mem, err = r.readCompressed(s.page, e.bytes); err != nil {
			return binPart{}, fmt.Errorf("binary bytes: %w", err)
		}
		bsize = uint64(len(mem))
	} else if boff, bsize, err = pageBuffer(s.page, e.bytes); err != nil {
		return binPart{}, err
	}
	start, realEnds, ok, err := r.binaryEnds(s.page, e, s.from, s.to, bsize)
	if err != nil {
		return binPart{}, err
	}
	for i, end := range realEnds {
		ends[s.out+int64(i)] = base + int64(end-start)
		valid[s.out+int64(i)] = ok[i]
	}
	last := start
	if len(realEnds) > 0 {
		last = realEnds[len(realEnds)-1]
	}
	if mem != nil {
		return binPart{memVals: [][]byte{mem[start:last]}}, nil
	}
	return binPart{fileOff: int64(boff + start), size: int64(last - start)}, nil
}

// maxDictItems bounds dictionary sizes; 2.0 writers use u8 indices.
const maxDictItems = 1 << 24

func (r *Reader) dictionarySpan(s pageSpan, e *arrayEncoding, base int64, ends []int64, valid []bool) (binPart, error) {
	items := e.items
	if items.kind != encBinary {
		return binPart{}, fmt.Errorf("dictionary items: %w", unsupported(items))
	}
	if e.numDictItems > maxDictItems {
		return binPart{}, fmt.Errorf("dictionary of %d items too large", e.numDictItems)
	}
	if items.bytes.kind != encFlat || items.bytes.bitsPerValue != 8 {
		return binPart{}, fmt.Errorf("dictionary bytes: %w", unsupported(items.bytes))
	}
	var dictBytes []byte
	var boff, bsize uint64
	var err error
	if items.bytes.compression != "" {
		if dictBytes, err = r.readCompressed(s.page, items.bytes); err != nil {
			return binPart{}, fmt.Errorf("dictionary bytes: %w", err)
		}
		bsize = uint64(len(dictBytes))
	} else if boff, bsize, err = pageBuffer(s.page, items.bytes); err != nil {
		return binPart{}, err
	}
	k := int64(e.numDictItems)
	_, dictEnds, dictValid, err := r.binaryEnds(s.page, items, 0, k, bsize)
	if err != nil {
		return binPart{}, fmt.Errorf("dictionary items: %w", err)
	}
	if dictBytes == nil && k > 0 && dictEnds[k-1] > 0 {
		dictBytes = make([]byte, dictEnds[k-1])
		if _, err := r.f.ReadAt(dictBytes, int64(boff)); err != nil {
			return binPart{}, err
		}
	}
	idx, err := r.readIndexRange(s.page, e.indices, s.from, s.to)
	if err != nil {
		return binPart{}, fmt.Errorf("dictionary indices: %w", err)
	}
	vals := make([][]byte, len(idx))
	pos := base
	for i, j := range idx {
		o := s.out + int64(i)
		if j > uint64(k) {
			return binPart{}, fmt.Errorf("dictionary index %d out of range (%d items)", j, k)
		}
		if j > 0 && dictValid[j-1] {
			start := uint64(0)
			if j > 1 {
				start = dictEnds[j-2]
			}
			vals[i] = dictBytes[start:dictEnds[j-1]]
			valid[o] = true
			pos += int64(len(vals[i]))
		}
		ends[o] = pos
	}
	return binPart{memVals: vals}, nil
}
