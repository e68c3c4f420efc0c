package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/wal"
)

// DefaultFlushThreshold is the number of buffered rows that triggers a flush
// when Options.FlushThreshold is zero.
const DefaultFlushThreshold = 1000

// DefaultMinFlushInterval is Options.MinFlushInterval when zero: a burst
// commits at most about one threshold flush per second (docs/maintenance.md).
const DefaultMinFlushInterval = time.Second

// DefaultMaxBufferBytes is Options.MaxBufferBytes when zero.
const DefaultMaxBufferBytes = 32 << 20

// DatasetDirName is the directory under the storage path holding the Lance dataset.
const DatasetDirName = "data.lance"

// WALDirName is the directory under the storage path holding the write-ahead log.
const WALDirName = "wal"

// DefaultMaxWALSize is WALOptions.MaxSize when zero: the WAL size past which
// an append flushes the buffer (and so truncates the WAL).
const DefaultMaxWALSize = 100 << 20

// Options configure a bucket.
type Options struct {
	// Path is the bucket's storage directory (created when missing), a
	// file:// URL, or an s3://bucket/prefix URL (see storage_location.go).
	Path string
	// StorageOptions configure the object store of an s3:// Path, in
	// pylance's vocabulary (aws_endpoint, aws_region, aws_access_key_id,
	// aws_secret_access_key, aws_session_token, allow_http, ...), on top of
	// the AWS_* environment variables; see objstore.ParseConfig.
	StorageOptions map[string]string
	// WALPath is a local directory for the write-ahead log; required with
	// WAL.Enabled when Path is s3://. Empty: Path/wal.
	WALPath string
	// BucketID is reported by Stats; the engine does not interpret it.
	BucketID int64
	// FlushThreshold is the number of buffered rows that makes Append flush.
	// Zero means DefaultFlushThreshold.
	FlushThreshold int
	// MinFlushInterval: a flush the threshold asks for starts no sooner than
	// this after the previous flush started, so a burst of appends coalesces
	// into one flush (one Lance version, one data file) per interval
	// (back_pressure.go). Flush, Close and the auto flush are not held back.
	// Zero means DefaultMinFlushInterval; negative: no wait.
	MinFlushInterval time.Duration
	// MaxBufferBytes is the byte budget of the buffer: rows held back by
	// MinFlushInterval are flushed at once when they reach half of it, and
	// appends during that flush may add as many rows again (back_pressure.go).
	// Zero means DefaultMaxBufferBytes.
	MaxBufferBytes int64
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
	// ReadOnly opens the bucket for reading only (see openReadOnly): no
	// writer lock (so it may be open beside the writer), no directory is
	// created, the WAL is neither replayed nor written, nothing is flushed,
	// and every write fails with ErrReadOnly. Reads, counts and stats see
	// the newest committed version at each call (followWriter).
	ReadOnly bool
	// Logger receives warnings (a torn WAL tail cut at open, a failed WAL
	// truncation). Nil discards them.
	Logger func(format string, args ...any)
	// OnFlush, when set, is told of every committed flush (flush.go), on
	// the flushing goroutine: it must return quickly. For benchmarks and
	// monitoring that want each flush, not the metrics' histogram.
	OnFlush func(FlushStat)
	// Background: auto flush, maintenance and data retention
	// (background_options.go); the zero value is the defaults.
	Background BackgroundOptions
	// WriterLease times the lease an s3:// bucket's writer holds
	// (writer_lease.go); the zero value is the defaults.
	WriterLease WriterLeaseOptions
	// IgnoredOptions are the unknown keys ParseOptionsJSON skipped because
	// the JSON asked it to ("ignore_unknown": true); Stats reports them.
	IgnoredOptions []string

	// testWAL, set by tests only, adjusts the WAL's options (test hooks).
	testWAL func(wal.Options) wal.Options
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
	o = o.normalizePath()
	if o.FlushThreshold == 0 {
		o.FlushThreshold = DefaultFlushThreshold
	}
	if o.WAL.MaxSize == 0 {
		o.WAL.MaxSize = DefaultMaxWALSize
	}
	if o.MinFlushInterval == 0 {
		o.MinFlushInterval = DefaultMinFlushInterval
	}
	if o.MaxBufferBytes == 0 {
		o.MaxBufferBytes = DefaultMaxBufferBytes
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
	o.Background = o.Background.withDefaults()
	o.WriterLease = o.WriterLease.withDefaults()
	return o
}

func (o Options) validate() error {
	if o.Path == "" {
		return fmt.Errorf("%w: storage_path is empty (want a directory or a URL)", ErrInvalidArgument)
	}
	if err := o.validateStorage(); err != nil {
		return err
	}
	if o.FlushThreshold < 0 {
		return fmt.Errorf("%w: flush_threshold must be positive, got %d", ErrInvalidArgument, o.FlushThreshold)
	}
	if o.MaxBufferBytes < 0 {
		return fmt.Errorf("%w: max_buffer_bytes must be positive, got %d", ErrInvalidArgument, o.MaxBufferBytes)
	}
	if o.WAL.SyncInterval < 0 {
		return fmt.Errorf("%w: wal_sync_interval must not be negative, got %s", ErrInvalidArgument, o.WAL.SyncInterval)
	}
	if o.WAL.MaxSize < 0 {
		return fmt.Errorf("%w: max_wal_size must be positive, got %d", ErrInvalidArgument, o.WAL.MaxSize)
	}
	switch o.Compression {
	case "", "zstd", "lz4":
	case "snappy":
		return fmt.Errorf("%w: compression 'snappy': the Lance file format has no snappy codec (it compresses with zstd or lz4); use 'zstd', 'lz4' or none", ErrInvalidArgument)
	default:
		return fmt.Errorf("%w: unknown compression '%s': expected 'zstd', 'lz4' or none", ErrInvalidArgument, o.Compression)
	}
	switch o.DataStorageVersion {
	case "", "2.0", "2.1", "2.2":
	default:
		return fmt.Errorf("%w: data_storage_version must be '2.0', '2.1' or '2.2', got '%s'", ErrInvalidArgument, o.DataStorageVersion)
	}
	if err := validateMetricsAddress(o.MetricsAddress); err != nil {
		return err
	}
	if o.CompactionThreshold < 0 {
		return fmt.Errorf("%w: compaction_threshold must not be negative, got %d", ErrInvalidArgument, o.CompactionThreshold)
	}
	if o.BucketID < 0 {
		return fmt.Errorf("%w: bucket_id must not be negative, got %d", ErrInvalidArgument, o.BucketID)
	}
	if err := o.WriterLease.validate(); err != nil {
		return err
	}
	return o.Background.validate()
}

// ParseOptionsJSON reads the options of a bucket at path from a JSON object
// (the C API's options_json; "" means none). It is the one place an option
// is checked: a value of the wrong JSON type is ErrType, a value out of
// range ErrInvalidArgument, and so is an unknown key, unless the object has
// "ignore_unknown": true, which lists such keys in IgnoredOptions instead.
// A key whose value is null takes its default, unless the object has
// "null_is_default": false: then null is only accepted by the options whose
// value may be "none" (nullableOptions) and is ErrType for the others.
func ParseOptionsJSON(path, text string) (Options, error) {
	o := Options{Path: path}
	if text == "" {
		return o, o.validate()
	}
	raw, err := optionsObject(text)
	if err != nil {
		return Options{}, err
	}
	ignoreUnknown := false
	if v, ok := raw["ignore_unknown"]; ok {
		if err := optionBool("ignore_unknown", v, &ignoreUnknown); err != nil {
			return Options{}, err
		}
	}
	nullIsDefault := true
	if v, ok := raw["null_is_default"]; ok {
		if err := optionBool("null_is_default", v, &nullIsDefault); err != nil {
			return Options{}, err
		}
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the first bad key reported is the same every time
	if err := checkAliases(raw); err != nil {
		return Options{}, err
	}
	for _, k := range keys {
		v := raw[k]
		if k == "ignore_unknown" || k == "null_is_default" {
			continue
		}
		set, known := optionSetters[k]
		if jsonKind(v) == "null" && (nullIsDefault || nullableOptions[k] || !known) {
			continue
		}
		if !known {
			if ignoreUnknown {
				o.IgnoredOptions = append(o.IgnoredOptions, k)
				continue
			}
			return Options{}, fmt.Errorf("%w: unknown option %q (pass \"ignore_unknown\": true to skip unknown options)", ErrInvalidArgument, k)
		}
		if err := set(&o, k, v); err != nil {
			return Options{}, err
		}
	}
	return o, o.validate()
}

// ParseInspectOptionsJSON reads Inspect's options from a JSON object ("" means
// none) by the same rules as ParseOptionsJSON: the wrong JSON type is ErrType,
// an unknown key or a value out of range ErrInvalidArgument, null the default.
func ParseInspectOptionsJSON(text string) (InspectOptions, error) {
	var o InspectOptions
	if text == "" {
		return o, nil
	}
	raw, err := optionsObject(text)
	if err != nil {
		return InspectOptions{}, err
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := raw[k]
		if string(v) == "null" {
			continue
		}
		if k != "versions_limit" {
			return InspectOptions{}, fmt.Errorf("%w: unknown inspect option %q (want versions_limit)", ErrInvalidArgument, k)
		}
		var n int64
		if err := optionInt(k, v, &n); err != nil {
			return InspectOptions{}, err
		}
		if n < 0 || n > math.MaxInt32 {
			return InspectOptions{}, fmt.Errorf("%w: versions_limit must be a non-negative int, got %d", ErrInvalidArgument, n)
		}
		o.VersionsLimit = int(n)
	}
	return o, nil
}

// optionsObject decodes an options JSON object, its values left raw.
func optionsObject(text string) (map[string]json.RawMessage, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: options_json must be a JSON object: %v", ErrInvalidArgument, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: options_json holds more than one JSON value", ErrInvalidArgument)
	}
	return raw, nil
}

// SecondsDuration converts a non-negative number of seconds (an option, an
// argument) named name to a Duration; anything else is ErrInvalidArgument.
func SecondsDuration(name string, s float64) (time.Duration, error) {
	switch {
	case math.IsNaN(s):
		return 0, fmt.Errorf("%w: %s must be a number of seconds, got NaN (not a number)", ErrInvalidArgument, name)
	case s < 0:
		return 0, fmt.Errorf("%w: %s must not be negative, got %v seconds", ErrInvalidArgument, name, s)
	case s > math.MaxInt64/float64(time.Second):
		return 0, fmt.Errorf("%w: %s is %v seconds, at most %d (some 292 years) are allowed", ErrInvalidArgument, name, s,
			int64(math.MaxInt64)/int64(time.Second))
	}
	return time.Duration(s * float64(time.Second)), nil
}

// optionSetters: one entry per key of the options JSON.
var optionSetters = map[string]func(o *Options, key string, v json.RawMessage) error{
	"bucket_id": func(o *Options, k string, v json.RawMessage) error { return optionInt(k, v, &o.BucketID) },
	"flush_threshold": func(o *Options, k string, v json.RawMessage) error {
		var n int64
		if err := optionInt(k, v, &n); err != nil {
			return err
		}
		if n <= 0 || n > math.MaxInt32 {
			return fmt.Errorf("%w: flush_threshold must be a positive int, got %d", ErrInvalidArgument, n)
		}
		o.FlushThreshold = int(n)
		return nil
	},
	// 0 turns the wait off: every threshold flush starts at once.
	"min_flush_interval_sec": func(o *Options, k string, v json.RawMessage) error {
		d, err := optionSeconds(k, v)
		if d == 0 {
			d = -1
		}
		o.MinFlushInterval = d
		return err
	},
	"max_buffer_bytes": func(o *Options, k string, v json.RawMessage) error {
		if err := optionInt(k, v, &o.MaxBufferBytes); err != nil {
			return err
		}
		if o.MaxBufferBytes <= 0 {
			return fmt.Errorf("%w: max_buffer_bytes must be positive, got %d", ErrInvalidArgument, o.MaxBufferBytes)
		}
		return nil
	},
	"enable_wal": func(o *Options, k string, v json.RawMessage) error { return optionBool(k, v, &o.WAL.Enabled) },
	"wal_sync_interval": func(o *Options, k string, v json.RawMessage) error {
		var s float64
		if err := optionNumber(k, v, &s); err != nil {
			return err
		}
		d, err := SecondsDuration(k, s)
		o.WAL.SyncInterval = d
		return err
	},
	"max_wal_size": func(o *Options, k string, v json.RawMessage) error {
		if err := optionInt(k, v, &o.WAL.MaxSize); err != nil {
			return err
		}
		if o.WAL.MaxSize <= 0 {
			return fmt.Errorf("%w: max_wal_size must be positive, got %d", ErrInvalidArgument, o.WAL.MaxSize)
		}
		return nil
	},
	"schema_evolution": func(o *Options, k string, v json.RawMessage) error { return optionBool(k, v, &o.SchemaEvolution) },
	"compression": func(o *Options, k string, v json.RawMessage) error {
		if err := optionString(k, v, &o.Compression); err != nil {
			return err
		}
		if o.Compression == "" { // given, so not "none" (that is null)
			return fmt.Errorf("%w: unknown compression '': expected 'zstd', 'lz4' or none", ErrInvalidArgument)
		}
		o.Compression = strings.ToLower(o.Compression) // codec names are case-insensitive
		return nil
	},
	"data_storage_version": func(o *Options, k string, v json.RawMessage) error {
		return optionString(k, v, &o.DataStorageVersion)
	},
	"compaction_threshold": func(o *Options, k string, v json.RawMessage) error {
		var n int64
		if err := optionInt(k, v, &n); err != nil {
			return err
		}
		if n > math.MaxInt32 {
			return fmt.Errorf("%w: compaction_threshold %d is too large", ErrInvalidArgument, n)
		}
		o.CompactionThreshold = int(n)
		return nil
	},
	"enable_metrics":  func(o *Options, k string, v json.RawMessage) error { return optionBool(k, v, &o.Metrics) },
	"metrics_address": func(o *Options, k string, v json.RawMessage) error { return optionString(k, v, &o.MetricsAddress) },
	"storage_options": func(o *Options, k string, v json.RawMessage) error {
		so, err := storageOptionStrings(k, v)
		o.StorageOptions = so
		return err
	},
	"wal_path":  func(o *Options, k string, v json.RawMessage) error { return optionString(k, v, &o.WALPath) },
	"read_only": func(o *Options, k string, v json.RawMessage) error { return optionBool(k, v, &o.ReadOnly) },
	// The writer lease of an s3:// bucket (writer_lease.go), in seconds.
	"writer_lease_sec": func(o *Options, k string, v json.RawMessage) error {
		d, err := optionSeconds(k, v)
		if err == nil && d == 0 {
			err = fmt.Errorf("%w: writer_lease_sec must be positive", ErrInvalidArgument)
		}
		o.WriterLease.Duration = d
		return err
	},
	"writer_lease_renew_sec": func(o *Options, k string, v json.RawMessage) error {
		d, err := optionSeconds(k, v)
		if err == nil && d == 0 {
			err = fmt.Errorf("%w: writer_lease_renew_sec must be positive", ErrInvalidArgument)
		}
		o.WriterLease.RenewInterval = d
		return err
	},

	// Background work (background_options.go). In seconds; 0 turns the
	// auto flush off.
	"max_flush_delay_sec":     optionFlushDelay,
	"auto_flush_interval_sec": optionFlushDelay, // upstream Persisting's name
	"maintenance": func(o *Options, k string, v json.RawMessage) error {
		on := true
		err := optionBool(k, v, &on)
		o.Background.DisableMaintenance = !on
		return err
	},
	"compaction_target_rows": func(o *Options, k string, v json.RawMessage) error {
		if err := optionInt(k, v, &o.Background.CompactionTargetRows); err != nil {
			return err
		}
		if o.Background.CompactionTargetRows <= 0 {
			return fmt.Errorf("%w: compaction_target_rows must be positive, got %d", ErrInvalidArgument, o.Background.CompactionTargetRows)
		}
		return nil
	},
	"compaction_fanout": func(o *Options, k string, v json.RawMessage) error {
		var n int64
		if err := optionInt(k, v, &n); err != nil {
			return err
		}
		if n < 2 || n > math.MaxInt32 {
			return fmt.Errorf("%w: compaction_fanout must be at least 2, got %d", ErrInvalidArgument, n)
		}
		o.Background.CompactionFanout = int(n)
		return nil
	},
	// 0 keeps only the latest version (which is always kept).
	"keep_versions": func(o *Options, k string, v json.RawMessage) error {
		var n int64
		if err := optionInt(k, v, &n); err != nil {
			return err
		}
		if n < 0 || n > math.MaxInt32 {
			return fmt.Errorf("%w: keep_versions must be a non-negative int, got %d", ErrInvalidArgument, n)
		}
		o.Background.KeepVersions = max(int(n), 1)
		return nil
	},
	// 0 keeps versions by count only (keep_versions, tags, versions in use).
	"version_retention_sec": func(o *Options, k string, v json.RawMessage) error {
		d, err := optionSeconds(k, v)
		if d == 0 {
			d = -1
		}
		o.Background.VersionRetention = d
		return err
	},
	"cleanup_interval_sec": func(o *Options, k string, v json.RawMessage) error {
		d, err := optionSeconds(k, v)
		if err == nil && d == 0 {
			err = fmt.Errorf("%w: cleanup_interval_sec must be positive (maintenance: false turns cleanup off)", ErrInvalidArgument)
		}
		o.Background.CleanupInterval = d
		return err
	},
	// Data retention; 0 means no limit.
	"retention_seconds": func(o *Options, k string, v json.RawMessage) error {
		d, err := optionSeconds(k, v)
		o.Background.RetentionAge = d
		return err
	},
	"retention_rows": func(o *Options, k string, v json.RawMessage) error {
		return optionInt(k, v, &o.Background.RetentionRows)
	},
	"retention_bytes": func(o *Options, k string, v json.RawMessage) error {
		return optionInt(k, v, &o.Background.RetentionBytes)
	},
}

func optionFlushDelay(o *Options, k string, v json.RawMessage) error {
	d, err := optionSeconds(k, v)
	if d == 0 {
		d = -1 // off: BackgroundOptions' zero is the default
	}
	o.Background.MaxFlushDelay = d
	return err
}

// nullableOptions take null as "none" even with "null_is_default": false.
var nullableOptions = map[string]bool{
	"compression": true, "data_storage_version": true, "metrics_address": true,
	"storage_options": true, "wal_path": true,
}

// validateMetricsAddress: "" (not served) or host:port, port 0-65535 (0: a free one).
func validateMetricsAddress(addr string) error {
	if addr == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(addr)
	n, perr := strconv.ParseUint(port, 10, 16)
	if err != nil || perr != nil || n > 65535 {
		return fmt.Errorf("%w: metrics_address must be 'host:port' (e.g. '127.0.0.1:9464'), got '%s'", ErrInvalidArgument, addr)
	}
	return nil
}

// optionAliases: keys that name the same option as another; given both,
// they must agree.
var optionAliases = map[string]string{"auto_flush_interval_sec": "max_flush_delay_sec"}

func checkAliases(raw map[string]json.RawMessage) error {
	for alias, name := range optionAliases {
		a, b := raw[alias], raw[name]
		if a == nil || b == nil || string(a) == "null" || string(b) == "null" {
			continue
		}
		var x, y float64
		if err := optionNumber(alias, a, &x); err != nil {
			return err
		}
		if err := optionNumber(name, b, &y); err != nil {
			return err
		}
		if x != y {
			return fmt.Errorf("%w: %s and %s (its alias) disagree: %v and %v", ErrInvalidArgument, name, alias, y, x)
		}
	}
	return nil
}

// optionSeconds reads a non-negative number of seconds.
func optionSeconds(key string, v json.RawMessage) (time.Duration, error) {
	var s float64
	if err := optionNumber(key, v, &s); err != nil {
		return 0, err
	}
	return SecondsDuration(key, s)
}

// jsonKind names the JSON type of v for messages.
func jsonKind(v json.RawMessage) string {
	switch t := bytes.TrimSpace(v); {
	case len(t) == 0:
		return "nothing"
	case t[0] == 'n':
		return "null"
	case t[0] == '"':
		return "a string"
	case t[0] == '{':
		return "an object"
	case t[0] == '[':
		return "an array"
	case t[0] == 't' || t[0] == 'f':
		return "a bool"
	default:
		return "a number"
	}
}

func optionBool(key string, v json.RawMessage, dst *bool) error {
	if jsonKind(v) != "a bool" {
		return fmt.Errorf("%w: option %s must be a bool, got %s", ErrType, key, jsonKind(v))
	}
	if err := json.Unmarshal(v, dst); err != nil {
		return fmt.Errorf("%w: option %s must be a bool, got %s", ErrType, key, jsonKind(v))
	}
	return nil
}

func optionString(key string, v json.RawMessage, dst *string) error {
	if err := json.Unmarshal(v, dst); err != nil {
		return fmt.Errorf("%w: option %s must be a string, got %s", ErrType, key, jsonKind(v))
	}
	return nil
}

// optionInt takes a JSON integer (1e3 and 2.0 are not): an int option given
// a fraction is of the wrong type, not out of range.
func optionInt(key string, v json.RawMessage, dst *int64) error {
	if jsonKind(v) != "a number" {
		return fmt.Errorf("%w: option %s must be an int, got %s", ErrType, key, jsonKind(v))
	}
	if bytes.ContainsAny(v, ".eE") {
		return fmt.Errorf("%w: option %s must be an int, got the number %s", ErrType, key, bytes.TrimSpace(v))
	}
	if err := json.Unmarshal(v, dst); err != nil {
		return fmt.Errorf("%w: option %s: %s does not fit in int64", ErrInvalidArgument, key, bytes.TrimSpace(v))
	}
	return nil
}

func optionNumber(key string, v json.RawMessage, dst *float64) error {
	if jsonKind(v) != "a number" {
		return fmt.Errorf("%w: option %s must be a number, got %s", ErrType, key, jsonKind(v))
	}
	if err := json.Unmarshal(v, dst); err != nil {
		return fmt.Errorf("%w: option %s: %v", ErrInvalidArgument, key, err)
	}
	return nil
}
