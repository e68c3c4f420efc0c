package main

import (
	"errors"
	"fmt"

	"github.com/persisting/persisting/engine"
)

// maintain opens every bucket PATH names as its writer, runs call on it and
// prints what it did; a bucket that fails is reported on stderr and the
// others still get their turn (exit 3 at the end).
func maintain(e *env, path, what string, call func(*engine.Bucket) (maintenanceResult, error)) (int, error) {
	buckets, err := findBuckets(path)
	if err != nil {
		return 0, err
	}
	for _, b := range buckets {
		if b.bare {
			return 0, pathProblem("%s is a Lance dataset outside a bucket: %s needs a bucket directory", b.path, what)
		}
	}
	graceful.Store(true) // a bucket in hand is finished and closed first
	bar := startProgress(e.stderr, e.progressEnabled(), what, len(buckets))
	defer bar.finish()
	failed := 0
	for i, b := range buckets {
		select {
		case <-e.interrupted:
			bar.println(e.stderr, fmt.Sprintf("persisting %s: interrupted; %s not done, from %s", what,
				plural(len(buckets)-i, "bucket"), b.path))
			return exitInterrupted, nil
		default:
		}
		bar.step(b.path)
		// The bucket's own WAL setting: opening without it would replay,
		// flush and retire a WAL the queue still uses.
		result, err := maintainOne(e, b, call)
		if err != nil {
			var bad *callerError
			if errors.As(err, &bad) {
				return 0, err // the same bad option for every bucket
			}
			failed++
			if err := bar.println(e.stderr, printable(fmt.Sprintf("persisting %s: %s: %v", what, b.path, err))); err != nil {
				return 0, err
			}
			if e.s.json { // every bucket has its line, as inspect and verify list a failed one
				line, err := pythonJSON(map[string]string{"path": b.path, "error": err.Error()})
				if err != nil {
					return 0, err
				}
				if err := bar.println(e.stdout, line); err != nil {
					return 0, err
				}
			}
		} else {
			line := printable(b.path + ": " + result.describe())
			if e.s.json {
				if line, err = pythonJSON(result); err != nil {
					return 0, err
				}
			}
			if err := bar.println(e.stdout, line); err != nil {
				return 0, err
			}
		}
		bar.advance()
	}
	if failed > 0 {
		return exitFailed, nil
	}
	return exitOK, nil
}

func maintainOne(e *env, b found, call func(*engine.Bucket) (maintenanceResult, error)) (result maintenanceResult, err error) {
	opts, err := e.s.bucketOptions(b.path, map[string]any{"enable_wal": b.wal})
	if err != nil {
		return nil, err
	}
	bucket, err := engine.Open(opts)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := bucket.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	// Commit what the WAL replayed first: the compaction then covers those
	// rows and the versions reported are the bucket's (Close would commit
	// them after, as a version the result never mentions).
	if err := bucket.Flush(); err != nil {
		return nil, fmt.Errorf("flush the rows its WAL held: %w", err)
	}
	result, err = call(bucket)
	if err != nil {
		return nil, err
	}
	result.setPath(b.path)
	return result, nil
}

// maintenanceResult is what one bucket's compact or cleanup did: a JSON
// object (fields in the order the Python CLI printed them) and a sentence.
type maintenanceResult interface {
	setPath(string)
	describe() string
}

type compactResult struct {
	VersionBefore   uint64 `json:"version_before"`
	Version         uint64 `json:"version"`
	FragmentsBefore int    `json:"fragments_before"`
	Fragments       int    `json:"fragments"`
	Path            string `json:"path"`
}

func (r *compactResult) setPath(p string) { r.Path = p }

func (r *compactResult) describe() string {
	if r.Version == r.VersionBefore {
		return fmt.Sprintf("nothing to compact (%s, version %d)", plural(r.Fragments, "fragment"), r.Version)
	}
	return fmt.Sprintf("%d -> %s, version %d -> %d", r.FragmentsBefore, plural(r.Fragments, "fragment"), r.VersionBefore, r.Version)
}

type cleanupResult struct {
	BytesRemoved     int64  `json:"bytes_removed"`
	DataFiles        int    `json:"data_files"`
	DeletionFiles    int    `json:"deletion_files"`
	OldVersions      int    `json:"old_versions"`
	TaggedKept       int    `json:"tagged_kept"`
	TransactionFiles int    `json:"transaction_files"`
	Path             string `json:"path"`
}

func (r *cleanupResult) setPath(p string) { r.Path = p }

func (r *cleanupResult) describe() string {
	text := fmt.Sprintf("removed %s, %s, %s, %s (%s)", plural(r.OldVersions, "version"), plural(r.DataFiles, "data file"),
		plural(r.DeletionFiles, "deletion file"), plural(r.TransactionFiles, "transaction file"), humanBytes(r.BytesRemoved))
	if r.TaggedKept > 0 {
		text += fmt.Sprintf("; kept %d tagged", r.TaggedKept)
	}
	return text
}

func runCompact(e *env, path string) (int, error) {
	return maintain(e, path, "compact", func(b *engine.Bucket) (maintenanceResult, error) {
		r, err := b.Compact(e.s.targetRows)
		if err != nil {
			return nil, err
		}
		return &compactResult{VersionBefore: r.VersionBefore, Version: r.Version, FragmentsBefore: r.FragmentsBefore, Fragments: r.Fragments}, nil
	})
}

func runCleanup(e *env, path string) (int, error) {
	olderThan, err := engine.SecondsDuration("older_than", e.s.olderThan)
	if err != nil {
		return 0, &callerError{err}
	}
	return maintain(e, path, "cleanup", func(b *engine.Bucket) (maintenanceResult, error) {
		st, err := b.CleanupOldVersions(olderThan)
		if err != nil {
			return nil, err
		}
		return &cleanupResult{OldVersions: st.OldVersions, DataFiles: st.DataFiles, DeletionFiles: st.DeletionFiles,
			TransactionFiles: st.TransactionFiles, BytesRemoved: st.BytesRemoved, TaggedKept: st.TaggedKept}, nil
	})
}
