package engine

import (
	"fmt"

	"github.com/persisting/persisting/lance"
)

// A flush to an object store can fail without knowing whether it committed:
// its manifest PUT got no answer (lance.ErrCommitUncertain). Its rows stay
// buffered, as after any failed flush, but writing them again blindly would
// store them twice if the version had been stored after all. So the bucket
// remembers the uncertain commit, and the next flush (or Close) first asks
// the store (lance.ResolveCommit), which publishes the version with the
// lost request's bytes if it is still absent, so that a request the server
// held back and stores later cannot add the rows a second time. The version
// holds the flush: its rows are dropped from the buffer and the WAL as after
// a successful flush; another writer took the version: they are flushed as
// usual; no answer yet: that flush fails too and nothing changes.

// uncertainFlush is a flush whose commit may have happened; its rows are
// still the first rows of the buffer.
type uncertainFlush struct {
	commit lance.UncertainCommit
	rows   int64
	mark   uint64 // its WAL watermark
}

// noteUncertainFlush remembers job's commit when err says its outcome is
// unknown. Under flushMu.
func (b *Bucket) noteUncertainFlush(job *flushJob, err error) {
	if c, ok := lance.UncertainCommitOf(err); ok {
		b.uncertain = &uncertainFlush{commit: c, rows: job.rows, mark: job.mark}
	}
}

// settleUncertainFlush resolves the uncertain flush, if any. Under flushMu,
// not mu.
func (b *Bucket) settleUncertainFlush() error {
	u := b.uncertain
	if u == nil {
		return nil
	}
	committed, err := lance.ResolveCommit(u.commit)
	var ds *lance.Dataset
	if err == nil && committed {
		ds, err = lance.OpenVersion(u.commit.Root, u.commit.Version)
	}
	if err != nil {
		return fmt.Errorf("engine: the last flush of %d rows to %s may have committed version %d; "+
			"they stay buffered until the store says whether it did: %w", u.rows, u.commit.Root, u.commit.Version, err)
	}
	b.uncertain = nil
	if !committed {
		return nil
	}
	b.mu.Lock()
	if b.dataset == nil || b.dataset.Version() < ds.Version() {
		b.adoptCommit(ds)
	}
	b.buf.dropFrontRows(u.rows)
	b.mu.Unlock()
	b.truncateWAL(u.mark)
	b.opts.Logger("persisting: the flush of %d rows to %s whose commit got no answer is version %d; not written again",
		u.rows, u.commit.Root, u.commit.Version)
	return nil
}

// dropFrontRows releases the first rows rows (a slice of the record that
// holds the last of them stays).
func (b *buffer) dropFrontRows(rows int64) {
	n, left := 0, rows
	for n < len(b.records) && left >= b.records[n].NumRows() {
		left -= b.records[n].NumRows()
		n++
	}
	b.dropFront(n, rows-left)
	if left > 0 && len(b.records) > 0 {
		rec := b.records[0]
		rest := rec.NewSlice(left, rec.NumRows())
		b.bytes += heldBytes(rest) - heldBytes(rec)
		rec.Release()
		b.records[0] = rest
		b.rows -= left
	}
}
