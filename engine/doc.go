// Package engine keeps one bucket of a durable queue: an append-only log of
// Arrow rows whose flushed part is a Lance dataset at {path}/data.lance and
// whose newest part sits in a bounded memory buffer.
//
// Rows have contiguous 0-based offsets in append order. The persisted rows come
// first (in the dataset's fragment order), then the buffered rows; a flush moves
// the buffer into one new dataset version without changing any offset, so a
// reader that remembers an offset keeps its place across flushes and restarts.
//
// A Bucket is safe for concurrent use. Reads work on a snapshot taken under the
// lock and do their I/O without it, so a slow read never blocks appends. A
// flush, likewise, holds the lock only to take the buffered rows and to
// install the version holding them: appends and reads go on while it writes
// (flush.go). Flushes and other dataset writes are serialised among themselves.
//
// The package is plain Go: it knows nothing of C. Buffers of the records it
// returns come from the allocator the caller passes, so a C caller can hand
// them across the boundary without copying.
package engine
