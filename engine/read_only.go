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
// newest version as it is on disk. It creates nothing, writes nothing,
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
