package engine

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// buffer holds appended records not yet flushed, in append order. It keeps a
// reference on each record (the bytes are the appender's: nothing is copied)
// and releases them once they are flushed.
type buffer struct {
	records []arrow.Record
	rows    int64
	bytes   int64 // the memory the records hold (their buffers' sizes): the byte budget's measure
}

func (b *buffer) add(rec arrow.Record) {
	rec.Retain()
	b.records = append(b.records, rec)
	b.rows += rec.NumRows()
	b.bytes += heldBytes(rec)
}

// take empties the buffer and hands its records (and their references) to the caller.
func (b *buffer) take() []arrow.Record {
	recs := b.records
	b.records, b.rows, b.bytes = nil, 0, 0
	return recs
}

// replace releases the records and takes over recs (the same rows,
// converted to a new schema) in their place.
func (b *buffer) replace(recs []arrow.Record) {
	releaseAll(b.records)
	b.records, b.bytes = recs, 0
	for _, r := range recs {
		b.bytes += heldBytes(r)
	}
}

// dropFront releases the first n records (rows rows in all), which a flush
// has committed; records appended after them stay, in order.
func (b *buffer) dropFront(n int, rows int64) {
	for _, r := range b.records[:n] {
		b.bytes -= heldBytes(r)
	}
	releaseAll(b.records[:n])
	kept := copy(b.records, b.records[n:])
	clear(b.records[kept:]) // no reference to released records stays reachable
	b.records = b.records[:kept]
	b.rows -= rows
}

// sliceRecords returns new references to rows [offset, offset+limit) of the
// concatenation of recs (limit < 0: to the end), sharing their memory.
func sliceRecords(recs []arrow.Record, offset, limit int64) []arrow.Record {
	var out []arrow.Record
	start := int64(0)
	for _, rec := range recs {
		if limit == 0 {
			break
		}
		n := rec.NumRows()
		end := start + n
		if offset < end {
			lo := max(offset-start, 0)
			hi := n
			if limit > 0 {
				hi = min(n, lo+limit)
				limit -= hi - lo
			}
			out = append(out, rec.NewSlice(lo, hi))
			offset = end
		}
		start = end
	}
	return out
}

func releaseAll(recs []arrow.Record) {
	for _, r := range recs {
		r.Release()
	}
}

// heldBytes is the size of the buffers rec references: what keeping it
// costs in memory (a slice counts its whole buffers, which it keeps alive).
func heldBytes(rec arrow.Record) int64 {
	var n int64
	for _, c := range rec.Columns() {
		n += arrayDataBytes(c.Data())
	}
	return n
}

func arrayDataBytes(d arrow.ArrayData) int64 {
	var n int64
	for _, b := range d.Buffers() {
		if b != nil {
			n += int64(b.Len())
		}
	}
	for _, c := range d.Children() {
		n += arrayDataBytes(c)
	}
	if dict, ok := d.Dictionary().(*array.Data); ok && dict != nil {
		n += arrayDataBytes(dict)
	}
	return n
}
