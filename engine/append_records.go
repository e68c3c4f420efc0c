package engine

import (
	"errors"
	"fmt"
	"math"

	"github.com/apache/arrow/go/v17/arrow"
)

// walRecordsKind is the first byte of a WAL entry written by AppendRecords;
// the call's data follows in the record encoding v1 (wal_payload.go).
const walRecordsKind = 'M'

// MaxRecordsBytes is the most bytes of records one AppendRecords call takes:
// a value of up to about this size fits the 32-bit offsets of a string,
// binary or list column.
const MaxRecordsBytes = math.MaxInt32

// AppendRecords appends the records in data - the record encoding v1: CPython
// marshal data of a list of dicts (or one dict), with tagged values (see
// include/persisting.h and docs/schema-rules.md) - after all rows appended
// before, and returns how many it appended. The rows gather in column
// builders (the row tail) until a read, a flush or an Arrow append seals
// them into one record.
//
// The records follow the bucket's record rules: the first ones give a bucket
// without a schema its schema, later ones are checked against it and, with
// SchemaEvolution, evolve it (record_append.go). A refused call appends
// nothing and changes nothing. Buffering, flushes and back-pressure are those
// of every append path (back_pressure.go): it returns ErrNotFlushed, with the
// records stored, when a flush it had to wait for failed. With the WAL on,
// data is written as one WAL entry first (and waited for to be durable when
// the sync interval is 0, outside the bucket lock). data is only read during
// the call.
func (b *Bucket) AppendRecords(data []byte) (int, error) {
	_, n, err := b.AppendRecordsAt(data)
	return n, err
}

// AppendRecordsAt is AppendRecords that also returns the offset its first
// record got, taken under the bucket lock (with no records: the total count).
func (b *Bucket) AppendRecordsAt(data []byte) (first int64, n int, err error) {
	if len(data) > MaxRecordsBytes {
		return 0, 0, fmt.Errorf("%w: %d bytes of records in one call, more than the %d (2 GiB - 1) one call takes: "+
			"append them in smaller batches", ErrInvalidArgument, len(data), MaxRecordsBytes)
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return 0, 0, ErrClosed
	}
	first, n, w, flushErr, err := b.appendRecordsLocked(data)
	b.mu.Unlock()
	if errors.Is(err, errSchemaChange) {
		// As for Arrow appends: a schema change converts the buffer and may
		// commit a dataset version, so no flush may run meanwhile.
		first, n, w, err = b.appendRecordsChangingSchema(data)
	}
	if err = b.acknowledge(w, err, flushErr); err != nil && !errors.Is(err, ErrNotFlushed) {
		return 0, 0, err
	}
	return first, n, err
}

// appendRecordsLocked decodes and checks data, waits for room in the buffer
// (makeRoom), and appends. Under mu (released while it waits).
func (b *Bucket) appendRecordsLocked(data []byte) (first int64, n int, w walWrite, flushErr, err error) {
	for {
		if err := b.checkPut(); err != nil { // again after a wait: the flush may have failed to refit
			return 0, 0, walWrite{}, nil, err
		}
		load, err := b.loadRecords(data)
		if err != nil {
			return 0, 0, walWrite{}, flushErr, err
		}
		if load.n > 0 && flushErr == nil && b.overBound(int64(load.n)) {
			// Wait with nothing held, then decode again: the schema may
			// have changed meanwhile.
			rows := int64(load.n)
			load.release()
			if flushErr, err = b.makeRoom(rows); err != nil {
				return 0, 0, walWrite{}, nil, err
			}
			continue
		}
		first, n, w, err = b.appendLoad(data, load, false)
		return first, n, w, flushErr, err
	}
}

// appendRecordsChangingSchema appends records that change the schema,
// holding flushMu (no back-pressure wait: no flush can run meanwhile).
func (b *Bucket) appendRecordsChangingSchema(data []byte) (int64, int, walWrite, error) {
	b.flushMu.Lock()
	defer b.flushMu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, 0, walWrite{}, ErrClosed
	}
	if err := b.checkPut(); err != nil {
		return 0, 0, walWrite{}, err
	}
	load, err := b.loadRecords(data)
	if err != nil {
		return 0, 0, walWrite{}, err
	}
	return b.appendLoad(data, load, true)
}

// appendLoad appends a checked load (and releases it): commits its schema
// change (only with flushMu held, else errSchemaChange), writes data to the
// WAL, appends the rows and starts a background flush when one is due. It
// returns the offset of the first row and how many. Under mu.
func (b *Bucket) appendLoad(data []byte, load *recordsLoad, haveFlushMu bool) (int64, int, walWrite, error) {
	defer load.release()
	if load.n == 0 {
		return b.totalLocked(), 0, walWrite{}, nil
	}
	var rebuffered []arrow.Record
	if load.changesSchema(b) {
		if !haveFlushMu {
			return 0, 0, walWrite{}, errSchemaChange
		}
		var err error
		if rebuffered, err = b.prepareRecordsSchema(load, true); err != nil {
			return 0, 0, walWrite{}, err
		}
	}
	w, err := b.logRecords(data)
	if err != nil {
		if load.changesSchema(b) {
			// The Lance schema change may be committed: the bucket follows
			// it, or its next flush would not match the dataset.
			b.setSchema(load.schema, rebuffered)
		}
		return 0, 0, walWrite{}, err
	}
	first := b.totalLocked() // after a schema change: rebuffering keeps every row
	n := b.appendLoadedRecords(load, rebuffered)
	b.metrics.appended(int64(n), b.bufferedRows(), b.walSize())
	b.askFlush()
	return first, n, w, nil
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

// bufferedBytes is the memory the unflushed rows hold: the buffer's records
// and (estimated by their encoding) the tail's rows.
func (b *Bucket) bufferedBytes() int64 {
	n := b.buf.bytes
	if b.tail != nil {
		n += b.tail.bytes
	}
	return n
}

// bufferedRows counts the rows not yet flushed: the buffer's and the tail's.
func (b *Bucket) bufferedRows() int64 {
	rows := b.buf.rows
	if b.tail != nil {
		rows += b.tail.rows
	}
	return rows
}

// logRecords writes data as one WAL entry of kind walRecordsKind before the
// records are buffered (a no-op without a WAL); the caller commits it after
// releasing mu. Under mu.
func (b *Bucket) logRecords(data []byte) (walWrite, error) {
	if b.wal == nil {
		return walWrite{}, nil
	}
	// The kind byte and data as parts of one entry: a big value is not
	// copied to put a byte before it.
	return b.appendWAL([][][]byte{{walRecordsHeader, data}})
}

// walRecordsHeader is the kind byte as an entry's first part, shared (the
// WAL only reads it) so that a put allocates nothing for it.
var walRecordsHeader = []byte{walRecordsKind}
