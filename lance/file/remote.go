package file

import (
	"fmt"

	"github.com/persisting/persisting/lance/objstore"
)

// openRemote opens a data file in an object store: one GET fetches the
// object's tail (footer, offset tables and, for all but large files, the
// column metadata too), later reads are ranged GETs.
func openRemote(path string) (*Reader, error) {
	rr, err := objstore.OpenRange(path)
	if err != nil {
		return nil, fmt.Errorf("lance file: %w", err)
	}
	size := rr.Size()
	if size < footerSize {
		rr.Close()
		return nil, fmt.Errorf("lance file: too small to be a Lance file (%d bytes) (%s)", size, path)
	}
	fb, err := readAt(rr, uint64(size-footerSize), footerSize)
	if err == nil {
		var r *Reader
		if r, err = parseFile(rr, size, fb); err == nil {
			r.f, r.closer = rr, rr
			return r, nil
		}
	}
	rr.Close()
	return nil, fmt.Errorf("%w (%s)", err, path)
}

// createRemote starts the upload of a data file; the writer streams into
// it (a multipart upload once the file outgrows one part).
func createRemote(path string) (objstore.Upload, error) {
	u, err := objstore.Create(path)
	if err != nil {
		return nil, fmt.Errorf("lance file: %w", err)
	}
	return u, nil
}

// prefetcher is a ReaderAt that can fetch many ranges at once
// (objstore.RangeReader coalesces them into few GETs).
type prefetcher interface {
	Prefetch(ranges [][2]int64) error
	DropPrefetched()
}

// dropPrefetched releases what the read prefetched: a Reader kept open
// between reads (the lance package's reader cache) then keeps only its
// metadata and the object's tail, not up to maxPrefetchBytes of pages.
func (r *Reader) dropPrefetched() {
	if p, ok := r.f.(prefetcher); ok {
		p.DropPrefetched()
	}
}

// maxPrefetchBytes bounds what one Read prefetches: past it (a read of
// huge pages) every buffer is fetched by its own ranged read instead of
// whole pages at once.
const maxPrefetchBytes = 8 << 20

// prefetch tells an object-store reader every page buffer that rows
// [offset, offset+limit) of columns touch (nested(i): how many leaf columns
// the i-th one spans), so it fetches them in a few
// coalesced GETs rather than one per buffer. A no-op for local files.
func (r *Reader) prefetch(nested func(i int) int, columns []int, offset, limit int64) {
	p, ok := r.f.(prefetcher)
	if !ok || limit == 0 {
		return
	}
	var ranges [][2]int64
	var total int64
	for i, ci := range columns {
		n := nested(i)
		for c := ci; c < ci+n && c >= 0 && c < len(r.cols); c++ {
			col := &r.cols[c]
			spans, err := col.spans(offset, limit)
			if err != nil {
				return // Read reports it
			}
			for _, s := range spans {
				for b := range s.page.bufOffsets {
					size := int64(s.page.bufSizes[b])
					ranges = append(ranges, [2]int64{int64(s.page.bufOffsets[b]), size})
					total += size
				}
			}
		}
	}
	if total > maxPrefetchBytes {
		return
	}
	_ = p.Prefetch(ranges) // a failed prefetch leaves the reads to fetch (and report) themselves
}
