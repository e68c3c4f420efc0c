package engine

import (
	"errors"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
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
// The records follow the bucket's record rules (docs/schema-rules.md): the
// first ones give a bucket without a schema its schema, later ones are checked
// against it and, with SchemaEvolution, evolve it (record_append.go). A
// refused call appends nothing and changes nothing; so does one that finds
// the buffer at its flush bound (ErrBufferFull). With the WAL
// on, data is written as one WAL entry first (fsynced before returning when
// the sync interval is 0). data is only read during the call.
func (b *Bucket) AppendRecords(data []byte) (int, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return 0, ErrClosed
	}
	n, err := b.appendRecordsLocked(data, false)
	if errors.Is(err, errSchemaChange) {
		// As for Arrow appends: a schema change converts the buffer and may
		// commit a dataset version, so no flush may run meanwhile.
		b.mu.Unlock()
		return b.appendRecordsChangingSchema(data)
	}
	b.mu.Unlock()
	if err != nil && !errors.Is(err, ErrBufferFull) {
		b.metrics.failed("append")
	}
	return n, err
}

func (b *Bucket) appendRecordsChangingSchema(data []byte) (int, error) {
	b.flushMu.Lock()
	defer b.unlockFlush()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, ErrClosed
	}
	n, err := b.appendRecordsLocked(data, true)
	if err != nil && !errors.Is(err, ErrBufferFull) {
		b.metrics.failed("append")
	}
	return n, err
}

func (b *Bucket) appendRecordsLocked(data []byte, haveFlushMu bool) (int, error) {
	if err := b.checkAppendable(); err != nil {
		return 0, err
	}
	// Rows a running flush is writing do not count: they leave the buffer
	// when it ends, and a put must not wait for that.
	if rows := b.bufferedRows() - b.flushing; rows >= int64(b.opts.FlushThreshold) || b.walOverSize() {
		return 0, fmt.Errorf("%w: %d rows buffered (flush threshold %d), WAL of %d bytes (max %d); this path does not flush",
			ErrBufferFull, rows, b.opts.FlushThreshold, b.walSize(), b.opts.WAL.MaxSize)
	}
	// Decode and check (record_append.go), then commit a schema change, log,
	// and append.
	load, err := b.loadRecords(data)
	if err != nil {
		return 0, err
	}
	defer load.release()
	if load.n == 0 {
		return 0, nil
	}
	var rebuffered []arrow.Record
	if load.changesSchema(b) {
		if !haveFlushMu {
			return 0, errSchemaChange
		}
		if rebuffered, err = b.prepareRecordsSchema(load, true); err != nil {
			return 0, err
		}
	}
	if err := b.logRecords(data); err != nil {
		releaseAll(rebuffered)
		return 0, err
	}
	n := b.appendLoadedRecords(load, rebuffered)
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
