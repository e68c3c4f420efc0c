package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance"
	"github.com/persisting/persisting/lance/objstore"
	"github.com/persisting/persisting/wal"
)

// Problem is one piece of damage Verify found in a bucket.
type Problem struct {
	Part    string `json:"part"`   // "dataset", "wal" or "consumption"
	File    string `json:"file"`   // path of the damaged file (under the bucket path)
	Offset  int64  `json:"offset"` // byte offset of the damage in File; -1 when it is not at a position
	Message string `json:"message"`
}

// VerifyReport is what Verify checked and found.
type VerifyReport struct {
	Path     string              `json:"path"`
	OK       bool                `json:"ok"`      // no problems
	Dataset  *lance.VerifyResult `json:"dataset"` // nil: no dataset
	WAL      *WALCheck           `json:"wal"`     // nil: no WAL directory
	Problems []Problem           `json:"problems"`
}

// WALCheck is what Verify read of the WAL.
type WALCheck struct {
	Path     string `json:"path"`
	Segments int    `json:"segments"`
	Entries  uint64 `json:"entries"` // entries whose checksum matched
	Bytes    int64  `json:"bytes"`
}

// Verify reads every page of every data file of every version the dataset
// keeps and every entry of every WAL segment (checking its CRC), without
// changing anything, and reports each problem with its file and offset (see
// lance.Verify for what a data file check can find); path is local or an
// s3:// URL, as for Inspect. The error is for a
// path that is not a directory or a failure to read at all, never for
// damage.
func Verify(path string, alloc memory.Allocator) (VerifyReport, error) {
	where, err := locate(path)
	if err != nil {
		return VerifyReport{}, err
	}
	if alloc == nil {
		alloc = memory.DefaultAllocator
	}
	rep := VerifyReport{Path: path, Problems: []Problem{}}
	var mark uint64
	markKnown := true // false: the latest version does not open, so the WAL cannot be compared with it
	res, err := lance.Verify(where.dataset, alloc)
	switch {
	case errors.Is(err, lance.ErrNotFound):
	case err != nil:
		return VerifyReport{}, fmt.Errorf("engine: verify %s: %w", where.dataset, err)
	default:
		rep.Dataset = &res
		for _, p := range res.Problems {
			rep.Problems = append(rep.Problems, Problem{Part: "dataset", File: objstore.JoinURL(where.dataset, p.File),
				Offset: p.Offset, Message: p.Message})
		}
		ds, err := lance.Open(where.dataset)
		if err == nil {
			mark, err = watermarkOf(ds)
			if err != nil {
				rep.Problems = append(rep.Problems, Problem{Part: "dataset", File: where.dataset, Offset: -1, Message: err.Error()})
			}
		}
		markKnown = err == nil // the problem is reported already (by lance.Verify or just above)
	}
	if st, err := os.Stat(where.wal); where.wal != "" && err == nil && !st.IsDir() {
		// Opening the bucket fails on it, with or without the WAL enabled.
		rep.Problems = append(rep.Problems, Problem{Part: "wal", File: where.wal, Offset: -1,
			Message: "not a directory: the write-ahead log's directory is a file, and the bucket does not open for writing"})
	}
	if where.wal != "" && isDir(where.wal) {
		s, err := wal.Survey(where.wal)
		if err != nil {
			return VerifyReport{}, fmt.Errorf("%w: %w", ErrWAL, err)
		}
		rep.WAL = &WALCheck{Path: where.wal, Segments: len(s.Segments), Bytes: s.Bytes, Entries: s.Staged}
		for _, seg := range s.Segments {
			rep.WAL.Entries += seg.Entries
		}
		for _, d := range s.Damage {
			msg := fmt.Sprintf("entry %d: %s", d.Index, d.Reason)
			if d.TornTail {
				msg += " (a torn tail: an unacknowledged write the next open cuts off)"
			}
			rep.Problems = append(rep.Problems, Problem{Part: "wal", File: d.File, Offset: d.Offset, Message: msg})
		}
		if s.Lost != nil && markKnown && max(s.Lost.First, mark+1) <= s.Lost.Last { // what the dataset holds is not lost
			last := filepath.Join(where.wal, wal.HighWaterName)
			if n := len(s.Segments); n > 0 {
				last = filepath.Join(where.wal, s.Segments[n-1].File)
			}
			rep.Problems = append(rep.Problems, Problem{Part: "wal", File: last, Offset: 0,
				Message: fmt.Sprintf("at least entries %d..%d were written (%s says so) but are in neither the log nor the dataset: "+
					"the last segment was emptied or deleted; the next open warns once and goes on without them",
					max(s.Lost.First, mark+1), s.Lost.Last, wal.HighWaterName)})
		}
		if len(s.Segments) > 0 && markKnown && s.FirstIndex > mark+1 {
			rep.Problems = append(rep.Problems, Problem{Part: "wal", File: filepath.Join(where.wal, s.Segments[0].File), Offset: 0,
				Message: fmt.Sprintf("the log starts at entry %d but the dataset contains entries up to %d only: entries %d..%d are missing",
					s.FirstIndex, mark, mark+1, s.FirstIndex-1)})
		}
	}
	if where.wal != "" { // a local bucket: its consumption log is beside the WAL
		if p, ok := verifyConsumptionLog(filepath.Join(filepath.Dir(where.wal), ConsumptionLogName)); !ok {
			rep.Problems = append(rep.Problems, p)
		}
	}
	rep.OK = len(rep.Problems) == 0
	return rep, nil
}

// verifyConsumptionLog reads the training API's consumption log at path as
// an open does (readConsumptionLog) and reports where it stops reading: an
// open would cut the log there, forgetting the marks after it.
func verifyConsumptionLog(path string) (Problem, bool) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Problem{}, true
	}
	if err != nil {
		return Problem{Part: "consumption", File: path, Offset: -1, Message: err.Error()}, false
	}
	entries, good := readConsumptionLog(data)
	if good == len(data) {
		return Problem{}, true
	}
	return Problem{Part: "consumption", File: path, Offset: int64(good), Message: fmt.Sprintf(
		"entry %d: torn or corrupt (%d bytes not readable): the next open cuts the log here and forgets "+
			"the consumed marks from this entry on (those records are served again)", len(entries)+1, len(data)-good)}, false
}
