package engine

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// DefaultFlushThreshold is the number of buffered rows that triggers a flush
// when Options.FlushThreshold is zero.
const DefaultFlushThreshold = 1000

// DatasetDirName is the directory under the storage path holding the Lance dataset.
const DatasetDirName = "data.lance"

// WALDirName is the directory under the storage path holding the write-ahead log.
const WALDirName = "wal"

// DefaultMaxWALSize is WALOptions.MaxSize when zero: the WAL size past which
// an append flushes the buffer (and so truncates the WAL).
const DefaultMaxWALSize = 100 << 20

// Options configure a bucket.
type Options struct {
	// Path is the bucket's storage directory; it is created when missing.
	Path string
	// BucketID is reported by Stats; the engine does not interpret it.
	BucketID int64
	// FlushThreshold is the number of buffered rows that makes Append flush.
	// Zero means DefaultFlushThreshold.
	FlushThreshold int
	// WAL makes appends durable before they return; off when not Enabled.
	WAL WALOptions
	// Allocator allocates the rows the engine decodes itself (WAL replay).
	// A C caller passes a C allocator so those rows can be exported too.
	// Nil means memory.DefaultAllocator.
	Allocator memory.Allocator
	// DataStorageVersion is the Lance data file version of a dataset the
	// bucket creates ("2.0", "2.1", "2.2"; "" = lance's default). An existing
	// dataset keeps its own.
	DataStorageVersion string
	// Compression codec of the data files a flush writes: "", "zstd", "lz4".
	Compression string
	// CompactionThreshold, when > 0, compacts the dataset after a flush that
	// leaves it with at least that many fragments.
	CompactionThreshold int
	// SchemaEvolution lets batches add fields, omit fields and widen values
	// losslessly instead of matching the schema exactly (see schema_evolve.go).
	SchemaEvolution bool
	// Metrics records this bucket's metrics in Registry.
	Metrics bool
	// MetricsAddress, when set (e.g. "127.0.0.1:9464"), serves Registry over
	// HTTP at /metrics; implies Metrics.
	MetricsAddress string
	// ReadOnly opens the bucket for reading only: no writer lock (so it may
	// be open beside the writer), no WAL replay or writes, and appends,
	// flushes of rows and maintenance are refused (lance.ErrUnsupported).
	// Reads see the dataset as committed when it was opened.
	ReadOnly bool
	// Logger receives warnings (a torn WAL tail cut at open, a failed WAL
	// truncation). Nil discards them.
	Logger func(format string, args ...any)
}

// WALOptions configure the write-ahead log of a bucket.
type WALOptions struct {
	Enabled bool
	// SyncInterval 0 fsyncs every append before it returns (concurrent
	// appends share an fsync); > 0 fsyncs in the background at least that often.
	SyncInterval time.Duration
	// MaxSize is the WAL size in bytes past which an append flushes the
	// buffer to Lance, which truncates the WAL. Zero means DefaultMaxWALSize.
	MaxSize int64
}

func (o Options) withDefaults() Options {
	if o.FlushThreshold == 0 {
		o.FlushThreshold = DefaultFlushThreshold
	}
	if o.WAL.MaxSize == 0 {
		o.WAL.MaxSize = DefaultMaxWALSize
	}
	if o.Allocator == nil {
		o.Allocator = memory.DefaultAllocator
	}
	if o.MetricsAddress != "" {
		o.Metrics = true
	}
	if o.Logger == nil {
		o.Logger = func(string, ...any) {}
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
	if o.WAL.SyncInterval < 0 {
		return fmt.Errorf("%w: wal_sync_interval must not be negative, got %s", ErrInvalidOption, o.WAL.SyncInterval)
	}
	if o.WAL.MaxSize < 0 {
		return fmt.Errorf("%w: max_wal_size must be positive, got %d", ErrInvalidOption, o.WAL.MaxSize)
	}
	switch o.Compression {
	case "", "zstd", "lz4":
	case "snappy":
		return fmt.Errorf("%w: compression %q: Lance has no snappy codec (use zstd or lz4)", ErrInvalidOption, o.Compression)
	default:
		return fmt.Errorf("%w: compression %q (want zstd, lz4 or none)", ErrInvalidOption, o.Compression)
	}
	switch o.DataStorageVersion {
	case "", "2.0", "2.1", "2.2":
	default:
		return fmt.Errorf("%w: data_storage_version %q (want 2.0, 2.1 or 2.2)", ErrInvalidOption, o.DataStorageVersion)
	}
	if o.CompactionThreshold < 0 {
		return fmt.Errorf("%w: compaction_threshold must not be negative, got %d", ErrInvalidOption, o.CompactionThreshold)
	}
	if o.BucketID < 0 {
		return fmt.Errorf("%w: bucket_id must not be negative, got %d", ErrInvalidOption, o.BucketID)
	}
	return nil
}

func (o Options) datasetPath() string { return filepath.Join(o.Path, DatasetDirName) }

func (o Options) walPath() string { return filepath.Join(o.Path, WALDirName) }
