package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// HighWaterName is the file in the log directory recording an index the log
// is known to have held: every entry up to it was written (and synced as the
// policy says) at some time. Segment files alone cannot tell an emptied or
// deleted last segment from one that never held anything (tidwall/wal
// starts every segment as an empty file); with the mark, Open can say which
// entries went missing instead of dropping them silently.
//
// The mark is raised by the fsync that makes the first write into a
// segment durable (so once per segment, not per write: two more fsyncs per
// segment, which under SyncInterval the background fsync pays) and by
// Close. It can lag the log but is never above what was written, so a gap
// between the log's last entry and the mark is real loss - of at least the
// entries in the gap; entries after the mark in the lost segment are not
// known. The name is shorter than 20 characters, so tidwall/wal and
// listSegments never take it for a segment.
const HighWaterName = "high-water-mark"

// Lost describes entries an earlier run had written to the log that are no
// longer in it: the last segment was emptied or deleted after the write.
type Lost struct {
	First, Last uint64 // at least these entries are gone; later ones may be too
}

// readHighWater returns the mark in dir, or 0 when there is none.
func readHighWater(dir string) (uint64, error) {
	text, err := os.ReadFile(filepath.Join(dir, HighWaterName))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("wal: read %s: %w", HighWaterName, err)
	}
	mark, err := strconv.ParseUint(strings.TrimSpace(string(text)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("wal: %s in %s holds %q, not an index", HighWaterName, dir, text)
	}
	return mark, nil
}

// writeHighWater durably replaces the mark in dir: written to a temporary
// file, fsynced, renamed over the old one, and the directory fsynced.
func writeHighWater(dir string, mark uint64) error {
	tmp := filepath.Join(dir, HighWaterName+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strconv.FormatUint(mark, 10) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, HighWaterName))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("wal: record high-water mark %d: %w", mark, err)
	}
	return nil
}

// lostAgainst compares the mark with the last entry the directory holds.
func lostAgainst(mark, last uint64) *Lost {
	if mark <= last {
		return nil
	}
	return &Lost{First: last + 1, Last: mark}
}

// raiseHighWater records that the log held entry index, unless a higher
// mark is recorded already. A failure is logged, not returned: the entry
// itself is durable; only the detection of its later loss is weaker.
func (l *Log) raiseHighWater(index uint64) {
	l.markMu.Lock()
	defer l.markMu.Unlock()
	if index <= l.marked {
		return
	}
	if err := writeHighWater(l.dir, index); err != nil {
		l.opts.Logger("%v", err)
		return
	}
	l.marked = index
}

// Lost returns the entries the log once held that were missing when it was
// opened (nil when none): the last segment had been emptied or deleted. Entries
// missing from the middle of the log make Open fail with a *CorruptError
// instead. The caller decides what the loss means (entries it had stored
// elsewhere were not lost to it).
func (l *Log) Lost() *Lost { return l.lost }
