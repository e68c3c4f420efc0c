package engine

import (
	"errors"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestParseOptionsJSON: every option key is checked in one place; a value
// of the wrong JSON type is ErrType, one out of range ErrInvalidArgument.
func TestParseOptionsJSON(t *testing.T) {
	for _, tc := range []struct {
		json string
		want error // nil: accepted
		test func(Options) bool
	}{
		{``, nil, func(o Options) bool { return o.FlushThreshold == 0 && !o.WAL.Enabled }},
		{`{}`, nil, nil},
		{`{"flush_threshold": 5, "enable_wal": true, "wal_sync_interval": 0.5, "max_wal_size": 4096}`, nil,
			func(o Options) bool {
				return o.FlushThreshold == 5 && o.WAL.Enabled && o.WAL.SyncInterval == 500*time.Millisecond && o.WAL.MaxSize == 4096
			}},
		{`{"bucket_id": 3, "schema_evolution": true, "compression": "zstd", "data_storage_version": "2.1"}`, nil,
			func(o Options) bool {
				return o.BucketID == 3 && o.SchemaEvolution && o.Compression == "zstd" && o.DataStorageVersion == "2.1"
			}},
		{`{"compression": null, "flush_threshold": null}`, nil, func(o Options) bool { return o.Compression == "" }},
		// "null_is_default": false: null is a value, of the wrong type unless the option may be "none"
		{`{"null_is_default": false, "compression": null, "data_storage_version": null, "metrics_address": null, "wal_path": null, "storage_options": null, "zz": null, "ignore_unknown": true}`, nil,
			func(o Options) bool { return o.Compression == "" && o.MetricsAddress == "" }},
		{`{"null_is_default": false, "flush_threshold": null}`, ErrType, nil},
		{`{"null_is_default": false, "enable_wal": null}`, ErrType, nil},
		{`{"null_is_default": false, "wal_sync_interval": null}`, ErrType, nil},
		{`{"null_is_default": false, "maintenance": null}`, ErrType, nil},
		{`{"null_is_default": "no"}`, ErrType, nil},
		{`{"compression": "ZSTD"}`, nil, func(o Options) bool { return o.Compression == "zstd" }},
		{`{"compression": "Lz4"}`, nil, func(o Options) bool { return o.Compression == "lz4" }},
		{`{"compression": "SNAPPY"}`, ErrInvalidArgument, nil},
		{`{"compression": ""}`, ErrInvalidArgument, nil},
		{`{"compression": "gzip"}`, ErrInvalidArgument, nil},
		{`{"metrics_address": "127.0.0.1:0"}`, nil, func(o Options) bool { return o.MetricsAddress == "127.0.0.1:0" }},
		{`{"metrics_address": ":9464"}`, nil, nil},
		{`{"metrics_address": "localhost"}`, ErrInvalidArgument, nil},
		{`{"metrics_address": "127.0.0.1:http"}`, ErrInvalidArgument, nil},
		{`{"metrics_address": "127.0.0.1:70000"}`, ErrInvalidArgument, nil},
		{`{"enable_wal": null}`, nil, func(o Options) bool { return !o.WAL.Enabled }},
		{`{"flush_threshold": "5"}`, ErrType, nil},
		{`{"flush_threshold": 2.5}`, ErrType, nil},
		{`{"flush_threshold": 0}`, ErrInvalidArgument, nil},
		{`{"flush_threshold": -1}`, ErrInvalidArgument, nil},
		{`{"enable_wal": 1}`, ErrType, nil},
		{`{"wal_sync_interval": "1s"}`, ErrType, nil},
		{`{"wal_sync_interval": -1}`, ErrInvalidArgument, nil},
		{`{"max_wal_size": 0}`, ErrInvalidArgument, nil},
		{`{"compression": 1}`, ErrType, nil},
		{`{"compression": "snappy"}`, ErrInvalidArgument, nil},
		{`{"data_storage_version": 2.1}`, ErrType, nil},
		{`{"data_storage_version": "3.0"}`, ErrInvalidArgument, nil},
		{`{"compaction_threshold": -2}`, ErrInvalidArgument, nil},
		{`{"bucket_id": -1}`, ErrInvalidArgument, nil},
		{`{"bucket_id": 99999999999999999999}`, ErrInvalidArgument, nil},
		{`{"metrics_address": true}`, ErrType, nil},
		{`{"read_only": true}`, nil, func(o Options) bool { return o.ReadOnly }},
		{`{"read_only": "yes"}`, ErrType, nil},
		{`{"ignore_unknown": "yes"}`, ErrType, nil},
		{`{"read_only": true}`, nil, func(o Options) bool { return o.ReadOnly }},
		{`{"read_only": "true"}`, ErrType, nil},
		{`{"no_such_option": 1}`, ErrInvalidArgument, nil},
		{`{"no_such_option": 1, "ignore_unknown": false}`, ErrInvalidArgument, nil},
		{`{"storage_options": {"aws_region": "us-east-1", "allow_http": true, "connect_timeout": 30, "timeout": 0.5, "client_max_retries": 3.0}, "wal_path": "/w"}`, nil,
			func(o Options) bool {
				return maps.Equal(o.StorageOptions, map[string]string{
					"aws_region": "us-east-1", "allow_http": "true", "connect_timeout": "30", "timeout": "0.5", "client_max_retries": "3",
				}) && o.WALPath == "/w"
			}},
		{`{"storage_options": null, "wal_path": null}`, nil, func(o Options) bool { return o.StorageOptions == nil && o.WALPath == "" }},
		{`{"storage_options": "aws_region=x"}`, ErrType, nil},
		{`{"storage_options": [["aws_region", "x"]]}`, ErrType, nil},
		{`{"storage_options": {"aws_region": ["x"]}}`, ErrType, nil},
		{`{"storage_options": {"aws_region": null}}`, ErrType, nil},
		{`{"storage_options": {"aws_endpoit": "x"}}`, ErrInvalidArgument, nil},
		{`{"storage_options": {"client_max_retries": -1}}`, ErrInvalidArgument, nil},
		{`{"wal_path": 1}`, ErrType, nil},
		{`{"wal_path": "s3://b/w"}`, ErrInvalidArgument, nil},
		{`[1]`, ErrInvalidArgument, nil},
		{`{"flush_threshold": 5} {}`, ErrInvalidArgument, nil},
		{`{"zz": 1, "flush_threshold": 7, "aa": {"x": 1}, "ignore_unknown": true}`, nil,
			func(o Options) bool {
				return o.FlushThreshold == 7 && slices.Equal(o.IgnoredOptions, []string{"aa", "zz"})
			}},
	} {
		o, err := ParseOptionsJSON("/tmp/bucket", tc.json)
		switch {
		case tc.want == nil && err != nil:
			t.Errorf("%s: %v", tc.json, err)
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("%s: %v, want %v", tc.json, err, tc.want)
		case tc.want != nil && errors.Is(err, ErrType) && errors.Is(err, ErrInvalidArgument):
			t.Errorf("%s: %v is both a type and a value error", tc.json, err)
		case tc.test != nil && !tc.test(o):
			t.Errorf("%s: parsed %+v", tc.json, o)
		}
	}
}

// TestParseInspectOptionsJSON: Inspect's options follow the same rules.
func TestParseInspectOptionsJSON(t *testing.T) {
	for _, tc := range []struct {
		json  string
		want  error // nil: accepted
		limit int
	}{
		{``, nil, 0},
		{`{}`, nil, 0},
		{`{"versions_limit": 3}`, nil, 3},
		{`{"versions_limit": null}`, nil, 0},
		{`{"versions_limit": "3"}`, ErrType, 0},
		{`{"versions_limit": 1.5}`, ErrType, 0},
		{`{"versions_limit": -1}`, ErrInvalidArgument, 0},
		{`{"no_such_option": 1}`, ErrInvalidArgument, 0},
		{`[1]`, ErrInvalidArgument, 0},
	} {
		o, err := ParseInspectOptionsJSON(tc.json)
		switch {
		case tc.want == nil && err != nil:
			t.Errorf("%s: %v", tc.json, err)
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("%s: %v, want %v", tc.json, err, tc.want)
		case tc.want == nil && o.VersionsLimit != tc.limit:
			t.Errorf("%s: versions_limit %d, want %d", tc.json, o.VersionsLimit, tc.limit)
		}
	}
}

// TestIgnoredOptionsInStats: the keys skipped at open are in Stats.
func TestIgnoredOptionsInStats(t *testing.T) {
	o, err := ParseOptionsJSON(t.TempDir(), `{"ignore_unknown": true, "serializer": "x", "flush_threshold": 3}`)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s, err := b.Stats()
	if err != nil || !slices.Equal(s.IgnoredOptions, []string{"serializer"}) {
		t.Fatalf("Stats = %+v, %v", s, err)
	}
}

// TestOptionsInForceInStats: Stats report the options as the engine took
// them (a codec name lowercased, the metrics address implying metrics), so
// the Python shell reports these, not what it was asked.
func TestOptionsInForceInStats(t *testing.T) {
	o, err := ParseOptionsJSON(t.TempDir(), `{"compression": "ZSTD", "schema_evolution": true,
		"compaction_threshold": 4, "enable_wal": true, "wal_sync_interval": 0.25, "max_wal_size": 4096,
		"metrics_address": "127.0.0.1:0", "enable_metrics": false}`)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s, err := b.Stats()
	if err != nil || s.Compression != "zstd" || !s.SchemaEvolution || s.CompactionThreshold != 4 ||
		!s.WALEnabled || s.WALSyncInterval != 0.25 || s.MaxWALSize != 4096 || !s.MetricsEnabled {
		t.Fatalf("Stats = %+v, %v", s, err)
	}
}

// TestParseCondition: the lookup conditions of the C API.
func TestParseCondition(t *testing.T) {
	for _, tc := range []struct {
		json string
		ok   bool
	}{
		{`{"op": "eq", "value": 7}`, true},
		{`{"op": "eq", "value": "x"}`, true},
		{`{"op": "range", "lo": 1, "hi": 2.5, "lo_inclusive": true}`, true},
		{`{"op": "range"}`, true},
		{`{"op": "is_null"}`, true},
		{`{"op": "eq"}`, false},
		{`{"op": "eq", "value": [1]}`, false},
		{`{"op": "like"}`, false},
		{`{"op": "eq", "value": 1, "extra": 2}`, false},
		{`nonsense`, false},
	} {
		_, err := ParseCondition(tc.json)
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalidArgument)) {
			t.Errorf("%s: %v", tc.json, err)
		}
	}
}

// TestSecondsDurationSaysWhy: a number of seconds out of range is refused
// with a message that says what is wrong with it (1e300 is not negative: it
// is too large).
func TestSecondsDurationSaysWhy(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string // in the message; "" when accepted
	}{
		{0, ""},
		{1.5, ""},
		{9e9, ""},
		{-1, "must not be negative"},
		{math.NaN(), "not a number"},
		{1e300, "at most"},
		{math.Inf(1), "at most"},
	} {
		d, err := SecondsDuration("older_than", tc.in)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.in, err)
		case tc.want == "" && d != time.Duration(tc.in*float64(time.Second)):
			t.Errorf("%v: %v", tc.in, d)
		case tc.want != "" && (!errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: err %v, want ErrInvalidArgument saying %q", tc.in, err, tc.want)
		}
	}
}
