package engine

import (
	"errors"
	"fmt"

	"github.com/persisting/persisting/lance"
)

// Sentinel errors; callers test them with errors.Is. The C layer maps each to
// a status code.
var (
	// ErrInvalidOption: an option value is out of range or of the wrong kind.
	ErrInvalidOption = errors.New("engine: invalid option")
	// ErrClosed: the bucket was closed; nothing more can be done with it.
	ErrClosed = errors.New("engine: bucket is closed")
	// ErrSchemaMismatch: appended rows do not fit the bucket's schema.
	ErrSchemaMismatch = errors.New("engine: schema mismatch")
	// ErrNoSchema: the bucket has no schema yet because nothing was appended.
	ErrNoSchema = errors.New("engine: bucket has no schema yet")
	// ErrWAL: the write-ahead log failed (I/O, corruption); the message says
	// which segment and offset when the log is damaged.
	ErrWAL = errors.New("engine: write-ahead log")
	// ErrBufferFull: AppendRecords found the buffer at its flush bound
	// (flush threshold or WAL size); it never flushes itself, so the rows
	// must take the Arrow path (Append flushes) or wait for a Flush.
	ErrBufferFull = errors.New("engine: the buffer is at its flush bound")
	// ErrInvalidRange: a negative offset.
	ErrInvalidRange = errors.New("engine: invalid range")
	// ErrBusy: the bucket is open for writing elsewhere - by another handle
	// of this process or by another process (writer_lock.go); the message
	// names the path and the holder.
	ErrBusy = errors.New("engine: bucket is busy")
)

// errReadOnly refuses writes to a bucket opened with Options.ReadOnly; it is
// an unsupported operation for that handle.
var errReadOnly = fmt.Errorf("%w: the bucket was opened read-only", lance.ErrUnsupported)
