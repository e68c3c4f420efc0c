package engine

import (
	"errors"

	"github.com/persisting/persisting/lance"
)

// Sentinel errors; callers test them with errors.Is. The C layer maps each to
// exactly one status code (capi/status.go), and no code means two things.
var (
	// ErrInvalidArgument: a bad option value, a bad key, an int beyond int64,
	// a negative offset, a version that does not exist.
	ErrInvalidArgument = errors.New("engine: invalid argument")
	// ErrType: a value of a kind no column can hold, or an option of the
	// wrong JSON type.
	ErrType = errors.New("engine: unstorable type")
	// ErrClosed: the bucket was closed; nothing more can be done with it.
	ErrClosed = errors.New("engine: bucket is closed")
	// ErrSchemaMismatch: appended rows do not fit the bucket's schema.
	ErrSchemaMismatch = errors.New("engine: schema mismatch")
	// ErrNoSchema: the bucket has no schema yet because nothing was appended.
	ErrNoSchema = errors.New("engine: bucket has no schema yet")
	// ErrWAL: the write-ahead log failed (I/O, corruption); the message says
	// which segment and offset when the log is damaged.
	ErrWAL = errors.New("engine: write-ahead log")
	// ErrNotFlushed: the call's rows WERE stored (buffer, and WAL when on),
	// but a flush the call had to wait for (back-pressure) failed; the next
	// flush retries them. The message carries the flush's error.
	ErrNotFlushed = errors.New("engine: stored, but the flush it waited for failed")
	// ErrBusy: the bucket is open for writing elsewhere - by another handle
	// of this process or by another process (writer_lock.go); the message
	// names the path and the holder.
	ErrBusy = errors.New("engine: bucket is busy")
)

// Errors of the Lance layer, under the engine's names: a caller tells them
// apart without importing lance.
var (
	// ErrCorrupt: a file of the dataset is not what it should be.
	ErrCorrupt = lance.ErrCorrupt
	// ErrUnsupported: the dataset uses a Lance feature this library cannot
	// handle (it is then read-only, see Stats.ReadOnly).
	ErrUnsupported = lance.ErrUnsupported
	// ErrVersionNotFound: a dataset version that does not exist (never
	// committed, or cleaned up).
	ErrVersionNotFound = lance.ErrVersionNotFound
	// ErrDatasetSchemaMismatch: rows that do not fit the dataset's schema.
	ErrDatasetSchemaMismatch = lance.ErrSchemaMismatch
)
