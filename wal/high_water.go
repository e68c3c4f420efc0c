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
// segment durable (so once per segment, not per write: one small file
// written and renamed, no fsync) and by Close. It can lag the log but is never above what was written, so a gap
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

// readHighWater returns the mark in dir, or 0 when there is none. A mark
// that cannot be read as an index (the file is not fsynced, see
// writeHighWater) is reported to logf and taken as none: it only weakens
// the detection of a loss.
func readHighWater(dir string, logf func(string, ...any)) (uint64, error) {
	path := filepath.Join(dir, HighWaterName)
	text, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("wal: read %s: %w", path, err)
	}
	mark, err := strconv.ParseUint(strings.TrimSpace(string(text)), 10, 64)
	if err != nil {
		logf("wal: ignoring %s: %q is not an index", path, text)
		return 0, nil
	}
	return mark, nil
}

// writeHighWater replaces the mark in dir: written to a temporary file and
// renamed over the old one, so a reader sees the old mark or the new one.
// Neither is fsynced: the mark is written only after the entries it names
// are durable, so losing it to a power failure leaves an older mark (or
// none) - a weaker check, never a loss reported that did not happen - and
// the log's fsyncs per write stay what the sync policy says.
func writeHighWater(dir string, mark uint64) error {
	tmp := filepath.Join(dir, HighWaterName+".tmp")
	err := os.WriteFile(tmp, []byte(strconv.FormatUint(mark, 10)+"\n"), 0o640)
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, HighWaterName))
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
