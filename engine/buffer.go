package engine

import (
	"github.com/apache/arrow/go/v17/arrow"
)

// buffer holds appended records not yet flushed, in append order. It keeps a
// reference on each record (the bytes are the appender's: nothing is copied)
// and releases them once they are flushed.
type buffer struct {
	records []arrow.Record
	rows    int64
}

func (b *buffer) add(rec arrow.Record) {
	rec.Retain()
	b.records = append(b.records, rec)
	b.rows += rec.NumRows()
}

// take empties the buffer and hands its records (and their references) to the caller.
func (b *buffer) take() []arrow.Record {
	recs := b.records
	b.records, b.rows = nil, 0
	return recs
}

// dropFront releases the first n records (rows rows in all), which a flush
// has committed; records appended after them stay, in order.
func (b *buffer) dropFront(n int, rows int64) {
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
