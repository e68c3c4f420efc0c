package engine

import (
	"errors"
	"fmt"
)

// walRecordsKind is the first byte of a WAL entry written by AppendRecords;
// the records follow in marshal format. Append's entries are Arrow IPC
// streams, which start with 0xFF (the continuation marker).
const walRecordsKind = 'M'

// AppendRecords appends the records in data, CPython marshal data (as
// marshal.dumps(obj, 4) writes it) of one dict or a list of dicts, after all
// rows appended before, and returns how many it appended. It is the cheap
// path for one put: no Arrow in the caller, no record per call (the rows
// gather in column builders until a read, a flush or an Arrow append), and it
// never flushes, so it can run on a caller's latency-sensitive thread.
//
// The records must fit the bucket's schema exactly as the Python backend
// would take them unchanged (see record_columns.go); otherwise, and when the
// bucket has no schema yet or the buffer is at its flush bound
// (ErrBufferFull), nothing is appended and the error says why, so the caller
// can append the same records through the Arrow path instead. With the WAL
// on, data is written as one WAL entry first (fsynced before returning when
// the sync interval is 0). data is only read during the call.
func (b *Bucket) AppendRecords(data []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, ErrClosed
	}
	n, err := b.appendRecordsLocked(data)
	if err != nil && !errors.Is(err, ErrSchemaMismatch) && !errors.Is(err, ErrNoSchema) && !errors.Is(err, ErrBufferFull) {
		// Records routed to the Arrow path are not failed appends.
		b.metrics.failed("append")
	}
	return n, err
}

func (b *Bucket) appendRecordsLocked(data []byte) (int, error) {
	if err := b.checkAppendable(); err != nil {
		return 0, err
	}
	if b.schema == nil {
		return 0, fmt.Errorf("%w: records in marshal format need the bucket's schema (append the first rows as Arrow)", ErrNoSchema)
	}
	// Rows a running flush is writing do not count: they leave the buffer
	// when it ends, and a put must not wait for that.
	if rows := b.bufferedRows() - b.flushing; rows >= int64(b.opts.FlushThreshold) || b.walOverSize() {
		return 0, fmt.Errorf("%w: %d rows buffered (flush threshold %d), WAL of %d bytes (max %d); this path does not flush",
			ErrBufferFull, rows, b.opts.FlushThreshold, b.walSize(), b.opts.WAL.MaxSize)
	}
	t := b.rowTailFor()
	defer t.dec.Reset() // data is the caller's (C memory from the C API): keep no reference
	n, err := t.load(data)
	if err != nil || n == 0 {
		return 0, err
	}
	if err := b.logRecords(data); err != nil {
		return 0, err
	}
	t.appendLoaded()
	b.metrics.appended(int64(n), b.bufferedRows(), b.walSize())
	return n, nil
}

// rowTailFor returns the row tail for the bucket's current schema, making a
// new one when the schema changed (the old one is empty then: every schema
// change seals it first).
func (b *Bucket) rowTailFor() *rowTail {
	if b.tail != nil && b.tail.schema == b.schema {
		return b.tail
	}
	b.sealRows()
	if b.tail != nil {
		b.tail.release()
	}
	b.tail = newRowTail(b.schema, b.opts.Allocator)
	return b.tail
}

// sealRows moves the row tail's rows into the buffer as one record, so that
// whatever reads or changes the buffer next sees every row in append order.
func (b *Bucket) sealRows() {
	if b.tail == nil {
		return
	}
	if rec := b.tail.seal(); rec != nil {
		b.buf.add(rec)
		rec.Release()
	}
}

func (b *Bucket) releaseRows() {
	if b.tail != nil {
		b.tail.release()
		b.tail = nil
	}
}

// bufferedRows counts the rows not yet flushed: the buffer's and the tail's.
func (b *Bucket) bufferedRows() int64 {
	rows := b.buf.rows
	if b.tail != nil {
		rows += b.tail.rows
	}
	return rows
}

// logRecords writes data as one WAL entry of kind walRecordsKind, durable
// per the sync policy, before the records are buffered; a no-op without a WAL.
func (b *Bucket) logRecords(data []byte) error {
	if b.wal == nil {
		return nil
	}
	b.walScratch = append(append(b.walScratch[:0], walRecordsKind), data...)
	index, err := b.wal.Write(b.walScratch)
	if cap(b.walScratch) > 1<<20 { // do not keep a huge batch's buffer
		b.walScratch = nil
	}
	if err != nil {
		return fmt.Errorf("%w: append: %w", ErrWAL, err)
	}
	crashAt(crashAfterWALWrite)
	b.walLast = index
	return nil
}

// replayRecords puts the records of a walRecordsKind entry back into the
// tail, checked against the schema in effect at that point of the log (the
// one they were checked against when written, or a wider one they fit).
func (b *Bucket) replayRecords(data []byte) error {
	if b.schema == nil {
		return fmt.Errorf("records entry before any schema")
	}
	t := b.rowTailFor()
	defer t.dec.Reset()
	if _, err := t.load(data); err != nil {
		return err
	}
	t.appendLoaded()
	return nil
}
