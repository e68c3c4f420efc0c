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
// # Appends
//
// Append, AppendBatches and AppendRecords share one path: check (a refused
// call keeps nothing), write the WAL entry (with the WAL on), buffer; at
// flush_threshold rows a flush starts in the background (at most one per
// min_flush_interval); an append that would
// take the buffer past twice the threshold, or twice the running flush's
// rows when that flush is larger and the buffer within max_buffer_bytes
// (or the WAL past max_wal_size), waits for
// the running flush first (back-pressure) and returns ErrNotFlushed,
// its rows stored, when that flush failed (back_pressure.go). WAL entries are
// written in order under the bucket lock; the fsync (wal_sync_interval 0) is
// waited for after the lock is released, so concurrent appends share one.
//
// # WAL entries
//
// The package wal stores opaque payloads; the engine's payload is one of two
// kinds, named by its first byte, each self-describing (replay needs nothing
// but the entry and the schema the entries before it built):
//
//	0xFF  Arrow: one record batch as an Arrow IPC stream - a schema message
//	      and one record batch message (0xFF starts the stream's first
//	      continuation marker, so the payload is the stream unchanged). An
//	      AppendBatches call writes one entry per batch, as one atomic group.
//	'M'   Records v1 (0x4D): the byte, then the data of one AppendRecords call
//	      unchanged - the record encoding v1 of include/persisting.h (CPython
//	      marshal of a list of dicts, or one dict, with tagged values).
//
// Replay decodes an Arrow entry and admits it as Append would; a records entry
// goes through the same record rules (record_append.go) as AppendRecords, so
// it rebuilds the same schema and rows. Any other first byte is an error
// naming the entry (a newer format, or damage): replay stops there.
//
// The package is plain Go: it knows nothing of C. Buffers of the records it
// returns come from the allocator the caller passes, so a C caller can hand
// them across the boundary without copying.
package engine
