package engine

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance"
)

// Read returns the records at offsets [offset, offset+limit) in append order
// across the dataset and the buffer; limit < 0 means to the end. Cleared
// offsets (clear.go) have no record: the result holds fewer rows than the
// range then, and no other record moves. The result is a snapshot:
// rows appended after Read started are not in it. Every record carries the
// returned schema (nil when the bucket has no schema yet, with no records).
// Rows read from disk are allocated from alloc; buffered rows share the
// appender's memory. The caller releases every record.
func (b *Bucket) Read(offset, limit int64, alloc memory.Allocator) (*arrow.Schema, []arrow.Record, error) {
	if offset < 0 {
		return nil, nil, fmt.Errorf("%w: offset %d is negative", ErrInvalidArgument, offset)
	}
	s, recs, version, err := b.read(offset, limit, alloc)
	if err == nil || !b.opts.ReadOnly || !errors.Is(err, fs.ErrNotExist) {
		return s, recs, err
	}
	// A read-only bucket does not hold off the writer's cleanup: it may
	// have removed files of the version this read took. Read again from
	// the newest version, which references only files that are there.
	s, recs, again, err := b.read(offset, limit, alloc)
	if err != nil && errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("engine: read-only %s: files of version %d are gone (removed by the writer's cleanup "+
			"as this read took them, or lost), and again at version %d: %w", b.opts.Path, version, again, err)
	}
	return s, recs, err
}

// read is Read of one snapshot; it also says the dataset version read.
func (b *Bucket) read(offset, limit int64, alloc memory.Allocator) (*arrow.Schema, []arrow.Record, uint64, error) {
	snap, err := b.snapshot()
	if err != nil {
		return nil, nil, 0, err
	}
	defer b.releaseSnapshot(snap)
	var version uint64
	if snap.dataset != nil {
		version = snap.dataset.Version()
	}
	if b.afterReadPin != nil {
		b.afterReadPin()
	}
	schema, recs, err := readFrom(snap, offset, limit, alloc)
	return schema, recs, version, err
}

// readFrom reads offsets [offset, offset+limit) of snap (see Read).
func readFrom(snap readSnapshot, offset, limit int64, alloc memory.Allocator) (*arrow.Schema, []arrow.Record, error) {
	if snap.schema == nil || limit == 0 {
		return readSchema(snap), nil, nil
	}
	if err := checkRetained(offset, snap.offsets.first); err != nil {
		return nil, nil, err
	}

	var out []arrow.Record
	if snap.dataset != nil && offset < snap.persisted {
		recs, err := readOffsets(snap.dataset, snap.offsets, offset, limit, alloc)
		if err != nil {
			return nil, nil, fmt.Errorf("engine: read rows %d..: %w", offset, err)
		}
		for i, r := range recs {
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
	// The buffer holds offsets [persisted, ...) without holes.
	bufOffset := max(offset-snap.persisted, 0)
	if limit > 0 {
		if limit = offset + limit - max(offset, snap.persisted); limit <= 0 {
			return readSchema(snap), out, nil
		}
	}
	for _, r := range sliceRecords(snap.buffered, bufOffset, limit) {
		out = append(out, withSchema(snap.schema, r))
		r.Release()
	}
	return readSchema(snap), out, nil
}

// readSchema is the schema a read returns: the bucket's fields with the
// dataset's schema-level metadata, which pylance keeps from the table that
// created the dataset and returns with every read (the bucket's own schema
// leaves it out: its identity is its fields). The records keep the bucket's
// schema; Arrow's schema equality ignores schema-level metadata.
func readSchema(snap readSnapshot) *arrow.Schema {
	if snap.schema == nil || snap.dataset == nil {
		return snap.schema
	}
	md := snap.dataset.Schema().Metadata()
	if md.Len() == 0 {
		return snap.schema
	}
	return arrow.NewSchema(snap.schema.Fields(), &md)
}

// readSnapshot is what a read needs from the bucket, taken under its lock.
type readSnapshot struct {
	schema    *arrow.Schema
	dataset   *lance.Dataset
	persisted int64          // offset after the dataset's last row
	offsets   offsetMap      // which offsets the dataset's rows hold (retained_offsets.go)
	buffered  []arrow.Record // own references, released by the reader (releaseSnapshot)
}

func (b *Bucket) snapshot() (readSnapshot, error) {
	if err := b.followWriter(); err != nil {
		return readSnapshot{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return readSnapshot{}, ErrClosed
	}
	b.sealRows()
	s := readSnapshot{schema: b.schema, dataset: b.dataset}
	if b.dataset != nil {
		s.offsets = b.offsets.of(b.dataset)
		s.persisted = s.offsets.end()
		b.pins.pin(b.dataset.Version())
	}
	s.buffered = make([]arrow.Record, len(b.buf.records))
	for i, r := range b.buf.records {
		r.Retain()
		s.buffered[i] = r
	}
	return s, nil
}
