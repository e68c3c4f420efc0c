package engine

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance"
)

// Read returns the rows [offset, offset+limit) in append order across the
// dataset and the buffer; limit < 0 means to the end. The result is a snapshot:
// rows appended after Read started are not in it. Every record carries the
// returned schema (nil when the bucket has no schema yet, with no records).
// Rows read from disk are allocated from alloc; buffered rows share the
// appender's memory. The caller releases every record.
func (b *Bucket) Read(offset, limit int64, alloc memory.Allocator) (*arrow.Schema, []arrow.Record, error) {
	if offset < 0 {
		return nil, nil, fmt.Errorf("%w: offset %d is negative", ErrInvalidArgument, offset)
	}
	snap, err := b.snapshot()
	if err != nil {
		return nil, nil, err
	}
	defer releaseAll(snap.buffered)
	if snap.schema == nil || limit == 0 {
		return snap.schema, nil, nil
	}

	var out []arrow.Record
	if snap.dataset != nil && offset < snap.persisted {
		recs, err := snap.dataset.Read(offset, limit, alloc)
		if err != nil {
			return nil, nil, fmt.Errorf("engine: read rows %d..: %w", offset, err)
		}
		for i, r := range recs {
			if limit > 0 {
				limit -= r.NumRows()
			}
			// The dataset lacks untyped fields and fields added since
			// (schema_untyped.go): fitRecord gives them nulls.
			fitted, err := fitRecord(snap.schema, r, alloc)
			if err != nil {
				releaseAll(recs[i:])
				releaseAll(out)
				return nil, nil, fmt.Errorf("engine: read rows %d..: %w", offset, err)
			}
			out = append(out, fitted)
			r.Release()
		}
	}
	if limit == 0 {
		return snap.schema, out, nil
	}
	bufOffset := max(offset-snap.persisted, 0)
	for _, r := range sliceRecords(snap.buffered, bufOffset, limit) {
		out = append(out, withSchema(snap.schema, r))
		r.Release()
	}
	return snap.schema, out, nil
}

// readSnapshot is what a read needs from the bucket, taken under its lock.
type readSnapshot struct {
	schema    *arrow.Schema
	dataset   *lance.Dataset
	persisted int64
	buffered  []arrow.Record // own references, released by the reader
}

func (b *Bucket) snapshot() (readSnapshot, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return readSnapshot{}, ErrClosed
	}
	b.sealRows()
	s := readSnapshot{schema: b.schema, dataset: b.dataset}
	if b.dataset != nil {
		s.persisted = b.dataset.CountRows()
	}
	s.buffered = make([]arrow.Record, len(b.buf.records))
	for i, r := range b.buf.records {
		r.Retain()
		s.buffered[i] = r
	}
	return s, nil
}
