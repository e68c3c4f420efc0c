package engine

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/persisting/persisting/pymarshal"
)

// How AppendRecords takes a payload of the record encoding, in three steps
// under the bucket lock:
//
//  1. loadRecords decodes it and checks every record: against the row tail's
//     columns when they take the records as they are (the hot path), else
//     through the record rules, which give the error or the schema after the
//     records. Nothing in the bucket changes.
//  2. For a load that changes the schema (flushMu held too),
//     prepareRecordsSchema converts the buffered rows and commits the Lance
//     schema change (added or widened stored columns). Only this step
//     commits, and only after every check passed.
//  3. After the WAL took the payload, appendLoadedRecords installs the schema
//     and appends the rows. It cannot fail.
//
// WAL replay runs the same steps without committing anything to Lance (the
// flush that writes the rows does).

// recordsLoad is one payload decoded and checked.
type recordsLoad struct {
	dec     *pymarshal.Decoder
	root    pymarshal.Node
	n       int           // records
	size    int           // bytes of their encoding, references expanded (pymarshal's Expanded)
	schema  *arrow.Schema // the bucket's schema after the records
	settled []string      // fields whose untyped nested parts got the fallback type
	live    bool          // taken from loads and not released yet
}

// loads recycles a load with its decoder, so a put allocates neither.
var loads = sync.Pool{New: func() any { return &recordsLoad{dec: new(pymarshal.Decoder)} }}

// release returns the load (and its decoder) for reuse; neither may be used
// after. Each load is released once.
func (l *recordsLoad) release() {
	if !l.live {
		return
	}
	l.dec.Reset() // keeps no reference to the caller's data
	*l = recordsLoad{dec: l.dec}
	loads.Put(l)
}

// changesSchema says whether appending the load changes the bucket's schema.
func (l *recordsLoad) changesSchema(b *Bucket) bool { return l.schema != b.schema }

// loadRecords decodes data and checks every record (see above). Under b.mu.
// On error nothing is kept; otherwise the caller releases the load.
func (b *Bucket) loadRecords(data []byte) (*recordsLoad, error) {
	return b.loadRecordsWith(data, b.opts.SchemaEvolution)
}

func (b *Bucket) loadRecordsWith(data []byte, evolve bool) (*recordsLoad, error) {
	l := loads.Get().(*recordsLoad)
	l.live, l.schema = true, b.schema
	root, err := l.dec.Decode(data)
	if err != nil {
		l.release()
		return nil, decodeError(err)
	}
	l.root = root
	// Python's marshal writes an object put more than once (the same bytes
	// in every record of a batch) once and refers back to it: the records
	// hold what the references expand to.
	if l.size = int(min(l.dec.Expanded(), math.MaxInt)); l.size > MaxRecordsBytes {
		l.release()
		return nil, fmt.Errorf("%w: the records of one call hold more than the %d bytes (2 GiB - 1) one call takes "+
			"(their %d bytes of encoding refer back to values put more than once; each counts every time): "+
			"append them in smaller batches", ErrInvalidArgument, MaxRecordsBytes, len(data))
	}
	if err := b.checkLoad(l, evolve); err != nil {
		l.release()
		return nil, err
	}
	return l, nil
}

func (b *Bucket) checkLoad(l *recordsLoad, evolve bool) error {
	d := l.dec
	switch d.Kind(l.root) {
	case pymarshal.Dict:
		l.n = 1
	case pymarshal.List:
		l.n = d.Len(l.root)
	}
	t := b.rowTailFor()
	if t.checkRecords(d, l.root, false) == nil {
		return nil // the hot path: the records fit the columns as they are
	}
	schema, settled, err := planRecordSchema(d, l.root, b.schema, evolve)
	if err != nil {
		return err
	}
	if schema == b.schema {
		// The rules take the records unchanged, the columns do not: the
		// columns say why (a value that passes the rules but cannot be
		// converted, such as an int a float32 does not hold exactly).
		if err := t.checkRecords(d, l.root, true); err != nil {
			return err
		}
		return nil
	}
	if err := b.checkNewSchema(schema); err != nil {
		// A dataset whose file version cannot store null parts (2.0: list<null>)
		// gets them typed as untypedFallback, as it did before they were kept.
		next, names := settledNested(schema)
		if len(names) == 0 || b.checkNewSchema(next) != nil {
			return b.unwritableField(schema, err)
		}
		schema, settled = next, names
	}
	// Every record must convert into the new schema before anything is
	// committed (the rules decided the types, the conversion is exact).
	check := &rowTail{schema: schema, fields: newRecordFields(schema.Fields(), "")}
	if err := check.checkRecords(d, l.root, true); err != nil {
		return err
	}
	l.schema, l.settled = schema, settled
	return nil
}

// unwritableField names the field a schema the bucket cannot store fails on
// (a nested type in a 2.0 dataset, a type the writer lacks), or returns err.
func (b *Bucket) unwritableField(schema *arrow.Schema, err error) error {
	if !errors.Is(err, ErrUnsupported) {
		return err
	}
	for _, f := range settledSchema(schema, b.dataset).Fields() {
		if ferr := b.checkNewSchema(arrow.NewSchema([]arrow.Field{f}, nil)); ferr != nil {
			why := strings.TrimPrefix(ferr.Error(), ErrUnsupported.Error()+": ")
			return fmt.Errorf("%w: field %s: cannot store a %s column in this bucket: %s", ErrUnsupported, pyName(f.Name), typeText(f.Type), why)
		}
	}
	return err
}

// prepareRecordsSchema readies the schema change of a load: seals the tail,
// converts the buffered rows to the new schema and, with commit, brings the
// Lance dataset to it (stored columns widened, fields added). It returns the
// converted rows for appendLoadedRecords; on error nothing has changed.
// Under flushMu and mu.
func (b *Bucket) prepareRecordsSchema(l *recordsLoad, commit bool) ([]arrow.Record, error) {
	b.sealRows()
	rebuffered, err := b.rebuffer(l.schema)
	if err != nil {
		return nil, err
	}
	if commit {
		if err := b.evolveDataset(l.schema); err != nil {
			releaseAll(rebuffered)
			return nil, err
		}
	}
	return rebuffered, nil
}

// appendLoadedRecords makes the load's schema the bucket's (rebuffered: from
// prepareRecordsSchema) and appends its records; it returns how many. Under mu.
func (b *Bucket) appendLoadedRecords(l *recordsLoad, rebuffered []arrow.Record) int {
	if l.changesSchema(b) {
		b.setSchema(l.schema, rebuffered)
		if len(l.settled) > 0 {
			b.opts.Logger("persisting: bucket %s: parts of field(s) %s were None (or empty lists) in every value so far; storing them as %s",
				b.opts.Path, quoteNames(l.settled), typeText(untypedFallback))
		}
	}
	t := b.rowTailFor()
	if t.bytes+int64(l.size) > tailBytesLimit {
		// The tail's string, binary and list columns have 32-bit offsets:
		// what it holds goes to the buffer as a record of its own first.
		b.sealRows()
	}
	return t.appendRecords(l.dec, l.root, l.size)
}

// tailBytesLimit bounds the encoded size of the rows one row tail takes
// before it is sealed. A payload's expanded encoding holds every byte of its
// strings and bytes and at least one byte per list item, so no column of a
// tail within it passes the 2^31 - 1 bytes or items that the 32-bit offsets of
// string, binary and list columns address (a variable for the tests).
var tailBytesLimit int64 = math.MaxInt32

func quoteNames(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = pyName(n)
	}
	return strings.Join(q, ", ")
}

// replayRecords puts the records of a WAL records entry back into the buffer
// through the same rules. They were accepted once, so they are replayed as an
// evolving bucket takes them (the same result for records a strict bucket
// accepted, and no refusal should the bucket be reopened strict).
func (b *Bucket) replayRecords(data []byte) error {
	l, err := b.loadRecordsWith(data, true)
	if err != nil {
		return err
	}
	defer l.release()
	var rebuffered []arrow.Record
	if l.changesSchema(b) {
		if rebuffered, err = b.prepareRecordsSchema(l, false); err != nil {
			return fmt.Errorf("records entry: %w", err)
		}
	}
	b.appendLoadedRecords(l, rebuffered)
	return nil
}
