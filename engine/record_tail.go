package engine

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/pymarshal"
)

// rowTail holds the rows AppendRecords added after the buffer's last record,
// in column builders: no arrow.Record per put. seal turns them into one
// record of the buffer when a read, a flush or an Arrow append needs them
// there, so the buffer stays in append order.
type rowTail struct {
	schema   *arrow.Schema
	fields   recordFields
	builders []array.Builder
	rows     int64
	bytes    int64 // the encoded size of the records appended: an estimate of what the builders hold
	check    recordChecker
}

func newRowTail(s *arrow.Schema, alloc memory.Allocator) *rowTail {
	t := &rowTail{schema: s}
	if s == nil {
		return t
	}
	t.fields = newRecordFields(s.Fields(), "")
	for i, f := range s.Fields() {
		b := newColumnBuilder(alloc, f.Type)
		t.builders = append(t.builders, b)
		t.fields.cols[i].bind(b)
	}
	return t
}

// checkRecords checks every record under root (decoded by d) against the
// tail's columns: nil when each converts as it is. The error is errNotExact
// unless explain is set.
func (t *rowTail) checkRecords(d *pymarshal.Decoder, root pymarshal.Node, explain bool) error {
	if t.schema == nil {
		return errNotExact
	}
	t.check.d, t.check.explain = d, explain
	t.check.call++
	defer func() { t.check.d = nil }()
	switch d.Kind(root) {
	case pymarshal.Dict:
		return t.check.dict(&t.fields, root, "")
	case pymarshal.List:
		for i, rec := 0, d.First(root); i < d.Len(root); i, rec = i+1, d.Next(rec) {
			if d.Kind(rec) != pymarshal.Dict {
				return errNotExact
			}
			if err := t.check.dict(&t.fields, rec, ""); err != nil {
				return err
			}
		}
		return nil
	}
	return errNotExact
}

// appendRecords appends the records under root, which checkRecords passed;
// size is the length of their encoding.
func (t *rowTail) appendRecords(d *pymarshal.Decoder, root pymarshal.Node, size int) int {
	t.bytes += int64(size)
	if d.Kind(root) == pymarshal.Dict {
		appendDict(d, &t.fields, root, &t.check.gen)
		t.rows++
		return 1
	}
	n := d.Len(root)
	for i, rec := 0, d.First(root); i < n; i, rec = i+1, d.Next(rec) {
		appendDict(d, &t.fields, rec, &t.check.gen)
	}
	t.rows += int64(n)
	return n
}

// seal returns the rows as one record (nil when there are none) and empties
// the tail; the builders stay, ready for more rows.
func (t *rowTail) seal() arrow.Record {
	if t.rows == 0 {
		return nil
	}
	cols := make([]arrow.Array, len(t.builders))
	for i, b := range t.builders {
		cols[i] = b.NewArray()
	}
	rec := array.NewRecord(t.schema, cols, t.rows)
	for _, c := range cols {
		c.Release()
	}
	resetDictionaries(&t.fields)
	t.rows, t.bytes = 0, 0
	return rec
}

func (t *rowTail) release() {
	for _, b := range t.builders {
		b.Release()
	}
	t.builders, t.rows, t.bytes = nil, 0, 0
}
