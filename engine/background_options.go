package engine

import (
	"fmt"
	"time"
)

// Defaults of the background work (docs/maintenance.md gives the reasoning).
const (
	// DefaultMaxFlushDelay bounds how long a buffered row waits for a flush.
	DefaultMaxFlushDelay = 5 * time.Second
	// DefaultCompactionTargetRows is the size compaction builds fragments up
	// to (Lance's own default).
	DefaultCompactionTargetRows = 1 << 20
	// DefaultCompactionFanout is the number of fragments below a size tier
	// that makes compaction merge them.
	DefaultCompactionFanout = 16
	// DefaultKeepVersions is how many of the newest versions cleanup always keeps.
	DefaultKeepVersions = 10
	// DefaultVersionRetention is how long a version stays after it stopped
	// being the latest (a reader that opened it may still read it).
	DefaultVersionRetention = time.Minute
	// DefaultCleanupInterval is how often old versions are cleaned up.
	DefaultCleanupInterval = 10 * time.Second
)

// BackgroundOptions configure what a bucket does on its own, in goroutines
// of its own: flush buffered rows after a delay, compact small fragments,
// remove old versions, and drop records past a retention limit. The zero
// value means every default: auto flush and maintenance on, retention off.
type BackgroundOptions struct {
	// MaxFlushDelay: a buffered row is flushed at most this long after it
	// was appended. Zero means DefaultMaxFlushDelay; negative turns it off.
	MaxFlushDelay time.Duration
	// DisableMaintenance turns off background compaction and cleanup.
	DisableMaintenance bool
	// CompactionTargetRows: fragments are merged up to this many rows.
	// Zero means DefaultCompactionTargetRows.
	CompactionTargetRows int64
	// CompactionFanout: this many fragments smaller than a tier's size
	// (target/256, target/16, target) trigger their merge. Zero means
	// DefaultCompactionFanout.
	CompactionFanout int
	// KeepVersions: the newest versions cleanup always keeps. Zero means
	// DefaultKeepVersions; the latest version is always kept.
	KeepVersions int
	// VersionRetention: a version is kept until it has not been the latest
	// for this long. Zero means DefaultVersionRetention; negative means no
	// time at all (only KeepVersions, tags and versions in use protect).
	VersionRetention time.Duration
	// CleanupInterval: how often old versions are cleaned up. Zero means
	// DefaultCleanupInterval.
	CleanupInterval time.Duration
	// RetentionAge drops records older than this (judged per fragment by
	// when its data file was written); zero keeps them.
	RetentionAge time.Duration
	// RetentionRows keeps at most this many records (the newest); zero: no limit.
	RetentionRows int64
	// RetentionBytes keeps at most about this many bytes of data files (the
	// newest records); zero: no limit.
	RetentionBytes int64

	clock Clock        // nil: the system clock (tests set a fake one)
	event func(string) // tests: told of each background step (see background.go)
}

func (o BackgroundOptions) withDefaults() BackgroundOptions {
	if o.MaxFlushDelay == 0 {
		o.MaxFlushDelay = DefaultMaxFlushDelay
	}
	if o.CompactionTargetRows == 0 {
		o.CompactionTargetRows = DefaultCompactionTargetRows
	}
	if o.CompactionFanout == 0 {
		o.CompactionFanout = DefaultCompactionFanout
	}
	if o.KeepVersions == 0 {
		o.KeepVersions = DefaultKeepVersions
	}
	if o.VersionRetention == 0 {
		o.VersionRetention = DefaultVersionRetention
	}
	if o.CleanupInterval == 0 {
		o.CleanupInterval = DefaultCleanupInterval
	}
	if o.clock == nil {
		o.clock = systemClock{}
	}
	if o.event == nil {
		o.event = func(string) {}
	}
	return o
}

func (o BackgroundOptions) validate() error {
	switch {
	case o.CompactionTargetRows < 0:
		return fmt.Errorf("%w: compaction_target_rows must be positive, got %d", ErrInvalidArgument, o.CompactionTargetRows)
	case o.CompactionFanout < 0 || o.CompactionFanout == 1:
		return fmt.Errorf("%w: compaction_fanout must be at least 2, got %d", ErrInvalidArgument, o.CompactionFanout)
	case o.KeepVersions < 0:
		return fmt.Errorf("%w: keep_versions must not be negative, got %d", ErrInvalidArgument, o.KeepVersions)
	case o.CleanupInterval < 0:
		return fmt.Errorf("%w: cleanup_interval_sec must be positive, got %s", ErrInvalidArgument, o.CleanupInterval)
	case o.RetentionAge < 0:
		return fmt.Errorf("%w: retention_seconds must not be negative, got %s", ErrInvalidArgument, o.RetentionAge)
	case o.RetentionRows < 0:
		return fmt.Errorf("%w: retention_rows must not be negative, got %d", ErrInvalidArgument, o.RetentionRows)
	case o.RetentionBytes < 0:
		return fmt.Errorf("%w: retention_bytes must not be negative, got %d", ErrInvalidArgument, o.RetentionBytes)
	}
	return nil
}

// retention says whether any data retention limit is set.
func (o BackgroundOptions) retention() bool {
	return o.RetentionAge > 0 || o.RetentionRows > 0 || o.RetentionBytes > 0
}
