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
	ds, err := lance.Open(opts.datasetPath())
	switch {
	case errors.Is(err, lance.ErrNotFound):
	case err != nil:
		b.metrics.forget()
		return nil, fmt.Errorf("engine: open dataset %s: %w", opts.datasetPath(), err)
	default:
		b.dataset = ds
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
// version when that is newer than the one it holds - the writer's later
// flushes, schema changes, retention (the first offset) and clears. The
// check only lists _versions/ (lance.LatestVersion): a directory read
// locally, one LIST on an object store, on every call; a manifest is read
// only when there is a newer version. A writable bucket holds the newest
// version already and does nothing.
func (b *Bucket) followWriter() error {
	if !b.opts.ReadOnly {
		return nil
	}
	b.mu.Lock()
	held, closed := b.dataset, b.closed
	b.mu.Unlock()
	if closed {
		return nil // the caller says ErrClosed
	}
	path := b.opts.datasetPath()
	latest, err := lance.LatestVersion(path)
	switch {
	case errors.Is(err, lance.ErrNotFound) && held == nil:
		return nil // nothing flushed yet
	case err != nil:
		return fmt.Errorf("engine: read-only %s: look for newer versions: %w", b.opts.Path, err)
	case held != nil && latest <= held.Version():
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
	if !b.closed && (b.dataset == nil || ds.Version() > b.dataset.Version()) {
		b.dataset, b.schema = ds, withoutMetadata(ds.Schema())
	}
	b.mu.Unlock()
	return nil
}
