package engine

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/persisting/persisting/lance"
	"github.com/persisting/persisting/wal"
)

// walWatermarkKey names the manifest config entry that records the last WAL
// index contained in the dataset. Manifest config is carried into every later
// version (pylance's appends keep it too), so the newest version always tells
// where replay starts.
const walWatermarkKey = "persisting.wal_watermark"

func (b *Bucket) watermark() (uint64, error) {
	if b.dataset == nil {
		return 0, nil
	}
	return watermarkOf(b.dataset)
}

// watermarkOf is the last WAL index dataset version ds contains (0: none).
func watermarkOf(ds *lance.Dataset) (uint64, error) {
	v, ok := ds.Config()[walWatermarkKey]
	if !ok {
		return 0, nil
	}
	w, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("engine: dataset config %s=%q is not an index", walWatermarkKey, v)
	}
	return w, nil
}

// recoverWAL opens the WAL and puts every entry after the dataset's
// watermark back into the buffer, in order, so acknowledged rows that never
// reached Lance are there again and rows that did are not there twice. With
// the WAL disabled, a WAL left by an earlier run is still replayed, flushed
// and emptied: switching the WAL off must not lose what it holds. A
// read-only bucket leaves the WAL alone.
func (b *Bucket) recoverWAL() error {
	if b.opts.ReadOnly {
		return nil // the writer owns the WAL; a reader sees what is committed
	}
	if !b.opts.WAL.Enabled {
		if b.opts.walPath() == "" {
			return nil // an s3:// bucket without wal_path has no WAL anywhere
		}
		if _, err := os.Stat(b.opts.walPath()); errors.Is(err, os.ErrNotExist) {
			return nil
		}
	}
	walOpts := wal.Options{Sync: b.syncPolicy(), Logger: b.opts.Logger}
	if b.opts.testWAL != nil {
		walOpts = b.opts.testWAL(walOpts)
	}
	log, err := wal.Open(b.opts.walPath(), walOpts)
	if err != nil {
		return fmt.Errorf("%w: open %s: %w", ErrWAL, b.opts.walPath(), err)
	}
	b.wal = log
	mark, err := b.watermark()
	if err != nil {
		return err
	}
	if err := b.checkWALOwner(log); err != nil {
		return err
	}
	b.reportLostEntries(log, mark)
	replayed := 0
	err = log.ReadFrom(mark+1, func(index uint64, payload []byte) error {
		if err := b.replayEntry(payload); err != nil {
			return fmt.Errorf("entry %d: %w", index, err)
		}
		b.walLast = index
		replayed++
		return nil
	})
	if errors.Is(err, ErrSchemaMismatch) { // its rows stay logged: say how to get them stored
		err = fmt.Errorf("%w; the WAL keeps them: when another writer changed the dataset's schema since they were "+
			"put, undo the change (pylance's restore) or change the dataset so that they fit, and open the bucket again", err)
	}
	if err != nil {
		return fmt.Errorf("%w: replay %s: %w", ErrWAL, b.opts.walPath(), err)
	}
	b.walReplayed = replayed
	if b.walLast < mark {
		b.walLast = mark
	}
	// Entries up to the watermark are in Lance already (a crash came between
	// the commit and the truncation); drop them, and make sure the next entry
	// gets an index above the watermark even if the log lost unsynced entries.
	if err := log.TruncateFront(mark + 1); err != nil {
		return fmt.Errorf("%w: truncate %s: %w", ErrWAL, b.opts.walPath(), err)
	}
	if !b.opts.WAL.Enabled {
		err := b.flush(false) // nothing else can use the bucket yet
		if cerr := log.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("%w: close: %w", ErrWAL, cerr)
		}
		b.wal = nil
		return err
	}
	return nil
}

// reportLostEntries warns, naming the index range, about acknowledged WAL
// entries that are neither in the log nor in the dataset (whose watermark is
// mark): the log's last segment was emptied or deleted (wal.Log.Lost), or
// its first entries went with a deleted first segment. Entries the dataset
// holds were not lost, whatever happened to the log.
func (b *Bucket) reportLostEntries(log *wal.Log, mark uint64) {
	warn := func(first, last uint64, how string) {
		first = max(first, mark+1)
		if first <= last {
			b.opts.Logger("persisting: WAL %s lost acknowledged entries %d..%d (%s); they are not in the dataset either, so their rows are gone",
				b.opts.walPath(), first, last, how)
		}
	}
	if first, err := log.FirstIndex(); err == nil && first > 1 {
		warn(1, first-1, "the log begins after them: its first segment was deleted, or the dataset lost the version that held them")
	}
	if lost := log.Lost(); lost != nil {
		warn(lost.First, lost.Last, "and any written after them: the last segment was emptied or deleted")
	}
}

// replayEntry puts the rows of one WAL entry back into the buffer, by its
// kind (wal_payload.go): records through the record rules, as AppendRecords
// took them; an Arrow batch through the checks Append made.
func (b *Bucket) replayEntry(payload []byte) error {
	kind, err := walEntryKindOf(payload)
	if err != nil {
		return err
	}
	if kind == walRecordsKind {
		if err := b.replayRecords(payload[1:]); err != nil {
			return fmt.Errorf("(records): %w", err)
		}
		return nil
	}
	b.sealRows() // before admit may convert the buffer to a new schema
	rec, err := decodeWALRecord(payload, b.opts.Allocator)
	if err != nil {
		return err
	}
	defer rec.Release()
	schema, kept, rebuffered, err := b.admit([]arrow.Record{rec})
	defer func() { releaseAll(kept) }()
	if err != nil {
		return err
	}
	b.setSchema(schema, rebuffered)
	for _, r := range kept {
		b.buf.add(r)
	}
	return nil
}

func (b *Bucket) syncPolicy() wal.SyncPolicy {
	if b.opts.WAL.SyncInterval > 0 {
		return wal.SyncInterval(b.opts.WAL.SyncInterval)
	}
	return wal.SyncEveryWrite
}

// logToWAL writes recs to the WAL, one entry each, as one all-or-nothing
// group, before they are buffered (a no-op without a WAL). It does not wait
// for them to be durable: the caller commits the returned write after
// releasing mu (group commit, see acknowledge). Under mu.
func (b *Bucket) logToWAL(recs []arrow.Record) (walWrite, error) {
	if b.wal == nil {
		return walWrite{}, nil
	}
	entries := make([][][]byte, len(recs))
	for i, rec := range recs {
		p, err := encodeWALRecord(rec)
		if err != nil {
			return walWrite{}, err
		}
		entries[i] = [][]byte{p}
	}
	return b.appendWAL(entries)
}

// appendWAL appends entries, each given in parts (wal.Log.AppendParts), to
// the WAL as consecutive entries. Under mu.
func (b *Bucket) appendWAL(entries [][][]byte) (walWrite, error) {
	_, last, err := b.wal.AppendParts(entries)
	if err != nil {
		return walWrite{}, fmt.Errorf("%w: append: %w", ErrWAL, err)
	}
	b.walLast = last
	return walWrite{log: b.wal, index: last}, nil
}

// truncateWAL drops the entries up to mark, which a flush committed; later
// entries (appended during the flush) stay, to be replayed after a crash. A
// failure is only a warning: the watermark already keeps replay from
// duplicating them. The caller holds flushMu (the WAL has its own lock).
func (b *Bucket) truncateWAL(mark uint64) {
	if b.wal == nil {
		return
	}
	crashAt(crashAfterCommit)
	if err := b.wal.TruncateFront(mark + 1); err != nil {
		b.opts.Logger("persisting: WAL truncation after flush failed (replay skips the flushed entries): %v", err)
	}
	crashAt(crashAfterTruncate)
}

func (b *Bucket) walOverSize() bool {
	return b.wal != nil && b.wal.Size() > b.opts.WAL.MaxSize
}

func (b *Bucket) walSize() int64 {
	if b.wal == nil {
		return 0
	}
	return b.wal.Size()
}
