package file

import (
	"encoding/binary"
	"fmt"
)

// Mini-block pages (2.1+). Page buffers: [0] chunk metadata, [1] chunk data,
// [2] dictionary (if MiniBlockLayout.dictionary is set), last: repetition
// index (if repetition_index_depth > 0; unused here).
//
// Chunk metadata is one little-endian word per chunk, u16 in 2.1 and u32 when
// has_large_chunk is set (2.2): chunk bytes = ((word >> 4) + 1) * 8, and
// word & 0xF = log2 of the chunk's value count for every chunk but the last,
// which holds the rest of the page's num_items. Chunks lie back to back in
// buffer 1. One chunk, all integers little-endian, pad8 = pad to a multiple of
// 8 from the chunk start:
//
//	u16 num_levels
//	u16 rep_bytes                 if rep_compression is set
//	u16 def_bytes                 if def_compression is set
//	u16|u32 buffer size x num_buffers   (u32 with has_large_chunk)
//	pad8, rep bytes, pad8, def bytes, pad8, buffer 0, pad8, buffer 1, pad8 ...
//
// Levels are block-compressed u16s (decodeBlock), values mini-block
// compressed (decodeMini). Without repetition every level is one row and one
// value, so a row range maps to a chunk range and only those chunks are read.

type chunkMeta struct {
	items int   // values in the chunk
	start int   // first value of the chunk in the page
	off   int64 // byte offset of the chunk in buffer 1
	size  int64
}

// maxChunks bounds the chunk count of one page (metadata buffer size / 2).
const maxChunks = 1 << 24

func parseChunkMeta(b []byte, large bool, numItems uint64) ([]chunkMeta, error) {
	w := 2
	if large {
		w = 4
	}
	if len(b)%w != 0 {
		return nil, fmt.Errorf("chunk metadata of %d bytes is not a multiple of %d", len(b), w)
	}
	n := len(b) / w
	if n > maxChunks {
		return nil, fmt.Errorf("too many chunks (%d)", n)
	}
	if numItems > maxBlockValues*16 {
		return nil, fmt.Errorf("page of %d items too large", numItems)
	}
	out := make([]chunkMeta, n)
	var items uint64
	var off int64
	for i := range out {
		var word uint64
		if large {
			word = uint64(binary.LittleEndian.Uint32(b[4*i:]))
		} else {
			word = uint64(binary.LittleEndian.Uint16(b[2*i:]))
		}
		size := int64((word>>4)+1) * 8
		var k uint64
		if i < n-1 {
			k = 1 << (word & 0xF)
		} else {
			if items > numItems {
				return nil, fmt.Errorf("chunks hold more than the page's %d items", numItems)
			}
			k = numItems - items
		}
		if k > 1<<16 {
			return nil, fmt.Errorf("chunk of %d values too large", k)
		}
		out[i] = chunkMeta{items: int(k), start: int(items), off: off, size: size}
		items += k
		off += size
	}
	if items != numItems {
		return nil, fmt.Errorf("chunks hold %d items, page has %d", items, numItems)
	}
	return out, nil
}

// miniChunk is one decoded chunk.
type miniChunk struct {
	rep, def []uint16
	vals     *block
}

func pad8(x int) int { return (x + 7) &^ 7 }

// decodeChunk parses and decodes one chunk holding items values.
// Its unpacked levels and values may come from bl (read21_borrow.go).
func decodeChunk(L *pageLayout, b []byte, items int, bl *borrowList) (*miniChunk, error) {
	hdr := 2
	if L.repComp != nil {
		hdr += 2
	}
	if L.defComp != nil {
		hdr += 2
	}
	sw := 2
	if L.largeChunk {
		sw = 4
	}
	nb := int(L.numBuffers)
	hdr += sw * nb
	if len(b) < hdr {
		return nil, fmt.Errorf("chunk of %d bytes shorter than its header", len(b))
	}
	le := binary.LittleEndian
	numLevels := int(le.Uint16(b))
	pos := 2
	repSize, defSize := -1, -1
	if L.repComp != nil {
		repSize = int(le.Uint16(b[pos:]))
		pos += 2
	}
	if L.defComp != nil {
		defSize = int(le.Uint16(b[pos:]))
		pos += 2
	}
	sizes := make([]int, nb)
	for i := range sizes {
		if sw == 4 {
			sizes[i] = int(le.Uint32(b[pos:]))
		} else {
			sizes[i] = int(le.Uint16(b[pos:]))
		}
		pos += sw
	}
	pos = pad8(pos)
	take := func(n int) ([]byte, error) {
		if pos > len(b) || n > len(b)-pos {
			return nil, fmt.Errorf("chunk buffer of %d bytes at %d outside chunk of %d", n, pos, len(b))
		}
		s := b[pos : pos+n]
		pos = pad8(pos + n)
		return s, nil
	}
	c := &miniChunk{}
	var repB, defB []byte
	var err error
	if repSize >= 0 {
		if repB, err = take(repSize); err != nil {
			return nil, err
		}
	}
	if defSize >= 0 {
		if defB, err = take(defSize); err != nil {
			return nil, err
		}
	}
	bufs := make([][]byte, nb)
	for i := range bufs {
		if bufs[i], err = take(sizes[i]); err != nil {
			return nil, err
		}
	}
	if repB != nil {
		if c.rep, err = decodeLevels(L.repComp, repB, numLevels, bl); err != nil {
			return nil, fmt.Errorf("repetition levels: %w", err)
		}
	}
	if defB != nil {
		if c.def, err = decodeLevels(L.defComp, defB, numLevels, bl); err != nil {
			return nil, fmt.Errorf("definition levels: %w", err)
		}
	}
	if c.vals, err = decodeMini(L.valueComp, bufs, items, bl); err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	return c, nil
}

func decodeLevels(e *compressive, b []byte, n int, bl *borrowList) ([]uint16, error) {
	blk, err := decodeBlock(e, b, n, bl)
	if err != nil {
		return nil, err
	}
	return levelsOf(blk)
}
