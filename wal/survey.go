package wal

import (
	"fmt"
	"os"
	"path/filepath"
)

// SegmentInfo describes one segment file as Survey found it.
type SegmentInfo struct {
	File       string `json:"file"`        // base name (20 digits, maybe .START/.END)
	FirstIndex uint64 `json:"first_index"` // index its name gives its first entry
	Entries    uint64 `json:"entries"`     // valid entries in it (damaged ones not counted)
	Bytes      int64  `json:"bytes"`
}

// Damage is one damaged stretch of a segment file.
type Damage struct {
	File   string `json:"file"`   // path of the segment file
	Offset int64  `json:"offset"` // byte offset where the damage starts
	Index  uint64 `json:"index"`  // index the damaged entry has (or would have)
	Reason string `json:"reason"`
	// TornTail: damage at the end of the last segment with nothing valid
	// after it, which the next Open cuts off (an unacknowledged write).
	TornTail bool `json:"torn_tail"`
}

// SurveyResult is what Survey found in a log directory.
type SurveyResult struct {
	Segments []SegmentInfo `json:"segments"`
	// FirstIndex..LastIndex are the entries that read back intact in
	// sequence (LastIndex = FirstIndex-1 for an empty log).
	FirstIndex uint64   `json:"first_index"`
	LastIndex  uint64   `json:"last_index"`
	Bytes      int64    `json:"bytes"`
	Damage     []Damage `json:"damage"`
	// Pending lists files of an interrupted truncation (.START/.END) that
	// the next Open finishes; Temps leftover .TEMP files it removes.
	Pending []string `json:"pending"`
	Temps   []string `json:"temps"`
	// Lost: entries the high-water mark says the log held that are gone
	// from an undamaged log (its last segment emptied or deleted), which
	// the next Open reports once and then forgets; nil when none.
	Lost *Lost `json:"lost,omitempty"`
	// Staged: entries after those of the segments in the staging file
	// (a killed process left them there; the next Open moves them to the
	// segments), counted in LastIndex and in Bytes (at the size they will
	// take in a segment, as Log.Size counts them), not in Segments.
	Staged uint64 `json:"staged"`
}

// Survey reads every entry of every segment in dir and checks its framing
// and CRC, without changing anything and without stopping at the first
// damage: after a damaged entry it resumes at the next offset where a valid
// entry starts, so every damaged stretch is reported with its file and
// offset. A gap or overlap between segments is reported as damage too, and
// entries the high-water mark says were written but are gone as Lost.
func Survey(dir string) (SurveyResult, error) {
	segs, pending, temps, err := listSegments(dir)
	if err != nil {
		return SurveyResult{}, fmt.Errorf("wal: survey %s: %w", dir, err)
	}
	res := SurveyResult{Pending: pending, Temps: temps, Segments: []SegmentInfo{}, Damage: []Damage{}}
	intact := true // every entry so far read back in sequence
	var next uint64
	// After damage the count of entries is an estimate (one per damaged
	// stretch: a damaged length cannot be trusted), so the next segment's
	// name is taken as given instead of being reported as a gap.
	estimated := false
	for i, s := range segs {
		data, err := os.ReadFile(s.path)
		if err != nil {
			return SurveyResult{}, fmt.Errorf("wal: survey %s: %w", dir, err)
		}
		info := SegmentInfo{File: filepath.Base(s.path), FirstIndex: s.start, Bytes: int64(len(data))}
		if i == 0 {
			res.FirstIndex, res.LastIndex, next = s.start, s.start-1, s.start
		} else if s.start != next && !estimated {
			res.Damage = append(res.Damage, Damage{File: s.path, Offset: 0, Index: next,
				Reason: fmt.Sprintf("segment starts at index %d, the one before ends at %d (entries missing or overlapping)", s.start, next-1)})
			intact = false
			next = s.start
		} else {
			next = s.start
		}
		estimated = false
		last := i == len(segs)-1
		for off := 0; off < len(data); {
			scan, _ := scanSegment(data[off:], nil)
			info.Entries += scan.entries
			next += scan.entries
			if intact {
				res.LastIndex = next - 1
			}
			if !scan.bad {
				break
			}
			at := off + int(scan.end)
			resume := nextValidEntry(data, at+1)
			res.Damage = append(res.Damage, Damage{File: s.path, Offset: int64(at), Index: next, Reason: scan.reason,
				TornTail: last && resume < 0})
			intact = false
			next++ // the damaged entry's index, as far as can be told
			estimated = true
			if resume < 0 {
				break
			}
			off = resume
		}
		res.Bytes += info.Bytes
		res.Segments = append(res.Segments, info)
	}
	if len(segs) == 0 {
		res.FirstIndex, res.LastIndex = 1, 0
	}
	if len(res.Damage) == 0 { // damage is reported as such, and ends what Open can tell
		staged, err := readStaging(dir, res.LastIndex, func(string, ...any) {})
		if err != nil {
			return SurveyResult{}, fmt.Errorf("wal: survey %s: %w", dir, err)
		}
		res.Staged = uint64(len(staged))
		res.LastIndex += res.Staged
		for _, r := range staged {
			res.Bytes += recordSize(len(r.frame) - headerSize)
		}
		mark, err := readHighWater(dir, func(string, ...any) {})
		if err != nil {
			return SurveyResult{}, fmt.Errorf("wal: survey %s: %w", dir, err)
		}
		res.Lost = lostAgainst(mark, res.LastIndex)
	}
	return res, nil
}

// nextValidEntry is the first offset from from on where a valid entry
// starts, or -1.
func nextValidEntry(data []byte, from int) int {
	for p := from; p < len(data); p++ {
		if isValidRecord(data[p:]) {
			return p
		}
	}
	return -1
}
