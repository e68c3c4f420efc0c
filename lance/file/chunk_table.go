package file

import (
	"sync"
	"unsafe"
)

// chunkTables memoizes the parsed chunk table (buffer 0) of the mini-block
// pages a Reader has read: a reader kept open between reads (the lance
// package's reader cache) then reads and parses a page's table once, not
// on every short read of the page. FootprintBytes counts the tables a
// Reader may hold, so a cache that charges it stays bounded.
type chunkTables struct {
	mu     sync.Mutex
	byPage map[*pageInfo][]chunkMeta
}

// chunkTable returns the chunks of mini-block page p. The slice is shared:
// callers only read it.
func (r *Reader) chunkTable(p *pageInfo, L *pageLayout) ([]chunkMeta, error) {
	r.chunks.mu.Lock()
	chunks, ok := r.chunks.byPage[p]
	r.chunks.mu.Unlock()
	if ok {
		return chunks, nil
	}
	meta, err := r.readBuf(p, 0)
	if err != nil {
		return nil, err
	}
	if chunks, err = parseChunkMeta(meta, L.largeChunk, L.numItems); err != nil {
		return nil, err
	}
	r.chunks.mu.Lock()
	if r.chunks.byPage == nil {
		r.chunks.byPage = map[*pageInfo][]chunkMeta{}
	}
	r.chunks.byPage[p] = chunks
	r.chunks.mu.Unlock()
	return chunks, nil
}

// chunkTableBytes bounds the memory of page p's parsed chunk table: a
// chunkMeta per 2 bytes of its chunk metadata buffer (the narrower entry
// width), plus the map entry.
func chunkTableBytes(p *pageInfo) int64 {
	if p.layout == nil || p.layout.kind != layoutMiniBlock || len(p.bufSizes) == 0 {
		return 0
	}
	return 64 + int64(p.bufSizes[0]/2)*int64(unsafe.Sizeof(chunkMeta{}))
}
