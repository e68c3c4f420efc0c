package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/persisting/persisting/lance"
	"github.com/persisting/persisting/wal"
)

// Bucket is one queue bucket. Create it with Open; all methods are safe for
// concurrent use.
type Bucket struct {
	opts Options
	lock *writerLock // nil when read-only (writer_lock.go)

	flushMu sync.Mutex // serialises flushes and other dataset writes; taken before mu (flush.go)
	mu      sync.Mutex
	closed  bool
	// closing is the Close in progress or the one that closed the bucket
	// (nil before, and after one that kept the bucket open): a Close
	// called meanwhile waits for it (close_keeps.go).
	closing *closeAttempt
	schema  *arrow.Schema  // nil until the first append or a dataset on disk fixes it
	dataset *lance.Dataset // newest committed version; nil before the first flush
	// followStamp names the manifest file of dataset when read-only (followWriter)
	followStamp string
	buf         buffer

	wal         *wal.Log // nil without a WAL
	walLast     uint64   // index of the newest WAL entry in the buffer or the dataset
	walReplayed int      // entries replayed into the buffer at open

	metrics     *bucketMetrics // nil without Options.Metrics
	metricsAddr string         // where /metrics is served, "" when not

	appendable     error          // why rows cannot be appended to checkedDataset (nil: they can)
	checkedDataset *lance.Dataset // the dataset appendable was computed for

	consumption consumption // training-data consumption and cleared indexes (consumption.go)
	offsets     offsetCache // the offsets the dataset's rows hold (retained_offsets.go)

	tail     *rowTail // rows of AppendRecords not yet sealed into buf (after all of buf)
	walOwner string   // id of a WAL kept apart from the dataset (wal_path), else ""

	flushing int64     // rows of the running flush, still at the head of buf
	bgFlush  *flushRun // the background flush scheduled or running, nil when none (back_pressure.go)
	// flushHurry wakes a background flush waiting for min_flush_interval;
	// made by the first startFlush.
	flushHurry chan struct{}
	// lastFlushStart is when the newest flush took its rows (min_flush_interval).
	lastFlushStart time.Time
	// flushFailure says why the last flush failed ("" after one succeeded):
	// Stats reports it, so a caller of a background flush learns it.
	flushFailure string
	uncertain    *uncertainFlush // a failed flush that may have committed (flush_uncertain.go); under flushMu
	// refitFailed: the buffered rows did not fit the schema pylance gave the
	// dataset (schema_concurrent.go); the auto flush waits for a Flush, and
	// puts are refused with this error until one succeeds. Under mu.
	refitFailed error

	// abandoned: the dataset's files at open, before this writer wrote
	// any; those no version references were left by a crashed writer and
	// go at the next cleanup (lance.ListFiles). Under maintMu.
	abandoned lance.FileSet
	// settled: the last cleanup left nothing to age out (maintenance_policy.go). Under maintMu.
	settled *settledCleanup

	beforeFlushWrite func() // tests: runs in a flush between taking its rows and writing them
	onBackPressure   func() // tests: runs (under mu) when an append is about to wait for a flush
	beforeCloseEnd   func() // tests: runs in Close just before it releases the writer lock
	onCloseWait      func() // tests: runs when a Close is about to wait for an earlier one
	// afterReadPin (tests) runs in a read (Read, ReadVersion, Lookup) once
	// it has pinned its dataset version, before it reads the version's files.
	afterReadPin func()

	// Background work (background.go): auto flush, maintenance, retention.
	bg      *background
	maintMu sync.Mutex  // serialises compaction, cleanup and retention; taken before flushMu
	pins    versionPins // dataset versions readers are using (cleanup keeps them)
}

// Open opens the bucket stored at opts.Path, creating the directory when
// missing and recovering the rows committed there before.
func Open(opts Options) (*Bucket, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.ReadOnly {
		return openReadOnly(opts)
	}
	if err := prepareStorage(opts); err != nil {
		return nil, err
	}
	lock, err := acquireWriterLockFor(opts)
	if err != nil {
		return nil, err
	}
	b := &Bucket{opts: opts, lock: lock, metrics: newBucketMetrics(opts)}
	if opts.MetricsAddress != "" {
		addr, err := ServeMetrics(opts.MetricsAddress)
		if err != nil {
			b.metrics.forget()
			lock.release()
			return nil, err
		}
		b.metricsAddr = addr.String()
	}
	ds, err := lance.Open(opts.datasetPath())
	switch {
	case errors.Is(err, lance.ErrNotFound):
	case err != nil:
		b.metrics.forget()
		lock.release()
		return nil, fmt.Errorf("engine: open dataset %s: %w", opts.datasetPath(), err)
	default:
		b.dataset = ds
		b.schema = withoutMetadata(ds.Schema())
	}
	b.listAbandoned()
	if err := b.recoverWAL(); err != nil {
		b.closeWAL()
		releaseAll(b.buf.take())
		b.releaseRows()
		b.metrics.forget()
		lock.release()
		return nil, err
	}
	b.metrics.replayed(b.bufferedRows(), b.bufferedRows(), b.walSize())
	if b.dataset != nil { // the dataset gauges from open, not from the first maintenance pass
		b.metrics.retained(firstOffset(b.dataset), b.dataset.CountRows(), b.dataset.NumFragments())
	}
	if err := b.consumption.loadIfPresent(b); err != nil {
		b.Close()
		return nil, err
	}
	b.startBackground()
	return b, nil
}

// prepareDir makes sure path is a directory we can write into, so a bad path
// fails at open instead of at the first flush, with the data then in memory only.
func prepareDir(path string) error {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return fmt.Errorf("engine: storage path %s: %w", path, err)
	}
	probe, err := os.CreateTemp(path, ".write-probe-*")
	if err != nil {
		return fmt.Errorf("engine: storage path %s is not writable: %w", path, err)
	}
	name := probe.Name()
	probe.Close()
	return os.Remove(name)
}

// CheckSchema reports whether batches of schema s could be appended now
// (exactly matching, or - with SchemaEvolution - evolving the schema): it
// lets a caller refuse data by its schema before touching its buffers.
func (b *Bucket) CheckSchema(s *arrow.Schema) error {
	if err := b.writable("append"); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if b.opts.SchemaEvolution {
		_, err := planEvolution(b.schema, s, b.checkNewSchema)
		return err
	}
	if b.schema == nil {
		return b.checkNewSchema(s)
	}
	return checkFields(b.schema, s)
}

// checkNewSchema rejects schemas the bucket cannot hold, before they become
// its schema: rows that a flush could never write must not be accepted. What
// can be written depends on the data storage version: the dataset's own, or
// the one a new dataset will get.
func (b *Bucket) checkNewSchema(s *arrow.Schema) error {
	s = writableForm(s) // untyped fields are written as strings (schema_untyped.go)
	if err := checkFieldNames(s); err != nil {
		return err
	}
	version := b.opts.DataStorageVersion
	if b.dataset != nil {
		version = b.dataset.DataStorageVersion()
	}
	return lance.CheckWritableVersion(s, version)
}

// Append adds the rows of rec after all rows appended before. The bucket keeps
// a reference to rec's memory (no copy) until the rows are flushed. The first
// append of a bucket without a dataset fixes the schema; later records must
// match it. Buffering, flushes and back-pressure are those of every append
// path (back_pressure.go).
func (b *Bucket) Append(rec arrow.Record) error {
	return b.AppendBatches([]arrow.Record{rec})
}

// AppendBatches appends several records as one unit: all of them or, on any
// error, none (with a WAL, they are one atomic group of entries). It returns
// ErrNotFlushed, with the rows stored, when a flush it had to wait for failed.
func (b *Bucket) AppendBatches(recs []arrow.Record) error {
	_, err := b.AppendBatchesAt(recs)
	return err
}

// AppendBatchesAt is AppendBatches that also returns the offset its first row
// got, taken under the bucket lock: a caller never infers it from a count
// that another append may pass meanwhile. With no rows it is the total count.
func (b *Bucket) AppendBatchesAt(recs []arrow.Record) (first int64, err error) {
	rows := int64(0)
	for _, rec := range recs {
		rows += rec.NumRows()
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return 0, ErrClosed
	}
	flushErr, err := b.makeRoom(rows)
	if err != nil {
		b.mu.Unlock()
		return 0, err
	}
	first, w, err := b.appendLocked(recs, false)
	b.mu.Unlock()
	if errors.Is(err, errSchemaChange) {
		// A schema change converts every buffered row and may write a
		// dataset version: no flush may be running meanwhile.
		first, w, err = b.appendChangingSchema(recs)
	}
	return first, b.acknowledge(w, err, flushErr)
}

// appendChangingSchema appends recs holding flushMu, for a batch that
// changes the bucket's schema.
func (b *Bucket) appendChangingSchema(recs []arrow.Record) (int64, walWrite, error) {
	b.flushMu.Lock()
	defer b.flushMu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, walWrite{}, ErrClosed
	}
	return b.appendLocked(recs, true)
}

// errSchemaChange: the batch changes the bucket's schema, which appendLocked
// does only for a caller holding flushMu.
var errSchemaChange = errors.New("engine: the batch changes the schema")

// appendLocked buffers recs after writing them to the WAL, and starts a
// background flush when one is due. It returns the offset of the first row
// and the WAL write the caller commits after releasing mu. A batch that changes the schema is refused
// with errSchemaChange unless the caller holds flushMu (haveFlushMu). Under mu.
func (b *Bucket) appendLocked(recs []arrow.Record, haveFlushMu bool) (int64, walWrite, error) {
	if err := b.checkPut(); err != nil {
		return 0, walWrite{}, err
	}
	b.sealRows() // the buffer, in order, before it is read or converted
	schema, kept, err := b.admitRecords(recs)
	defer func() { releaseAll(kept) }()
	if err != nil || len(kept) == 0 {
		return b.totalLocked(), walWrite{}, err
	}
	changed := b.schema != nil && !b.schema.Equal(schema)
	if changed && !haveFlushMu {
		return 0, walWrite{}, errSchemaChange
	}
	var rebuffered []arrow.Record
	if changed {
		if rebuffered, err = b.rebuffer(schema); err != nil {
			return 0, walWrite{}, err
		}
		// Change the stored schema first: if a stored value cannot widen,
		// the batch is refused here and nothing else has changed.
		if err := b.evolveDataset(schema); err != nil {
			releaseAll(rebuffered)
			return 0, walWrite{}, err
		}
	}
	w, err := b.logToWAL(kept)
	if err != nil {
		if changed {
			// The Lance schema change is committed: the bucket follows it,
			// or its next flush would not match the dataset.
			b.setSchema(schema, rebuffered)
		}
		return 0, walWrite{}, err
	}
	b.setSchema(schema, rebuffered)
	first, rows := b.totalLocked(), int64(0)
	for _, rec := range kept {
		b.buf.add(rec)
		rows += rec.NumRows()
	}
	b.metrics.appended(rows, b.buf.rows, b.walSize())
	b.askFlush()
	return first, w, nil
}

// checkAppendable refuses rows a flush could never write into the existing
// dataset (say, one pylance wrote in a data file version this writer does
// not produce), instead of buffering - and logging - them for ever.
func (b *Bucket) checkAppendable() error {
	if err := b.writable("append"); err != nil {
		return err
	}
	if b.dataset != b.checkedDataset {
		b.checkedDataset = b.dataset
		b.appendable = nil
		if b.dataset != nil {
			b.appendable = b.dataset.CheckAppendable()
		}
	}
	return b.appendable
}

// admit checks recs against the bucket's schema (evolving it when the bucket
// allows) and returns the schema after them, new references to their
// non-empty records in that schema, and - when the schema changed - the
// buffered records converted to it. It changes nothing in the bucket.
func (b *Bucket) admit(recs []arrow.Record) (schema *arrow.Schema, kept, rebuffered []arrow.Record, err error) {
	schema, kept, err = b.admitRecords(recs)
	if err != nil || schema == nil || b.schema == nil || b.schema.Equal(schema) {
		return schema, kept, nil, err
	}
	rebuffered, err = b.rebuffer(schema)
	if err != nil {
		return nil, kept, nil, err
	}
	return schema, kept, rebuffered, nil
}

// rebuffer returns the buffered records converted to schema; it changes
// nothing in the bucket. No flush may be running (its rows are buffered).
func (b *Bucket) rebuffer(schema *arrow.Schema) ([]arrow.Record, error) {
	var rebuffered []arrow.Record
	for _, rec := range b.buf.records {
		c, err := conform(schema, rec, b.opts.Allocator)
		if err != nil {
			releaseAll(rebuffered)
			return nil, fmt.Errorf("%w (a buffered row)", err)
		}
		rebuffered = append(rebuffered, c)
	}
	return rebuffered, nil
}

func (b *Bucket) admitRecords(recs []arrow.Record) (*arrow.Schema, []arrow.Record, error) {
	schema := b.schema
	var kept []arrow.Record
	for _, rec := range recs {
		if !b.opts.SchemaEvolution {
			if schema == nil {
				if err := b.checkNewSchema(rec.Schema()); err != nil {
					return nil, kept, err
				}
				schema = withoutMetadata(rec.Schema())
			}
			next, c, err := admitStrict(schema, rec, b.opts.Allocator) // columns by name (schema_check.go)
			if err != nil {
				return nil, kept, err
			}
			schema = next
			if rec.NumRows() > 0 {
				kept = append(kept, c)
			} else {
				c.Release()
			}
			continue
		}
		plan, err := planEvolution(schema, rec.Schema(), b.checkNewSchema)
		if err != nil {
			return nil, kept, err
		}
		schema = plan.schema
		if rec.NumRows() == 0 {
			continue
		}
		c, err := conform(schema, rec, b.opts.Allocator)
		if err == nil {
			if err = checkRequiredValues(c); err != nil {
				c.Release()
			}
		}
		if err != nil {
			return nil, kept, err
		}
		kept = append(kept, c)
	}
	// Records admitted before the schema changed are converted to it.
	for i, rec := range kept {
		if rec.Schema().Equal(schema) {
			continue
		}
		c, err := conform(schema, rec, b.opts.Allocator)
		if err != nil {
			return nil, kept, err
		}
		rec.Release()
		kept[i] = c
	}
	return schema, kept, nil
}

// setSchema makes s the bucket's schema; rebuffered (from admit, when the
// schema changed) replaces the buffered records, taking over its references.
func (b *Bucket) setSchema(s *arrow.Schema, rebuffered []arrow.Record) {
	if rebuffered != nil {
		b.buf.replace(rebuffered)
	}
	b.schema = s
}

// Close flushes the buffer and closes the bucket. When that flush fails
// and no WAL holds the rows, the bucket stays open with them and Close
// returns the error (close_keeps.go): a later Close or Flush tries again.
// Otherwise the bucket is closed even when the flush fails (the WAL keeps
// the rows for the next open); the error says what was not written. A
// Close called while another runs waits for it to end (writer lock
// released) and returns nil, or the first one's error when that one kept
// the bucket open; every Close after the bucket closed returns nil.
func (b *Bucket) Close() error {
	b.mu.Lock()
	if a := b.closing; a != nil {
		b.mu.Unlock()
		if b.onCloseWait != nil {
			b.onCloseWait()
		}
		<-a.done
		return a.kept
	}
	a := &closeAttempt{done: make(chan struct{})}
	b.closing = a
	b.mu.Unlock()
	defer close(a.done)
	b.stopBackground() // first: background work takes flushMu itself
	b.flushMu.Lock()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		b.flushMu.Unlock()
		return nil
	}
	// Closed first: nothing appended from now on can miss the last flush.
	b.closed = true
	if b.bgFlush != nil {
		b.hurryFlush() // a flush waiting for min_flush_interval ends: this one flushes
	}
	b.mu.Unlock()
	gone, err := b.closeFlush()
	if kept := b.keepOpenAfter(a, err); kept != nil {
		return kept
	}
	b.storeGoneAtClose(gone)
	b.mu.Lock()
	releaseAll(b.buf.take())
	b.releaseRows()
	if cerr := b.closeWAL(); err == nil {
		err = cerr
	}
	b.metrics.forget()
	b.mu.Unlock()
	b.flushMu.Unlock()
	// A background flush waiting for flushMu finds the bucket closed and ends.
	b.waitBackgroundFlush()
	if cerr := b.consumption.close(); err == nil {
		err = cerr
	}
	if b.beforeCloseEnd != nil {
		b.beforeCloseEnd()
	}
	// Last: the next writer must find everything written, and no flush of
	// this handle may still be running.
	b.lock.release()
	b.lock = nil
	return err
}

func (b *Bucket) closeWAL() error {
	if b.wal == nil {
		return nil
	}
	err := b.wal.Close()
	b.wal = nil
	if err != nil {
		return fmt.Errorf("%w: close: %w", ErrWAL, err)
	}
	return nil
}

// Schema returns the bucket's schema, or ErrNoSchema before the first append.
func (b *Bucket) Schema() (*arrow.Schema, error) {
	if err := b.followWriter(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	if b.schema == nil {
		return nil, ErrNoSchema
	}
	return b.schema, nil
}

// Path returns the bucket's storage directory.
func (b *Bucket) Path() string { return b.opts.Path }

// DatasetPath returns the directory of the bucket's Lance dataset.
func (b *Bucket) DatasetPath() string {
	if b.opts.remote() {
		return b.opts.datasetPath()
	}
	return filepath.Clean(b.opts.datasetPath())
}
