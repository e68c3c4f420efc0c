package main

import (
	"sync"

	"github.com/persisting/persisting/engine"
)

// handles maps the opaque ids given to C to open buckets. Plain integers
// rather than cgo.Handle: an unknown or stale id must be an error, not a panic.
var handles = struct {
	sync.Mutex
	next    uint64
	buckets map[uint64]*engine.Bucket
}{buckets: map[uint64]*engine.Bucket{}}

func registerBucket(b *engine.Bucket) uint64 {
	handles.Lock()
	defer handles.Unlock()
	handles.next++
	handles.buckets[handles.next] = b
	return handles.next
}

func lookupBucket(h uint64) (*engine.Bucket, error) {
	handles.Lock()
	defer handles.Unlock()
	b, ok := handles.buckets[h]
	if !ok {
		return nil, errInvalidHandle
	}
	return b, nil
}

// takeBucket removes h from the table, so that exactly one close wins;
// restoreBucket puts it back when that close kept the bucket open.
func takeBucket(h uint64) (*engine.Bucket, error) {
	handles.Lock()
	defer handles.Unlock()
	b, ok := handles.buckets[h]
	if !ok {
		return nil, errInvalidHandle
	}
	delete(handles.buckets, h)
	return b, nil
}

func restoreBucket(h uint64, b *engine.Bucket) {
	handles.Lock()
	defer handles.Unlock()
	handles.buckets[h] = b
}
