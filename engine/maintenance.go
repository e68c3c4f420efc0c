package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance"
)

// Version is one committed dataset version.
type Version struct {
	Version   uint64    `json:"version"`
	Timestamp time.Time `json:"timestamp"`
}

// CompactResult says what a compaction did.
type CompactResult struct {
	VersionBefore   uint64 `json:"version_before"`
	Version         uint64 `json:"version"`
	FragmentsBefore int    `json:"fragments_before"`
	Fragments       int    `json:"fragments"`
}

// Compact merges small adjacent fragments of the dataset into fragments of up
// to targetRows rows (0: Lance's default) as one new version. Row order, and
// so every offset, is kept; older versions stay readable until cleaned up.
// Buffered rows are not touched.
func (b *Bucket) Compact(targetRows int64) (CompactResult, error) {
	if targetRows < 0 {
		return CompactResult{}, fmt.Errorf("%w: target_rows must not be negative", ErrInvalidArgument)
	}
	if err := b.writable("compact"); err != nil {
		return CompactResult{}, err
	}
	b.maintMu.Lock()
	defer b.maintMu.Unlock()
	if err := b.lockFlush(); err != nil {
		return CompactResult{}, err
	}
	defer b.flushMu.Unlock()
	return b.compact(targetRows)
}

// lockFlush takes flushMu for an operation that writes a dataset version,
// or fails for a closed or read-only bucket.
func (b *Bucket) lockFlush() error {
	if err := b.writable("write a version"); err != nil {
		return err
	}
	b.flushMu.Lock()
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		b.flushMu.Unlock()
		return ErrClosed
	}
	return nil
}

// compact rewrites the dataset without holding mu (reads and appends go on:
// compaction keeps every row and its order) and installs the result under
// it. The caller holds flushMu.
func (b *Bucket) compact(targetRows int64) (CompactResult, error) {
	if b.dataset == nil {
		return CompactResult{}, nil
	}
	res := CompactResult{VersionBefore: b.dataset.Version(), FragmentsBefore: b.dataset.NumFragments()}
	ds, err := lance.Compact(b.opts.datasetPath(), lance.CompactOptions{TargetRowsPerFragment: targetRows})
	if err != nil {
		b.metrics.failed("compact")
		return CompactResult{}, fmt.Errorf("engine: compact %s: %w", b.opts.datasetPath(), err)
	}
	b.mu.Lock()
	b.adoptCommit(ds)
	b.mu.Unlock()
	res.Version, res.Fragments = ds.Version(), ds.NumFragments()
	return res, nil
}

// compactIfDue runs after a flush: with CompactionThreshold set, a dataset of
// that many fragments or more is compacted. A failure is only a warning: the
// flush itself succeeded. The caller holds flushMu.
func (b *Bucket) compactIfDue() {
	if b.opts.CompactionThreshold <= 0 || b.dataset == nil || b.dataset.NumFragments() < b.opts.CompactionThreshold {
		return
	}
	if _, err := b.compact(0); err != nil {
		b.opts.Logger("persisting: automatic compaction failed: %v", err)
	}
}

// CleanupOldVersions removes dataset versions committed more than olderThan
// ago (never the newest, a tagged one or one a read is using: keptVersions)
// and the files only they used.
func (b *Bucket) CleanupOldVersions(olderThan time.Duration) (lance.CleanupStats, error) {
	if olderThan < 0 {
		return lance.CleanupStats{}, fmt.Errorf("%w: older_than must not be negative", ErrInvalidArgument)
	}
	if err := b.writable("cleanup"); err != nil {
		return lance.CleanupStats{}, err
	}
	b.maintMu.Lock()
	defer b.maintMu.Unlock()
	if err := b.lockFlush(); err != nil {
		return lance.CleanupStats{}, err
	}
	defer b.flushMu.Unlock()
	ds := b.currentDataset()
	if ds == nil {
		return lance.CleanupStats{}, nil
	}
	// The same versions are kept as by the background cleanup: the one the
	// bucket reads and those reads in flight use (keptVersions).
	keep, _ := b.keptVersions(ds)
	st, err := lance.CleanupOldVersions(b.opts.datasetPath(), time.Now().Add(-olderThan),
		lance.CleanupOptions{Keep: keep})
	if err != nil {
		return st, fmt.Errorf("engine: cleanup %s: %w", b.opts.datasetPath(), err)
	}
	return st, nil
}

// Versions lists the dataset's committed versions, oldest first.
func (b *Bucket) Versions() ([]Version, error) {
	snap, err := b.snapshot()
	if err != nil {
		return nil, err
	}
	defer b.releaseSnapshot(snap)
	if snap.dataset == nil {
		return []Version{}, nil
	}
	infos, err := snap.dataset.Versions()
	if err != nil {
		return nil, err
	}
	out := make([]Version, len(infos))
	for i, v := range infos {
		out[i] = Version{Version: v.Version, Timestamp: v.Timestamp}
	}
	return out, nil
}

// ReadVersion reads rows [offset, offset+limit) of a committed version of the
// dataset (time travel); buffered rows are not part of any version.
func (b *Bucket) ReadVersion(version uint64, offset, limit int64, alloc memory.Allocator) (*arrow.Schema, []arrow.Record, error) {
	if offset < 0 {
		return nil, nil, fmt.Errorf("%w: offset %d is negative", ErrInvalidArgument, offset)
	}
	snap, err := b.snapshot() // refuses a closed bucket
	if err != nil {
		return nil, nil, err
	}
	b.releaseSnapshot(snap)
	b.pins.pin(version) // cleanup keeps it while it is read
	defer b.unpin(version)
	if b.afterReadPin != nil {
		b.afterReadPin()
	}
	ds, err := lance.OpenVersion(b.opts.datasetPath(), version)
	if errors.Is(err, lance.ErrNotFound) {
		// No dataset yet (nothing flushed): no version exists, which is the
		// caller's bad argument, as for a version cleaned up.
		err = fmt.Errorf("%w: the bucket has no committed version yet", ErrVersionNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("engine: version %d of %s: %w", version, b.opts.datasetPath(), err)
	}
	m := offsetsOf(ds)
	if limit == 0 || offset >= m.end() {
		return ds.Schema(), nil, nil
	}
	if err := checkRetained(offset, m.first); err != nil {
		return nil, nil, err
	}
	recs, err := readOffsets(ds, m, offset, limit, alloc)
	if err != nil {
		return nil, nil, err
	}
	return ds.Schema(), recs, nil
}
