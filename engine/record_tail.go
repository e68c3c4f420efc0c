package engine

import (
	"fmt"

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
	dec      pymarshal.Decoder
	check    recordChecker
	loaded   int // records decoded and checked by the last load
}

func newRowTail(s *arrow.Schema, alloc memory.Allocator) *rowTail {
	t := &rowTail{schema: s, fields: newRecordFields(s.Fields(), "")}
	for i, f := range s.Fields() {
		b := array.NewBuilder(alloc, f.Type)
		t.builders = append(t.builders, b)
		t.fields.cols[i].bind(b)
	}
	t.check.d = &t.dec
	return t
}

// load decodes data (a dict, or a list of dicts, in marshal format) and
// checks every record against the schema; it appends nothing. It returns the
// number of records.
func (t *rowTail) load(data []byte) (int, error) {
	t.loaded = 0
	root, err := t.dec.Decode(data)
	if err != nil {
		return 0, fmt.Errorf("%w: the records are not marshal data of plain values: %w", ErrSchemaMismatch, err)
	}
	d := &t.dec
	switch d.Kind(root) {
	case pymarshal.Dict:
		if err := t.record(root, -1); err != nil {
			return 0, err
		}
		t.loaded = 1
	case pymarshal.List:
		n := d.Len(root)
		for i, rec := 0, d.First(root); i < n; i, rec = i+1, d.Next(rec) {
			if d.Kind(rec) != pymarshal.Dict {
				return 0, fmt.Errorf("%w: record %d is a %s, not a dict", ErrSchemaMismatch, i, d.Kind(rec))
			}
			if err := t.record(rec, i); err != nil {
				return 0, err
			}
		}
		t.loaded = n
	default:
		return 0, fmt.Errorf("%w: expected a dict or a list of dicts, found a %s", ErrSchemaMismatch, d.Kind(root))
	}
	return t.loaded, nil
}

// record checks one record, number i of a list (-1: the only one).
func (t *rowTail) record(rec pymarshal.Node, i int) error {
	what := func() string {
		if i < 0 {
			return "the record"
		}
		return fmt.Sprintf("record %d", i)
	}
	if t.dec.Len(rec) == 0 {
		return fmt.Errorf("%w: %s is empty", ErrSchemaMismatch, what())
	}
	return t.check.dict(&t.fields, rec, what)
}

// appendLoaded appends the records the last load checked.
func (t *rowTail) appendLoaded() {
	d := &t.dec
	root := pymarshal.Node(0)
	if d.Kind(root) == pymarshal.Dict {
		appendDict(d, &t.fields, root, &t.check.gen)
	} else {
		for i, rec := 0, d.First(root); i < t.loaded; i, rec = i+1, d.Next(rec) {
			appendDict(d, &t.fields, rec, &t.check.gen)
		}
	}
	t.rows += int64(t.loaded)
	t.loaded = 0
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
	t.rows = 0
	return rec
}

func (t *rowTail) release() {
	for _, b := range t.builders {
		b.Release()
	}
	t.builders, t.rows = nil, 0
}
