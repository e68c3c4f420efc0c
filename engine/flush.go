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

// FlushStat describes one committed flush (Options.OnFlush).
type FlushStat struct {
	Rows int64
	// Took runs from taking the rows to installing the version: encoding,
	// writing and committing, not the wait for another writer of versions
	// (a flush in progress, a compaction's commit) before it.
	Took time.Duration
}

// Flush commits every row buffered when it is called as one new dataset
// version. On failure the rows stay buffered, so a later Flush can try again.
func (b *Bucket) Flush() error {
	b.flushMu.Lock()
	defer b.flushMu.Unlock()
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return ErrClosed
	}
	b.mu.Lock()
	b.refitFailed = nil // a Flush tries again
	b.mu.Unlock()
	err := b.flush(false)
	if cerr := b.consumption.syncAfterFlush(); err == nil {
		err = cerr
	}
	return err
}

// flush writes the rows buffered now. The caller holds flushMu, not mu. A
// closed bucket is flushed only by Close (closing); for anyone else there is
// nothing left to do, as Close flushed.
func (b *Bucket) flush(closing bool) error {
	b.mu.Lock()
	done := b.closed && !closing // stays so: Close needs flushMu
	b.mu.Unlock()
	if done {
		return nil
	}
	err := b.settleUncertainFlush()
	b.mu.Lock()
	if err != nil {
		b.flushFailure = err.Error()
		b.mu.Unlock()
		return err
	}
	job, err := b.beginFlush()
	if err != nil {
		b.flushFailure = err.Error()
	}
	b.mu.Unlock()
	if err != nil && b.adoptAddedFields(err) { // schema_concurrent.go
		return b.flush(closing)
	}
	if err != nil || job == nil {
		return err
	}
	if b.bg != nil {
		b.bg.flushes.begin()
		defer b.bg.flushes.end()
	}
	if b.beforeFlushWrite != nil {
		b.beforeFlushWrite()
	}
	ds, err := lance.Write(b.opts.datasetPath(), job.recs, job.opts)
	releaseAll(job.recs)

	b.mu.Lock()
	b.flushing = 0
	if err != nil {
		b.noteUncertainFlush(job, err)
		err = fmt.Errorf("engine: flush %d rows to %s: %w", job.rows, b.opts.datasetPath(), err)
		b.flushFailure = err.Error()
		b.mu.Unlock()
		b.metrics.failed("flush")
		if b.adoptAddedFields(err) { // schema_concurrent.go
			return b.flush(closing)
		}
		if retry, rerr := b.refitToDataset(err); retry {
			return b.flush(closing)
		} else if rerr != err {
			b.mu.Lock()
			b.flushFailure = rerr.Error()
			b.mu.Unlock()
			err = rerr
		}
		return err
	}
	b.flushFailure = ""
	b.dataset = ds
	b.schema = withStoredMetadata(b.schema, ds.Schema())
	b.buf.dropFront(len(job.recs), job.rows)
	buffered := b.bufferedRows()
	b.mu.Unlock()

	b.truncateWAL(job.mark)
	if err := b.consumption.syncAfterFlush(); err != nil {
		b.opts.Logger("persisting: %v", err)
	}
	took := time.Since(job.started)
	b.metrics.flushed(job.rows, took, buffered, b.walSize())
	if b.opts.OnFlush != nil {
		b.opts.OnFlush(FlushStat{Rows: job.rows, Took: took})
	}
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
	ws, err := b.settleForFlush() // untyped fields (schema_untyped.go)
	if err != nil {
		b.metrics.failed("flush")
		return nil, err
	}
	if err := b.evolveDataset(ws); err != nil {
		b.metrics.failed("flush")
		return nil, err
	}
	job := &flushJob{rows: b.buf.rows, mark: b.walLast, started: time.Now()}
	job.recs = make([]arrow.Record, 0, len(b.buf.records))
	for _, r := range b.buf.records {
		rec, err := fitRecord(ws, r, b.opts.Allocator)
		if err != nil {
			releaseAll(job.recs)
			b.metrics.failed("flush")
			return nil, err
		}
		job.recs = append(job.recs, rec)
	}
	// Base: the bucket knows the newest version (it wrote it), so the
	// flush need not list _versions; a concurrent writer still makes the
	// commit retry on the newest.
	job.opts = lance.WriteOptions{DataStorageVersion: b.opts.DataStorageVersion, Compression: b.opts.Compression, Base: b.dataset}
	if b.wal != nil {
		job.opts.Config = map[string]string{walWatermarkKey: strconv.FormatUint(job.mark, 10)}
		if b.walOwner != "" {
			job.opts.Config[walOwnerKey] = b.walOwner
		}
	}
	b.flushing = job.rows
	b.lastFlushStart = b.opts.Background.clock.Now()
	return job, nil
}
