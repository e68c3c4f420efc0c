package wal

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// dirState is the checked content of a log directory.
type dirState struct {
	segs        []segmentFile // in index order (read-only: the readable ones)
	sizes       []int64       // file size of each segment
	first, last uint64        // first == last+1 when the log is empty
	// corrupt is where the log is damaged; only a read-only load keeps
	// going past damage (and stops the readable log just before it).
	corrupt *CorruptError
	// staged are the entries after last in the staging file (read-only:
	// Open moves them to the segments).
	staged []stagedRecord
}

// loadDir reads and checks every entry of every segment of dir.
//
// A damaged entry in the last segment with no valid entry anywhere after it
// is a torn tail (a write cut short by a crash): with repair it is cut off
// (the file is truncated and fsynced) and a warning is logged. Any other
// damage, a missing segment included, is a *CorruptError: with repair it is
// returned, without repair (read-only) the log ends just before it and the
// error is kept in corrupt.
func loadDir(dir string, repair bool, logf func(string, ...any)) (dirState, error) {
	segs, pending, _, err := listSegments(dir)
	if err != nil {
		return dirState{}, err
	}
	if len(pending) > 0 {
		if repair {
			// Open lets tidwall/wal finish the truncation first.
			return dirState{}, fmt.Errorf("wal: unfinished truncation left %v in %s", pending, dir)
		}
		if segs, err = resolvePending(segs); err != nil {
			return dirState{}, err
		}
	}
	st := dirState{first: 1}
	if len(segs) == 0 {
		return st, nil
	}
	st.first = segs[0].start
	next := segs[0].start // index the next entry must have
	for i, seg := range segs {
		if seg.start != next {
			reason := fmt.Sprintf("segment starts at index %d, expected %d: it overlaps the one before", seg.start, next)
			if seg.start > next {
				reason = fmt.Sprintf("entries %d..%d are missing: the segment holding them was deleted or emptied (this one starts at %d)",
					next, seg.start-1, seg.start)
			}
			cerr := &CorruptError{Segment: seg.path, Index: next, Reason: reason}
			if repair {
				return st, cerr
			}
			st.corrupt = cerr
			break
		}
		data, err := os.ReadFile(seg.path)
		if err != nil {
			return st, err
		}
		sc, _ := scanSegment(data, nil)
		size := int64(len(data))
		if sc.bad {
			cerr := &CorruptError{Segment: seg.path, Offset: sc.end, Index: next + sc.entries, Reason: sc.reason}
			switch {
			case i == len(segs)-1 && !sc.validAfter && repair:
				if err := truncateFile(seg.path, sc.end); err != nil {
					return st, fmt.Errorf("wal: cut torn tail of %s at offset %d: %w", seg.path, sc.end, err)
				}
				logf("wal: cut torn tail of %s: %d bytes from offset %d (entry %d: %s); entries %d..%d recovered",
					seg.path, size-sc.end, sc.end, cerr.Index, sc.reason, st.first, next+sc.entries-1)
				size = sc.end
			case i == len(segs)-1 && !sc.validAfter:
				logf("wal: ignoring torn tail of %s: %d bytes from offset %d (entry %d: %s)",
					seg.path, size-sc.end, sc.end, cerr.Index, sc.reason)
				size = sc.end
			case repair:
				return st, cerr
			default:
				st.corrupt = cerr
			}
		}
		st.segs = append(st.segs, seg)
		st.sizes = append(st.sizes, size)
		next += sc.entries
		if st.corrupt != nil {
			break
		}
	}
	st.last = next - 1
	return st, nil
}

// resolvePending applies, without touching the directory, what tidwall/wal
// does on open after an interrupted TruncateFront: a .START segment replaces
// every segment before it. .END segments (from TruncateBack, which this
// package never calls) are not expected.
func resolvePending(segs []segmentFile) ([]segmentFile, error) {
	for _, s := range segs {
		if strings.HasSuffix(s.path, endSuffix) {
			return nil, fmt.Errorf("wal: unexpected %s", s.path)
		}
	}
	for i := len(segs) - 1; i >= 0; i-- {
		if strings.HasSuffix(segs[i].path, startSuffix) {
			return segs[i:], nil
		}
	}
	return segs, nil
}

// truncateFile cuts a file to size bytes and fsyncs it.
func truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// restoreTail puts the directory back in the state it had before a failed
// write: the tail segment tail holds size bytes and no segment follows it.
// A failed write can leave a partial entry at the end of the tail segment
// and new segment files (tidwall/wal starts a new segment in the middle of
// a batch once the tail is full).
func restoreTail(dir string, tail segmentFile, size int64) error {
	segs, _, _, err := listSegments(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range segs {
		if s.start > tail.start {
			if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	if err := truncateFile(tail.path, size); err != nil {
		errs = append(errs, err)
	}
	if err := syncDir(dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
