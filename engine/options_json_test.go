package engine

import (
	"errors"
	"slices"
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
		{`{"no_such_option": 1}`, ErrInvalidArgument, nil},
		{`{"no_such_option": 1, "ignore_unknown": false}`, ErrInvalidArgument, nil},
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
