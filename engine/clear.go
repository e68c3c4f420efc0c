package engine

import (
	"errors"
	"fmt"

	"github.com/persisting/persisting/lance"
)

// Clear deletes the records at indexes (offsets) for good: one Lance Delete
// version whose deletion files mark their rows (lance.DeleteRows: no data
// file is rewritten, the cost is the cleared rows and their fragments'
// earlier deletions) and whose config adds them to the cleared offsets
// (retained_offsets.go), so no other record's offset moves. Records still
// buffered are flushed first. Afterwards no task is handed them (get_meta),
// LiveIndexes drops them, Read returns no record at their offsets, and
// pylance no longer sees their rows. Already cleared indexes and those
// retention dropped are ignored; an index outside [0, total) refuses the
// call and clears nothing. A bucket with a secondary index cannot delete
// rows (its index would need them remapped): ErrUnsupported.
func (b *Bucket) Clear(indexes []int64) error {
	b.maintMu.Lock() // one writer of the offsets config at a time (retention too)
	defer b.maintMu.Unlock()
	total, persisted, _, err := b.Counts()
	if err != nil {
		return err
	}
	bm, err := indexBitmap(indexes, total)
	if err != nil || bm.isEmpty() {
		return err
	}
	if bm.maximum() >= persisted {
		// A deletion file can only name rows of a data file.
		if err := b.Flush(); err != nil {
			return fmt.Errorf("engine: clear: flushing the records first: %w", err)
		}
	}
	// An automatic compaction after a flush (compactIfDue) may replace the
	// fragments between reading the version and committing: read again.
	for attempt := 1; ; attempt++ {
		err := b.deleteOffsets(bm)
		if err == nil || !errors.Is(err, lance.ErrCommitConflict) || attempt == clearAttempts {
			return err
		}
		// The cleared offsets changed in a version this bucket did not
		// install: on s3:// its own earlier clear whose answer was lost
		// (the commit landed all the same). Build on the newest version,
		// where those indexes are cleared already.
		if err := b.adoptLatest(); err != nil {
			return fmt.Errorf("engine: clear: %w", err)
		}
	}
}

// adoptLatest makes the dataset's newest version the bucket's own (a
// commit of this bucket that landed though its answer was lost).
func (b *Bucket) adoptLatest() error {
	ds, err := lance.Open(b.opts.datasetPath())
	if err != nil {
		return err
	}
	var g flushGate
	g.install(b, ds)
	g.release(b)
	return nil
}

// clearAttempts bounds Clear's retries after commit conflicts.
const clearAttempts = 5

// deleteOffsets deletes the records at offsets bm (all below the persisted
// end) from the current version, as one Delete version.
func (b *Bucket) deleteOffsets(bm *offsetSet) error {
	b.mu.Lock()
	ds, werr := b.dataset, b.checkAppendable()
	b.mu.Unlock()
	if werr != nil {
		return werr
	}
	m := b.offsets.of(ds)
	bm = bm.clone()
	bm.removeBelow(m.first)
	b.consumption.noteCleared(m.cleared) // clears it may have missed (a commit whose answer was lost)
	bm.andNot(m.cleared)
	if bm.isEmpty() {
		return nil
	}
	if bm.maximum() >= m.end() {
		return fmt.Errorf("%w: clear: index %d is not in the dataset after the flush", ErrClosed, bm.maximum())
	}
	if ds.HasIndices() {
		return fmt.Errorf("%w: clear deletes rows through Lance deletion files, and this bucket has a secondary index "+
			"whose row addresses would need remapping", ErrUnsupported)
	}
	cleared := m.cleared.clone()
	cleared.or(bm)
	enc, err := encodeOffsets(cleared)
	if err != nil {
		return err
	}
	var commit flushGate // see maintenance_policy.go
	defer commit.release(b)
	nds, _, err := lance.DeleteRows(b.opts.datasetPath(), m.rowRanges(bm), lance.DeleteRowsOptions{
		Base:       ds,
		Config:     map[string]string{clearedOffsetKey: enc},
		Properties: map[string]string{"persisting.operation": "clear"},
		BeforeCommit: func() {
			crashAt(crashBeforeClearCommit)
			commit.hold(b)
		},
	})
	if err != nil {
		return fmt.Errorf("engine: clear: %w", err)
	}
	crashAt(crashAfterClearCommit)
	commit.install(b, nds)
	commit.release(b)
	b.consumption.noteCleared(bm)
	return nil
}

// noteCleared makes the loaded state skip newly cleared indexes at once
// (every task's next search; a state loaded later reads them from the
// dataset).
func (c *consumption) noteCleared(bm *offsetSet) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded {
		return
	}
	c.cleared.or(bm)
	for _, t := range c.tasks {
		t.unavailable.or(bm)
	}
}
