package engine

import (
	"fmt"
	"math"
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
		return fmt.Errorf("%w: compaction_target_rows must be positive, got %d", ErrInvalidOption, o.CompactionTargetRows)
	case o.CompactionFanout < 0 || o.CompactionFanout == 1:
		return fmt.Errorf("%w: compaction_fanout must be at least 2, got %d", ErrInvalidOption, o.CompactionFanout)
	case o.KeepVersions < 0:
		return fmt.Errorf("%w: keep_versions must not be negative, got %d", ErrInvalidOption, o.KeepVersions)
	case o.CleanupInterval < 0:
		return fmt.Errorf("%w: cleanup_interval_sec must be positive, got %s", ErrInvalidOption, o.CleanupInterval)
	case o.RetentionAge < 0:
		return fmt.Errorf("%w: retention_seconds must not be negative, got %s", ErrInvalidOption, o.RetentionAge)
	case o.RetentionRows < 0:
		return fmt.Errorf("%w: retention_rows must not be negative, got %d", ErrInvalidOption, o.RetentionRows)
	case o.RetentionBytes < 0:
		return fmt.Errorf("%w: retention_bytes must not be negative, got %d", ErrInvalidOption, o.RetentionBytes)
	}
	return nil
}

// retention says whether any data retention limit is set.
func (o BackgroundOptions) retention() bool {
	return o.RetentionAge > 0 || o.RetentionRows > 0 || o.RetentionBytes > 0
}

// BackgroundJSON is BackgroundOptions as keys of the open options JSON
// (seconds as numbers; null or absent means the default). The C layer
// embeds it in its options object.
type BackgroundJSON struct {
	MaxFlushDelaySec *float64 `json:"max_flush_delay_sec"`
	// AutoFlushIntervalSec is upstream Persisting's name for MaxFlushDelaySec.
	AutoFlushIntervalSec *float64 `json:"auto_flush_interval_sec"`
	Maintenance          *bool    `json:"maintenance"`
	CompactionTargetRows *int64   `json:"compaction_target_rows"`
	CompactionFanout     *int     `json:"compaction_fanout"`
	KeepVersions         *int     `json:"keep_versions"`
	VersionRetentionSec  *float64 `json:"version_retention_sec"`
	CleanupIntervalSec   *float64 `json:"cleanup_interval_sec"`
	RetentionSeconds     *float64 `json:"retention_seconds"`
	RetentionRows        *int64   `json:"retention_rows"`
	RetentionBytes       *int64   `json:"retention_bytes"`
}

// Options converts the JSON keys: 0 seconds for max_flush_delay_sec turns
// auto flush off, 0 for version_retention_sec keeps versions by count only,
// 0 for keep_versions keeps only the latest, 0 for a retention limit means
// none; other values are as in BackgroundOptions.
func (j BackgroundJSON) Options() (BackgroundOptions, error) {
	var o BackgroundOptions
	delay := j.MaxFlushDelaySec
	if delay == nil {
		delay = j.AutoFlushIntervalSec
	} else if j.AutoFlushIntervalSec != nil && *j.AutoFlushIntervalSec != *delay {
		return o, fmt.Errorf("%w: max_flush_delay_sec and auto_flush_interval_sec (its alias) disagree", ErrInvalidOption)
	}
	var err error
	if delay != nil {
		if o.MaxFlushDelay, err = seconds("max_flush_delay_sec", *delay); err != nil {
			return o, err
		}
		if o.MaxFlushDelay == 0 {
			o.MaxFlushDelay = -1
		}
	}
	if j.Maintenance != nil {
		o.DisableMaintenance = !*j.Maintenance
	}
	if j.CompactionTargetRows != nil {
		if *j.CompactionTargetRows <= 0 {
			return o, fmt.Errorf("%w: compaction_target_rows must be positive, got %d", ErrInvalidOption, *j.CompactionTargetRows)
		}
		o.CompactionTargetRows = *j.CompactionTargetRows
	}
	if j.CompactionFanout != nil {
		if *j.CompactionFanout < 2 {
			return o, fmt.Errorf("%w: compaction_fanout must be at least 2, got %d", ErrInvalidOption, *j.CompactionFanout)
		}
		o.CompactionFanout = *j.CompactionFanout
	}
	if j.KeepVersions != nil {
		if *j.KeepVersions < 0 {
			return o, fmt.Errorf("%w: keep_versions must not be negative, got %d", ErrInvalidOption, *j.KeepVersions)
		}
		o.KeepVersions = max(*j.KeepVersions, 1)
	}
	if j.VersionRetentionSec != nil {
		if o.VersionRetention, err = seconds("version_retention_sec", *j.VersionRetentionSec); err != nil {
			return o, err
		}
		if o.VersionRetention == 0 {
			o.VersionRetention = -1
		}
	}
	if j.CleanupIntervalSec != nil {
		if o.CleanupInterval, err = seconds("cleanup_interval_sec", *j.CleanupIntervalSec); err != nil {
			return o, err
		}
		if o.CleanupInterval == 0 {
			return o, fmt.Errorf("%w: cleanup_interval_sec must be positive (maintenance: false turns cleanup off)", ErrInvalidOption)
		}
	}
	if j.RetentionSeconds != nil {
		if o.RetentionAge, err = seconds("retention_seconds", *j.RetentionSeconds); err != nil {
			return o, err
		}
	}
	if j.RetentionRows != nil {
		o.RetentionRows = *j.RetentionRows
	}
	if j.RetentionBytes != nil {
		o.RetentionBytes = *j.RetentionBytes
	}
	return o, o.validate()
}

// seconds converts a non-negative number of seconds.
func seconds(name string, s float64) (time.Duration, error) {
	if s < 0 || math.IsNaN(s) || s > math.MaxInt64/float64(time.Second) {
		return 0, fmt.Errorf("%w: %s must be a non-negative number of seconds, got %v", ErrInvalidOption, name, s)
	}
	return time.Duration(s * float64(time.Second)), nil
}
