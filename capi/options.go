package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log"
	"math"
	"time"

	"github.com/persisting/persisting/engine"
)

// openOptions is the JSON object persisting_open accepts; pointers tell an
// absent key (the engine's default) from an explicit zero.
type openOptions struct {
	BucketID        int64    `json:"bucket_id"`
	FlushThreshold  *int     `json:"flush_threshold"`
	EnableWAL       bool     `json:"enable_wal"`
	WALSyncInterval *float64 `json:"wal_sync_interval"` // seconds
	MaxWALSize      *int64   `json:"max_wal_size"`
	SchemaEvolution bool     `json:"schema_evolution"`
	// Compression of data files ("zstd", "lz4"; "" none) and the data file
	// version of a new dataset ("2.0", "2.1", "2.2"; "" lance's default).
	Compression        string `json:"compression"`
	DataStorageVersion string `json:"data_storage_version"`
	// CompactionThreshold: fragments after a flush that trigger compaction.
	CompactionThreshold int    `json:"compaction_threshold"`
	EnableMetrics       bool   `json:"enable_metrics"`
	MetricsAddress      string `json:"metrics_address"`
	ReadOnly            bool   `json:"read_only"`
}

var warnings = log.New(log.Writer(), "", log.LstdFlags)

func parseOptions(path, text string) (engine.Options, error) {
	var o openOptions
	if text != "" {
		dec := json.NewDecoder(bytes.NewReader([]byte(text)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&o); err != nil {
			return engine.Options{}, fmt.Errorf("%w: options_json: %v", engine.ErrInvalidOption, err)
		}
	}
	opts := engine.Options{
		Path:                path,
		BucketID:            o.BucketID,
		WAL:                 engine.WALOptions{Enabled: o.EnableWAL},
		Allocator:           cAlloc,
		Logger:              warnings.Printf,
		Metrics:             o.EnableMetrics,
		SchemaEvolution:     o.SchemaEvolution,
		CompactionThreshold: o.CompactionThreshold,
		Compression:         o.Compression,
		DataStorageVersion:  o.DataStorageVersion,
		MetricsAddress:      o.MetricsAddress,
		ReadOnly:            o.ReadOnly,
	}
	if o.FlushThreshold != nil {
		if *o.FlushThreshold <= 0 {
			return engine.Options{}, fmt.Errorf("%w: flush_threshold must be positive, got %d", engine.ErrInvalidOption, *o.FlushThreshold)
		}
		opts.FlushThreshold = *o.FlushThreshold
	}
	if o.WALSyncInterval != nil {
		s := *o.WALSyncInterval
		if s < 0 || math.IsNaN(s) || s > math.MaxInt64/float64(time.Second) {
			return engine.Options{}, fmt.Errorf("%w: wal_sync_interval must be a non-negative number of seconds, got %v", engine.ErrInvalidOption, s)
		}
		opts.WAL.SyncInterval = time.Duration(s * float64(time.Second))
	}
	if o.MaxWALSize != nil {
		if *o.MaxWALSize <= 0 {
			return engine.Options{}, fmt.Errorf("%w: max_wal_size must be positive, got %d", engine.ErrInvalidOption, *o.MaxWALSize)
		}
		opts.WAL.MaxSize = *o.MaxWALSize
	}
	return opts, nil
}
