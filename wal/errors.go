package wal

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned by every method of a closed Log (Close excepted).
	ErrClosed = errors.New("wal: log closed")

	// ErrCorrupt matches every *CorruptError with errors.Is.
	ErrCorrupt = errors.New("wal: log corrupt")

	// ErrReadOnly is returned by the write methods of a Log opened with
	// OpenReadOnly.
	ErrReadOnly = errors.New("wal: log opened read-only")
)

// CorruptError says where the log is damaged. Open returns it for damage
// that is not a torn tail: an entry that fails its checks and is followed by
// valid ones, a damaged entry in a segment other than the last, or a missing
// or overlapping segment. Entries before Index can still be read with
// OpenReadOnly.
type CorruptError struct {
	Segment string // path of the segment file
	Offset  int64  // byte offset of the damaged entry in Segment
	Index   uint64 // index the damaged entry has (or would have)
	Reason  string // what is wrong
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("wal: corrupt entry %d at %s offset %d: %s", e.Index, e.Segment, e.Offset, e.Reason)
}

// Is makes errors.Is(err, ErrCorrupt) true for a *CorruptError.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }
