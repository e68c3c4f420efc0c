//go:build testhooks

package wal

// WithTestHooks returns o with test hooks for callers' tests (the engine's
// group commit test): fsync wraps every fsync of the log's data, appended
// runs after every write with the last index written. Either may be nil.
// Only in test builds (build tag testhooks).
func WithTestHooks(o Options, fsync func(fsync func() error) error, appended func(last uint64)) Options {
	o.hooks = &testHooks{fsync: fsync, appended: appended}
	return o
}
