package engine

import (
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance"
)

// Index is one scalar index of the bucket's dataset.
type Index struct {
	Name           string   `json:"name"`
	Type           string   `json:"type"`
	Columns        []string `json:"columns"`
	DatasetVersion uint64   `json:"dataset_version"`
	Fragments      int      `json:"fragments"`
}

// CreateIndex builds a scalar index (lance.IndexBitmap or lance.IndexBTree)
// on column, as a new dataset version that pylance lists and uses. Buffered
// rows are flushed first, so the index covers every row appended so far;
// rows appended later are found by Lookup all the same (by scanning them).
// An unknown kind is refused before anything is flushed.
func (b *Bucket) CreateIndex(column, kind string) (Index, error) {
	if k := strings.ToUpper(kind); k != lance.IndexBTree && k != lance.IndexBitmap {
		return Index{}, fmt.Errorf("%w: unknown index kind '%s': expected '%s' or '%s'", ErrInvalidArgument, kind,
			lance.IndexBTree, lance.IndexBitmap)
	}
	if err := b.writable("create index"); err != nil {
		return Index{}, err
	}
	b.maintMu.Lock() // a background compaction would leave the index on replaced fragments
	defer b.maintMu.Unlock()
	if err := b.lockFlush(); err != nil {
		return Index{}, err
	}
	defer b.flushMu.Unlock()
	if err := b.flush(false); err != nil {
		return Index{}, err
	}
	if b.dataset == nil {
		return Index{}, fmt.Errorf("%w: the bucket has no rows to index yet", ErrNoSchema)
	}
	ds, err := lance.CreateScalarIndex(b.opts.datasetPath(), column, kind, lance.IndexOptions{Replace: true})
	if err != nil {
		return Index{}, fmt.Errorf("engine: index %q on %s: %w", column, b.opts.datasetPath(), err)
	}
	b.mu.Lock()
	b.adoptCommit(ds)
	b.mu.Unlock()
	infos, err := ds.Indices()
	if err != nil {
		return Index{}, err
	}
	for _, info := range infos {
		if len(info.Columns) == 1 && info.Columns[0] == column {
			return indexOf(info), nil
		}
	}
	return Index{}, fmt.Errorf("engine: the index on %q is missing from version %d", column, ds.Version())
}

// Indices lists the dataset's scalar indices.
func (b *Bucket) Indices() ([]Index, error) {
	snap, err := b.snapshot()
	if err != nil {
		return nil, err
	}
	defer b.releaseSnapshot(snap)
	out := []Index{}
	if snap.dataset == nil {
		return out, nil
	}
	infos, err := snap.dataset.Indices()
	if err != nil {
		return nil, err
	}
	for _, info := range infos {
		out = append(out, indexOf(info))
	}
	return out, nil
}

func indexOf(info lance.IndexInfo) Index {
	return Index{Name: info.Name, Type: info.Type, Columns: info.Columns,
		DatasetVersion: info.DatasetVersion, Fragments: len(info.FragmentIDs)}
}

// Lookup returns the rows whose column satisfies c, in append order, using
// the dataset's indices where they cover it. Buffered rows are flushed first
// so that one Lance lookup sees every row: a lookup costs a flush when rows
// are buffered.
func (b *Bucket) Lookup(column string, c lance.Cond, alloc memory.Allocator) (*arrow.Schema, []arrow.Record, lance.LookupStats, error) {
	if err := b.followWriter(); err != nil { // a read-only bucket: the newest version (it buffers nothing)
		return nil, nil, lance.LookupStats{}, err
	}
	var err error
	unlock := func() {}
	if !b.opts.ReadOnly { // (a read-only bucket has no rows of its own to flush)
		if err := b.lockFlush(); err != nil {
			return nil, nil, lance.LookupStats{}, err
		}
		err, unlock = b.flush(false), b.flushMu.Unlock
	}
	b.mu.Lock()
	ds, schema, closed := b.dataset, b.schema, b.closed
	if ds != nil && !closed {
		b.pins.pin(ds.Version()) // cleanup keeps it while it is read
		defer b.unpin(ds.Version())
	}
	b.mu.Unlock()
	unlock()
	if err == nil && closed {
		err = ErrClosed
	}
	if err != nil {
		return nil, nil, lance.LookupStats{}, err
	}
	if ds == nil {
		if schema != nil && len(schema.FieldIndices(column)) == 0 {
			return nil, nil, lance.LookupStats{}, fmt.Errorf("%w: no field %q", ErrSchemaMismatch, column)
		}
		return schema, nil, lance.LookupStats{}, nil
	}
	if b.afterReadPin != nil {
		b.afterReadPin()
	}
	recs, st, err := ds.Lookup(column, c, alloc)
	if errors.Is(err, lance.ErrValueKind) { // the condition's value, not the dataset
		return nil, nil, st, fmt.Errorf("%w: lookup on %q: %v", ErrInvalidArgument, column, err)
	}
	if err != nil {
		return nil, nil, st, fmt.Errorf("engine: lookup on %q: %w", column, err)
	}
	out := make([]arrow.Record, 0, len(recs))
	for i, r := range recs {
		// The dataset lacks untyped fields and may order its fields its own
		// way (schema_untyped.go): fitRecord, as a read does.
		fitted, err := fitRecord(schema, r, alloc)
		if err != nil {
			releaseAll(recs[i:])
			releaseAll(out)
			return nil, nil, st, fmt.Errorf("engine: lookup on %q: %w", column, err)
		}
		out = append(out, fitted)
		r.Release()
	}
	return schema, out, st, nil
}
