package objstore

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
)

// TailBytes is how much of an object's end OpenRange fetches up front:
// Lance files keep footer, offset tables and column metadata there, so a
// reader's open costs one GET (and a small data file is then read whole).
const TailBytes = 64 << 10

// CoalesceGap: prefetched ranges closer than this are fetched as one GET
// (object_store's default, which Lance uses, is 1 MiB).
const CoalesceGap = 1 << 20

// maxParallelGets bounds the GETs one Prefetch runs at once.
const maxParallelGets = 8

// RangeReader reads an object by ranges (io.ReaderAt). Safe for concurrent
// use.
type RangeReader struct {
	st   Store
	key  string
	size int64
	tail []byte // the last len(tail) bytes

	mu     sync.Mutex
	chunks []chunk // prefetched ranges, sorted by offset
}

type chunk struct {
	off  int64
	data []byte
}

// OpenRange opens path for ranged reads. For S3 it fetches the object's
// tail (TailBytes) and learns its size in the same request.
func OpenRange(path string) (*RangeReader, error) {
	l, err := Resolve(path)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	if s, ok := l.Store.(*S3); ok {
		tail, size, err := s.getTail(ctx, l.Key, TailBytes)
		if err != nil {
			return nil, err
		}
		return &RangeReader{st: s, key: l.Key, size: size, tail: tail}, nil
	}
	info, err := l.Store.Head(ctx, l.Key)
	if err != nil {
		return nil, err
	}
	return &RangeReader{st: l.Store, key: l.Key, size: info.Size}, nil
}

// Size is the object's size.
func (r *RangeReader) Size() int64 { return r.size }

// DropPrefetched releases the ranges Prefetch fetched; the tail stays.
func (r *RangeReader) DropPrefetched() {
	r.mu.Lock()
	r.chunks = nil
	r.mu.Unlock()
}

// Close releases the cached bytes.
func (r *RangeReader) Close() error {
	r.mu.Lock()
	r.chunks, r.tail = nil, nil
	r.mu.Unlock()
	return nil
}

func (r *RangeReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("objstore: negative offset %d", off)
	}
	if off >= r.size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	want := int64(len(p))
	short := off+want > r.size
	if short {
		want = r.size - off
	}
	if r.copyCached(p[:want], off) {
		if short {
			return int(want), io.EOF
		}
		return int(want), nil
	}
	b, err := r.st.GetRange(context.Background(), r.key, off, want)
	if err != nil {
		return 0, err
	}
	n := copy(p, b)
	if short {
		return n, io.EOF
	}
	return n, nil
}

// copyCached fills p from the tail or a prefetched chunk if one holds all
// of [off, off+len(p)).
func (r *RangeReader) copyCached(p []byte, off int64) bool {
	end := off + int64(len(p))
	r.mu.Lock()
	defer r.mu.Unlock()
	if ts := r.size - int64(len(r.tail)); r.tail != nil && off >= ts {
		copy(p, r.tail[off-ts:])
		return true
	}
	i := sort.Search(len(r.chunks), func(i int) bool { return r.chunks[i].off+int64(len(r.chunks[i].data)) >= end })
	if i < len(r.chunks) && r.chunks[i].off <= off {
		c := r.chunks[i]
		copy(p, c.data[off-c.off:])
		return true
	}
	return false
}

// Prefetch fetches the byte ranges ({offset, length}) a read is about to
// need: ranges the tail does not cover are merged when closer than
// CoalesceGap and fetched in parallel, replacing earlier prefetched bytes.
// Later ReadAt calls inside them cost no request.
func (r *RangeReader) Prefetch(ranges [][2]int64) error {
	tailStart := r.size - int64(len(r.tail))
	var rs [][2]int64
	for _, x := range ranges {
		off, end := x[0], min(x[0]+x[1], r.size)
		if r.tail != nil {
			end = min(end, max(off, tailStart))
		}
		if end > off {
			rs = append(rs, [2]int64{off, end})
		}
	}
	if len(rs) == 0 {
		return nil
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i][0] < rs[j][0] })
	merged := [][2]int64{rs[0]}
	for _, x := range rs[1:] {
		last := &merged[len(merged)-1]
		if x[0] <= last[1]+CoalesceGap {
			last[1] = max(last[1], x[1])
		} else {
			merged = append(merged, x)
		}
	}
	chunks := make([]chunk, len(merged))
	errs := make([]error, len(merged))
	sem := make(chan struct{}, maxParallelGets)
	var wg sync.WaitGroup
	for i, m := range merged {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			b, err := r.st.GetRange(context.Background(), r.key, m[0], m[1]-m[0])
			chunks[i], errs[i] = chunk{off: m[0], data: b}, err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.chunks = chunks
	r.mu.Unlock()
	return nil
}
