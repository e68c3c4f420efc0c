package engine

import "github.com/persisting/persisting/lance"

// Stats describes a bucket at one moment. The JSON names are those the Python
// backend reports to pulsing.
type Stats struct {
	BucketID       int64  `json:"bucket_id"`
	TotalCount     int64  `json:"total_count"`
	PersistedCount int64  `json:"persisted_count"`
	BufferCount    int64  `json:"buffer_count"`
	StoragePath    string `json:"storage_path"`
	DatasetPath    string `json:"dataset_path"`
	// Version is the newest committed Lance version, 0 before the first flush.
	Version        uint64 `json:"version"`
	FlushThreshold int    `json:"flush_threshold"`
	WALEnabled     bool   `json:"wal_enabled"`
	WALSize        int64  `json:"wal_size"`
	// WALReplayed is the number of WAL entries put back into the buffer at open.
	WALReplayed int `json:"wal_replayed"`
	// Metrics holds this bucket's metric values when metrics are on.
	Metrics map[string]any `json:"metrics,omitempty"`
	// DataStorageVersion is the Lance data file version flushes write: the
	// dataset's own, or the one a new dataset will get ("" = lance's default).
	DataStorageVersion string `json:"data_storage_version"`
	// ReadOnly says why rows cannot be appended to this bucket's dataset
	// (say, a Lance data file version this library does not write); empty
	// when they can.
	ReadOnly string `json:"read_only,omitempty"`
	// MetricsAddress is where /metrics is served (the real port when the
	// option asked for port 0), empty when not served.
	MetricsAddress string `json:"metrics_address,omitempty"`
	// FirstRetainedOffset is the offset of the oldest record still stored:
	// data retention dropped those before it (0 when it dropped none).
	FirstRetainedOffset int64 `json:"first_retained_offset"`
	// FlushError says why the last flush failed (a background flush at the
	// threshold included; its rows stay buffered for the next); absent once
	// a flush succeeded.
	FlushError string `json:"flush_error,omitempty"`
	// The options the bucket was opened with, as the engine took them (so
	// a caller reports what is in force, not what it asked for).
	Compression         string  `json:"compression"` // "" = none
	SchemaEvolution     bool    `json:"schema_evolution"`
	CompactionThreshold int     `json:"compaction_threshold"`
	WALSyncInterval     float64 `json:"wal_sync_interval"` // seconds
	MaxWALSize          int64   `json:"max_wal_size"`
	MetricsEnabled      bool    `json:"metrics_enabled"`
	// IgnoredOptions are the unknown option keys the bucket was opened with
	// and skipped ("ignore_unknown": true); absent when none.
	IgnoredOptions []string `json:"ignored_options,omitempty"`
}

// Counts returns (total, persisted, buffered) row counts.
func (b *Bucket) Counts() (total, persisted, buffered int64, err error) {
	if err := b.followWriter(); err != nil {
		return 0, 0, 0, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, 0, 0, ErrClosed
	}
	persisted, buffered = b.persistedLocked(), b.bufferedRows()
	return persisted + buffered, persisted, buffered, nil
}

// totalLocked is the offset the next appended row gets. Under mu.
func (b *Bucket) totalLocked() int64 {
	return b.persistedLocked() + b.bufferedRows()
}

// Stats returns the bucket's counters and locations.
func (b *Bucket) Stats() (Stats, error) {
	if err := b.followWriter(); err != nil {
		return Stats{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return Stats{}, ErrClosed
	}
	s := Stats{
		BucketID:       b.opts.BucketID,
		PersistedCount: b.persistedLocked(),
		BufferCount:    b.bufferedRows(),
		StoragePath:    b.opts.Path,
		DatasetPath:    b.DatasetPath(),
		FlushThreshold: b.opts.FlushThreshold,
		WALEnabled:     b.wal != nil,
		WALSize:        b.walSize(),
		WALReplayed:    b.walReplayed,
	}
	s.TotalCount = s.PersistedCount + s.BufferCount
	s.FirstRetainedOffset = firstOffset(b.dataset)
	if b.dataset != nil {
		s.Version = b.dataset.Version()
	}
	m, err := b.metrics.values()
	if err != nil {
		return Stats{}, err
	}
	s.Metrics = m
	s.MetricsAddress = b.metricsAddr
	s.IgnoredOptions = b.opts.IgnoredOptions
	s.Compression, s.SchemaEvolution = b.opts.Compression, b.opts.SchemaEvolution
	s.CompactionThreshold = b.opts.CompactionThreshold
	s.WALSyncInterval, s.MaxWALSize = b.opts.WAL.SyncInterval.Seconds(), b.opts.WAL.MaxSize
	s.MetricsEnabled = b.opts.Metrics
	s.FlushError = b.flushFailure
	if err := b.checkAppendable(); err != nil {
		s.ReadOnly = err.Error()
	}
	s.DataStorageVersion = b.opts.DataStorageVersion
	if b.dataset != nil {
		s.DataStorageVersion = b.dataset.DataStorageVersion()
	} else if s.DataStorageVersion == "" {
		s.DataStorageVersion = lance.DefaultDataStorageVersion
	}
	return s, nil
}

// persistedLocked is the offset after the last flushed row (rows dropped by
// data retention still count: offsets never shift).
func (b *Bucket) persistedLocked() int64 {
	return b.offsets.of(b.dataset).end()
}

// Metrics returns this bucket's metric values (nil without metrics). It does
// not take the bucket's lock, so it answers at once even during a flush.
func (b *Bucket) Metrics() (map[string]any, error) {
	return b.metrics.values()
}
