package engine

import (
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/persisting/persisting/lance"
)

// A bucket reads its dataset's schema when it opens. pylance may add fields
// to the dataset meanwhile (ds.add_columns, ds.merge): a flush built on the
// schema the bucket read then fails (the dataset schema changed
// concurrently), and would fail again at every later flush while its rows
// stay buffered - and a bucket without a WAL loses them at close. When the
// change only added fields, the bucket takes the new schema instead and the
// flush is written again: its rows read null in the new fields, as rows
// stored before the change do.
//
// Any other change (a renamed, cast or dropped field; the data replaced by
// an overwrite or a restore) gets what a reopen of the bucket would do
// (refitToDataset): the latest version becomes the bucket's dataset, its
// schema the bucket's, and the buffered rows are admitted to it by the
// bucket's rules (schema_evolution: a field the dataset lost comes back as
// a new one, a narrowed type takes the values that fit). Rows that do not
// fit stay buffered, readable, and the flush fails saying what to do; the
// automatic flush then waits for the next Flush (or Close) instead of
// failing at every tick, and puts are refused (checkPut) until a flush
// succeeds: a record put then, of the old shape or the new, could only wait
// behind rows that cannot be written as things stand, and would be
// acknowledged (and logged) without ever being stored unless the change is
// undone.

// checkPut: what checkAppendable refuses, and any put while the buffered
// rows wait for a change to be undone (refitFailed). Under mu.
func (b *Bucket) checkPut() error {
	if err := b.checkAppendable(); err != nil {
		return err
	}
	return b.refitFailed
}

// adoptAddedFields takes the latest version's schema when it is the stored
// one plus new nullable fields, and says whether it did. After a failed
// flush (err), under flushMu, not mu. Every call that says yes stored more
// fields than the one before, so a flush retries only as often as pylance
// adds fields.
func (b *Bucket) adoptAddedFields(err error) bool {
	if !errors.Is(err, lance.ErrSchemaMismatch) || b.uncertain != nil || b.dataset == nil {
		return false
	}
	latest, lerr := lance.Open(b.opts.datasetPath())
	if lerr != nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := withAddedFields(b.schema, b.dataset.Schema(), latest.Schema())
	if !ok {
		return false
	}
	b.sealRows() // buffered rows follow the bucket's schema, as after any change of it
	rebuffered, rerr := b.rebuffer(s)
	if rerr != nil {
		return false
	}
	b.adoptCommit(latest)
	b.setSchema(s, rebuffered)
	return true
}

// withAddedFields is the bucket's schema once the dataset's stored schema
// became latest, when latest is stored plus nullable fields after them: the
// stored fields as the bucket has them, the new ones, then the bucket's
// fields the dataset does not store (untyped, or new in buffered rows). ok is
// false for any other change, and when a field the bucket has but did not
// store yet has another type than the field of that name pylance added.
func withAddedFields(bucket, stored, latest *arrow.Schema) (s *arrow.Schema, ok bool) {
	n := stored.NumFields()
	if latest.NumFields() <= n {
		return nil, false
	}
	for i, f := range stored.Fields() {
		g := latest.Field(i)
		if g.Name != f.Name || g.Nullable != f.Nullable || !arrow.TypeEqual(f.Type, g.Type) {
			return nil, false
		}
	}
	fields := make([]arrow.Field, 0, latest.NumFields()+bucket.NumFields())
	for _, f := range stored.Fields() {
		if i := bucket.FieldIndices(f.Name); len(i) > 0 {
			f = bucket.Field(i[0])
		}
		fields = append(fields, f)
	}
	for _, g := range latest.Fields()[n:] {
		if !g.Nullable {
			return nil, false
		}
		if i := bucket.FieldIndices(g.Name); len(i) > 0 {
			if t := bucket.Field(i[0]).Type; t.ID() != arrow.NULL && !arrow.TypeEqual(t, g.Type) {
				return nil, false
			}
		}
		fields = append(fields, g)
	}
	for _, f := range bucket.Fields() {
		if len(latest.FieldIndices(f.Name)) == 0 {
			fields = append(fields, f)
		}
	}
	return arrow.NewSchema(fields, nil), true
}

// refitToDataset re-derives the bucket's schema from the latest version
// after a flush failed with err (a schema mismatch, or a commit conflict
// with an overwrite or a restore) and converts the buffered rows to it.
// retry: the flush may be written again (each yes adopted a newer
// version). Otherwise rerr is the error the flush returns: err, or err
// with why the rows do not fit. Under flushMu, not mu.
func (b *Bucket) refitToDataset(err error) (retry bool, rerr error) {
	if !errors.Is(err, lance.ErrSchemaMismatch) && !errors.Is(err, lance.ErrCommitConflict) ||
		errors.Is(err, lance.ErrFenced) || errors.Is(err, ErrBusy) || // another writer owns the bucket now
		b.uncertain != nil || b.dataset == nil {
		return false, err
	}
	latest, lerr := lance.Open(b.opts.datasetPath())
	if lerr != nil {
		return false, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sealRows() // the buffer, in order, before it is converted
	schema, dataset := b.schema, b.dataset
	b.schema, b.dataset = withoutMetadata(latest.Schema()), latest // as Open sets them
	refit, kept, aerr := b.admitRecords(b.buf.records)
	b.schema, b.dataset = schema, dataset
	if aerr == nil && refit == nil { // nothing buffered
		return false, err
	}
	if aerr != nil {
		releaseAll(kept)
		b.refitFailed = fmt.Errorf("%w: put refused: another writer changed the dataset (version %d), and the %d "+
			"buffered rows do not fit its schema now (%v); a record put now would wait behind them. Undo the change "+
			"(pylance's restore) or change the dataset so that they fit, flush, and put again",
			ErrSchemaMismatch, latest.Version(), b.buf.rows, strings.TrimPrefix(aerr.Error(), ErrSchemaMismatch.Error()+": "))
		return false, fmt.Errorf("%w; another writer changed the dataset (version %d), and the %d buffered rows "+
			"do not fit its schema now: %w. They stay buffered and readable: undo the change (pylance's "+
			"restore), or change the dataset so that they fit, and flush again", err, latest.Version(), b.buf.rows, aerr)
	}
	if latest.Version() <= b.dataset.Version() { // nothing new to follow: the flush's error stands
		releaseAll(kept)
		return false, err
	}
	b.buf.replace(kept)
	b.adoptCommit(latest)
	b.schema = refit
	b.refitFailed = nil
	b.opts.Logger("persisting: another writer changed %s (version %d): the bucket follows its schema, as a reopen would",
		b.opts.datasetPath(), latest.Version())
	return true, nil
}
