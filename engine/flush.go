package engine

import (
	"fmt"
	"strconv"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/persisting/persisting/lance"
)

// A flush holds b.mu only to take the rows it writes and to install the
// version that holds them; the data file is encoded, written and committed
// without it, so appends and reads go on meanwhile. b.flushMu serialises the
// flush with everything else that writes a dataset version (a schema change,
// Compact, CreateIndex, CleanupOldVersions, Close). Lock order: flushMu, then
// mu. b.dataset changes only under both, so a holder of flushMu may read it
// without mu.

// flushJob is one flush in progress: its rows are the first records of the
// buffer, which stay there (readable) until the version holding them is
// installed, and only appends after them may change the buffer meanwhile.
type flushJob struct {
	recs    []arrow.Record // own references to the first len(recs) buffered records
	rows    int64
	mark    uint64 // last WAL index of these rows: the watermark of the new version
	opts    lance.WriteOptions
	started time.Time
}

// Flush commits every row buffered when it is called as one new dataset
// version. On failure the rows stay buffered, so a later Flush can try again.
func (b *Bucket) Flush() error {
	b.flushMu.Lock()
	defer b.unlockFlush()
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return b.flush(false)
}

// flush writes the rows buffered now. The caller holds flushMu, not mu. A
// closed bucket is flushed only by Close (closing); for anyone else there is
// nothing left to do, as Close flushed.
func (b *Bucket) flush(closing bool) error {
	b.mu.Lock()
	if b.closed && !closing {
		b.mu.Unlock()
		return nil
	}
	job, err := b.beginFlush()
	b.mu.Unlock()
	if err != nil || job == nil {
		return err
	}
	if b.beforeFlushWrite != nil {
		b.beforeFlushWrite()
	}
	ds, err := lance.Write(b.opts.datasetPath(), job.recs, job.opts)
	releaseAll(job.recs)

	b.mu.Lock()
	b.flushing = 0
	if err != nil {
		b.mu.Unlock()
		b.metrics.failed("flush")
		return fmt.Errorf("engine: flush %d rows to %s: %w", job.rows, b.opts.datasetPath(), err)
	}
	b.dataset = ds
	b.buf.dropFront(len(job.recs), job.rows)
	buffered := b.bufferedRows()
	b.mu.Unlock()

	b.truncateWAL(job.mark)
	b.metrics.flushed(job.rows, time.Since(job.started), buffered, b.walSize())
	b.kickMaintenance() // background compaction may be due (background.go)
	b.compactIfDue()
	return nil
}

// beginFlush takes the buffered rows for a flush (nil when there are none).
// Under mu.
func (b *Bucket) beginFlush() (*flushJob, error) {
	b.sealRows()
	if b.buf.rows == 0 {
		return nil, nil
	}
	crashAt(crashBeforeCommit)
	if err := b.evolveDataset(b.schema); err != nil {
		b.metrics.failed("flush")
		return nil, err
	}
	job := &flushJob{rows: b.buf.rows, mark: b.walLast, started: time.Now()}
	job.recs = make([]arrow.Record, len(b.buf.records))
	for i, r := range b.buf.records {
		job.recs[i] = withSchema(b.schema, r)
	}
	// Base: the bucket knows the newest version (it wrote it), so the
	// flush need not list _versions; a concurrent writer still makes the
	// commit retry on the newest.
	job.opts = lance.WriteOptions{DataStorageVersion: b.opts.DataStorageVersion, Compression: b.opts.Compression, Base: b.dataset}
	if b.wal != nil {
		job.opts.Config = map[string]string{walWatermarkKey: strconv.FormatUint(job.mark, 10)}
	}
	b.flushing = job.rows
	return job, nil
}

// flushDue says whether the buffer reached the flush threshold or the WAL
// its maximum size. Under mu.
func (b *Bucket) flushDue() bool {
	return b.bufferedRows() >= int64(b.opts.FlushThreshold) || b.walOverSize()
}

// flushAfterAppend is the flush an append that reached the threshold owes.
// It runs after the append released mu, so other appenders are not held up.
// When a flush is running already the append does not wait for it: it
// leaves its flush to that flush's owner (flushPending), unless the buffer
// holds twice the threshold, when it waits, so the buffer stays bounded.
// Under mu; returns with mu released.
func (b *Bucket) flushAfterAppend() error {
	if !b.flushMu.TryLock() { // never blocks, so taking it under mu cannot deadlock
		if b.bufferedRows() < 2*int64(b.opts.FlushThreshold) {
			b.flushPending = true
			b.mu.Unlock()
			return nil
		}
		b.mu.Unlock()
		b.flushMu.Lock()
	} else {
		b.mu.Unlock()
	}
	defer b.unlockFlush()
	return b.flush(false)
}

// unlockFlush releases flushMu, first doing the flushes that appends left
// to its holder while it held it. Appends take flushMu with TryLock under mu
// and this releases it under mu, so no such flush is ever left undone.
func (b *Bucket) unlockFlush() {
	for {
		b.mu.Lock()
		if !b.flushPending || b.closed || !b.flushDue() {
			b.flushPending = false
			b.flushMu.Unlock()
			b.mu.Unlock()
			return
		}
		b.flushPending = false
		b.mu.Unlock()
		if err := b.flush(false); err != nil {
			b.opts.Logger("persisting: flush at the flush threshold failed (the rows stay buffered): %v", err)
			b.mu.Lock()
			b.flushMu.Unlock()
			b.mu.Unlock()
			return
		}
	}
}
