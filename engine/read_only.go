package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/persisting/persisting/lance"
	"github.com/persisting/persisting/lance/objstore"
)

// ErrReadOnly: a write (append, compaction, cleanup, index) on a bucket
// opened with Options.ReadOnly; it is an ErrUnsupported, so the C layer
// reports it as EUNSUPPORTED.
var ErrReadOnly = fmt.Errorf("%w: the bucket was opened read-only", ErrUnsupported)

// openReadOnly opens the bucket at opts.Path for reading only: the dataset's
// newest version as it is on disk (and later the newer ones, followWriter). It creates nothing, writes nothing,
// neither replays nor opens the WAL (rows only the WAL holds are not read),
// and never flushes; so it can look at a bucket another process writes.
func openReadOnly(opts Options) (*Bucket, error) {
	if opts.remote() {
		// No directory to check in an object store; it only needs credentials.
		if err := objstore.Configure(opts.Path, opts.StorageOptions); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
		}
	} else if err := checkReadOnlyDir(opts.Path); err != nil {
		return nil, err
	}
	b := &Bucket{opts: opts, metrics: newBucketMetrics(opts)}
	// the stamp first: a dataset made again meanwhile is then adopted at the first read
	_, stamp, _ := lance.LatestVersionStamp(opts.datasetPath())
	ds, err := lance.Open(opts.datasetPath())
	switch {
	case errors.Is(err, lance.ErrNotFound):
	case err != nil:
		b.metrics.forget()
		return nil, fmt.Errorf("engine: open dataset %s: %w", opts.datasetPath(), err)
	default:
		b.dataset, b.followStamp = ds, stamp
		b.schema = withoutMetadata(ds.Schema())
	}
	return b, nil
}

// checkReadOnlyDir: a local bucket opened read-only must exist and be a
// bucket's directory, not the dataset inside it.
func checkReadOnlyDir(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("engine: open read-only: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%w: open read-only: %s is not a directory", ErrInvalidArgument, path)
	}
	if isDir(filepath.Join(path, "_versions")) {
		return fmt.Errorf("%w: %s is a Lance dataset, not a bucket: open its parent directory (the bucket stores it as %s)",
			ErrInvalidArgument, path, DatasetDirName)
	}
	return nil
}

// writable refuses writes to a read-only bucket.
func (b *Bucket) writable(what string) error {
	if b.opts.ReadOnly {
		return fmt.Errorf("%w: %s refused (%s)", ErrReadOnly, what, b.opts.Path)
	}
	return nil
}

// followWriter makes a read-only bucket follow the process that writes it:
// before a read, a count or stats it adopts the dataset's newest committed
// version when that is not the one it holds - the writer's later flushes,
// schema changes, retention (the first offset) and clears, and a dataset
// deleted and made again (by our writer or pylance; its versions start again
// at 1), which it reads from then on instead of the files that are gone.
// The check only lists _versions/ (lance.LatestVersionStamp): a directory
// read and a stat locally, one LIST on an object store, on every call; a
// manifest is read only when the newest one is not the one held (a newer
// version, an older one, or the held version's manifest written again). A
// writable bucket holds the newest version already and does nothing.
func (b *Bucket) followWriter() error {
	if !b.opts.ReadOnly {
		return nil
	}
	b.mu.Lock()
	held, heldStamp, closed := b.dataset, b.followStamp, b.closed
	b.mu.Unlock()
	if closed {
		return nil // the caller says ErrClosed
	}
	path := b.opts.datasetPath()
	latest, stamp, err := lance.LatestVersionStamp(path)
	switch {
	case errors.Is(err, lance.ErrNotFound) && held == nil:
		return nil // nothing flushed yet
	case err != nil:
		return fmt.Errorf("engine: read-only %s: look for newer versions: %w", b.opts.Path, err)
	case held != nil && latest == held.Version() && stamp == heldStamp:
		return nil
	}
	ds, err := lance.OpenVersion(path, latest)
	if errors.Is(err, lance.ErrVersionNotFound) { // cleaned up since the listing: take the newest
		ds, err = lance.Open(path)
	}
	if err != nil {
		return fmt.Errorf("engine: read-only %s: open version %d: %w", b.opts.Path, latest, err)
	}
	b.mu.Lock()
	// what another call adopted meanwhile stays, unless this one is newer
	if !b.closed && (b.dataset == held || b.dataset == nil || ds.Version() > b.dataset.Version()) {
		b.dataset, b.schema, b.followStamp = ds, withoutMetadata(ds.Schema()), stamp
	}
	b.mu.Unlock()
	return nil
}
