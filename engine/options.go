package engine

import (
	"fmt"
	"path/filepath"
)

// DefaultFlushThreshold is the number of buffered rows that triggers a flush
// when Options.FlushThreshold is zero.
const DefaultFlushThreshold = 1000

// DatasetDirName is the directory under the storage path holding the Lance dataset.
const DatasetDirName = "data.lance"

// Options configure a bucket.
type Options struct {
	// Path is the bucket's storage directory; it is created when missing.
	Path string
	// BucketID is reported by Stats; the engine does not interpret it.
	BucketID int64
	// FlushThreshold is the number of buffered rows that makes Append flush.
	// Zero means DefaultFlushThreshold.
	FlushThreshold int
}

func (o Options) withDefaults() Options {
	if o.FlushThreshold == 0 {
		o.FlushThreshold = DefaultFlushThreshold
	}
	return o
}

func (o Options) validate() error {
	if o.Path == "" {
		return fmt.Errorf("%w: path is empty", ErrInvalidOption)
	}
	if o.FlushThreshold < 0 {
		return fmt.Errorf("%w: flush_threshold must be positive, got %d", ErrInvalidOption, o.FlushThreshold)
	}
	if o.BucketID < 0 {
		return fmt.Errorf("%w: bucket_id must not be negative, got %d", ErrInvalidOption, o.BucketID)
	}
	return nil
}

func (o Options) datasetPath() string { return filepath.Join(o.Path, DatasetDirName) }
