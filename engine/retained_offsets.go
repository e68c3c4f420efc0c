package engine

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance"
)

// A record's offset is its position in append order and never changes, but
// the dataset does not keep every record: data retention drops the first
// ones and clear deletes single ones. Each version therefore records, in its
// manifest config, which offsets its rows hold:
//
//   - persisting.first_offset: the offset of its first row (retention moved
//     it past the records it dropped; absent = 0);
//   - persisting.cleared_offsets: the offsets >= first_offset whose records
//     were deleted (clear), a portable 32-bit Roaring bitmap in standard
//     base64 while every one is below 2^32 (what versions before 64-bit
//     offsets wrote and read); once one is not, "64:" and the 64-bit
//     portable Roaring format in standard base64 (offset_set.go). Absent =
//     none.
//
// The live rows hold the other offsets >= first_offset, ascending. The
// values live in the same manifest as the rows they describe, so a version
// and its offsets are always read together; compaction (ours or pylance's)
// keeps the live rows' order and carries the config over, so rewriting the
// fragments that had deletions moves no offset. A delete made outside
// persisting (pylance's ds.delete) is not recorded here and shifts every
// later offset down.
const (
	firstOffsetKey   = "persisting.first_offset"
	clearedOffsetKey = "persisting.cleared_offsets"
)

// offsetMap maps a version's live rows to offsets and back.
type offsetMap struct {
	first   int64
	cleared *offsetSet // offsets >= first without a row; never mutated once built
	rows    int64      // live rows
}

// offsetsOf reads ds's map (ds nil: an empty one). Values that are not ours
// are ignored: the rows are numbered from 0 with no holes.
func offsetsOf(ds *lance.Dataset) offsetMap {
	m := offsetMap{cleared: newOffsetSet()}
	if ds == nil {
		return m
	}
	m.rows = ds.CountRows()
	if v, ok := ds.ConfigValue(firstOffsetKey); ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			m.first = n
		}
	}
	if v, ok := ds.ConfigValue(clearedOffsetKey); ok {
		if bm, err := decodeOffsets(v); err == nil {
			m.cleared = bm
		}
	}
	return m
}

// wideOffsetsPrefix starts a cleared_offsets value in the 64-bit format. It
// is not base64: versions that read only the 32-bit format ignore the value.
const wideOffsetsPrefix = "64:"

func encodeOffsets(bm *offsetSet) (string, error) {
	var buf bytes.Buffer
	if err := bm.writeTo(&buf); err != nil {
		return "", err
	}
	enc := base64.StdEncoding.EncodeToString(buf.Bytes())
	if !bm.fits32() {
		enc = wideOffsetsPrefix + enc
	}
	return enc, nil
}

func decodeOffsets(v string) (bm *offsetSet, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: %v", ErrCorrupt, clearedOffsetKey, r)
		}
	}()
	wide := strings.HasPrefix(v, wideOffsetsPrefix)
	data, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(v, wideOffsetsPrefix))
	if err != nil {
		return nil, err
	}
	return readOffsetSet(data, wide)
}

// end is the offset after the last row: the next record's offset.
func (m offsetMap) end() int64 {
	return m.first + m.rows + m.cleared.cardinality()
}

// clearedBefore counts the cleared offsets below o.
func (m offsetMap) clearedBefore(o int64) int64 {
	return m.cleared.countBelow(o)
}

// rowAt is the number of live rows below offset o (o >= first): the row of
// o itself when o is not cleared, else of the next live offset.
func (m offsetMap) rowAt(o int64) int64 {
	return o - m.first - m.clearedBefore(o)
}

// offsetOfRow is the offset of live row r (r == rows: end()).
func (m offsetMap) offsetOfRow(r int64) int64 {
	if r >= m.rows {
		return m.end()
	}
	// The smallest o with rowAt(o+1) == r+1, i.e. more than r live offsets
	// in [first, o]; rowAt is monotone, so binary search over the at most
	// cardinality offsets the holes can push it by.
	lo, hi := m.first+r, m.first+r+m.cleared.cardinality()
	for lo < hi {
		mid := lo + (hi-lo)/2
		if m.rowAt(mid+1) > r {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// isCleared says whether offset o was cleared (o >= first).
func (m offsetMap) isCleared(o int64) bool {
	return m.cleared.contains(o)
}

// rowRanges turns offsets (ascending, live, in [first, end())) into the
// ranges of live rows they hold: consecutive live offsets are consecutive
// rows, also across cleared ones between them.
func (m offsetMap) rowRanges(offsets *offsetSet) [][2]int64 {
	var out [][2]int64
	offsets.each(func(o int64) {
		r := m.rowAt(o)
		if n := len(out); n > 0 && out[n-1][1] == r {
			out[n-1][1]++
		} else {
			out = append(out, [2]int64{r, r + 1})
		}
	})
	return out
}

// firstOffset is the offset of the first row of version ds (0 for a
// dataset retention never touched, or nil).
func firstOffset(ds *lance.Dataset) int64 { return offsetsOf(ds).first }

// persistedEnd is the offset after the last row of version ds.
func persistedEnd(ds *lance.Dataset) int64 { return offsetsOf(ds).end() }

// offsetCache keeps the map of the bucket's current version: reading the
// cleared offsets costs their encoded size, and every count needs them.
type offsetCache struct {
	mu     sync.Mutex
	filled bool // ds may be nil (no dataset yet): that map is cached too
	ds     *lance.Dataset
	m      offsetMap
}

func (c *offsetCache) of(ds *lance.Dataset) offsetMap {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.filled || c.ds != ds {
		c.filled, c.ds, c.m = true, ds, offsetsOf(ds)
	}
	return c.m
}

// checkRetained refuses an offset below the first retained one.
func checkRetained(offset, first int64) error {
	if offset < first {
		return fmt.Errorf("%w: offset %d is no longer retained: the first retained offset is %d (data retention dropped the records before it)",
			ErrInvalidArgument, offset, first)
	}
	return nil
}

// readOffsets reads the live records of version ds whose offsets are in
// [offset, offset+limit) (limit < 0: to the end), ascending; cleared
// offsets have no record. offset must be retained (checkRetained).
func readOffsets(ds *lance.Dataset, m offsetMap, offset, limit int64, alloc memory.Allocator) ([]arrow.Record, error) {
	end := m.end()
	if limit >= 0 && offset+limit < end {
		end = offset + limit
	}
	if offset >= end {
		return nil, nil
	}
	lo, hi := m.rowAt(offset), m.rowAt(end)
	if hi <= lo {
		return nil, nil
	}
	return ds.Read(lo, hi-lo, alloc)
}
