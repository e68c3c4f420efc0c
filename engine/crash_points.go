package engine

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// Crash points let a crash test kill the process at the exact moments that
// matter for durability, which random SIGKILLs hit only rarely. They are set
// by the environment of the process, read once:
//
//	PERSISTING_TEST_CRASH_AT=<point>[:<n>]
//
// kills the process with SIGKILL the n-th time (default 1st) execution passes
// <point>. Unset, each point costs one atomic load.
const (
	crashAfterWALWrite = "after_wal_write" // entry durable in the WAL, not yet buffered/acknowledged
	crashBeforeCommit  = "before_commit"   // flush started, nothing written to Lance yet
	crashAfterCommit   = "after_commit"    // Lance version committed, WAL not yet truncated
	crashAfterTruncate = "after_truncate"  // WAL truncated after a commit

	// Background maintenance (maintenance_policy.go, retention.go).
	crashBeforeCompactionCommit = "before_compaction_commit" // compacted data files durable, version not committed
	crashAfterCompactionCommit  = "after_compaction_commit"  // compaction committed, not yet installed
	crashBeforeRetentionCommit  = "before_retention_commit"  // deletion file durable, Delete version not committed
	crashAfterRetentionCommit   = "after_retention_commit"   // Delete version committed
	crashCleanupRemoval         = "cleanup_removal"          // after each manifest or file cleanup removes
)

var crashPoint struct {
	once  sync.Once
	name  string
	after int64
	hits  atomic.Int64
	armed atomic.Bool
}

func loadCrashPoint() {
	spec := os.Getenv("PERSISTING_TEST_CRASH_AT")
	if spec == "" {
		return
	}
	name, count, _ := strings.Cut(spec, ":")
	n, err := strconv.ParseInt(count, 10, 64)
	if err != nil || n < 1 {
		n = 1
	}
	crashPoint.name, crashPoint.after = name, n
	crashPoint.armed.Store(true)
}

func crashAt(point string) {
	crashPoint.once.Do(loadCrashPoint)
	if !crashPoint.armed.Load() || crashPoint.name != point {
		return
	}
	if crashPoint.hits.Add(1) == crashPoint.after {
		syscall.Kill(os.Getpid(), syscall.SIGKILL) //nolint:errcheck // the process is gone either way
	}
}
