package engine

// Crash points let a crash test kill the process at the exact moments that
// matter for durability, which random SIGKILLs hit only rarely. They are set
// by the environment of the process, read once:
//
//	PERSISTING_TEST_CRASH_AT=<point>[:<n>]
//
// kills the process with SIGKILL the n-th time (default 1st) execution passes
// <point>. They exist only in test builds (build tag testhooks:
// crash_points_testhooks.go); in the shipped library crashAt is empty
// (crash_points_off.go) and the variable is ignored.
const (
	crashAfterWALWrite = "after_wal_write" // entry durable in the WAL, not yet buffered/acknowledged
	crashBeforeCommit  = "before_commit"   // flush started, nothing written to Lance yet
	crashAfterCommit   = "after_commit"    // Lance version committed, WAL not yet truncated
	crashAfterTruncate = "after_truncate"  // WAL truncated after a commit

	// Background maintenance (maintenance_policy.go, retention.go).
	crashCompactionRewrite      = "compaction_rewrite"       // after each batch the compaction streamed to its output files
	crashBeforeCompactionCommit = "before_compaction_commit" // compacted data files durable, version not committed
	crashAfterCompactionCommit  = "after_compaction_commit"  // compaction committed, not yet installed
	crashBeforeRetentionCommit  = "before_retention_commit"  // deletion file durable, Delete version not committed
	crashAfterRetentionCommit   = "after_retention_commit"   // Delete version committed

	// clear (clear.go).
	crashBeforeClearCommit = "before_clear_commit" // deletion files durable, Delete version not committed
	crashAfterClearCommit  = "after_clear_commit"  // Delete version committed, not yet installed
	crashCleanupRemoval    = "cleanup_removal"     // after each manifest or file cleanup removes
)
