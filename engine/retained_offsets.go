package engine

import (
	"fmt"
	"strconv"

	"github.com/persisting/persisting/lance"
)

// Data retention drops the first rows of the dataset, so dataset row i no
// longer holds offset i. Each version records in its config the offset of
// its first row; offsets never shift: offset = firstOffset + dataset row.
// The value lives in the same manifest as the rows it describes, so a
// version and its offsets are always read together (and pylance sees it as
// an ordinary config entry).
const firstOffsetKey = "persisting.first_offset"

// firstOffset is the offset of the first row of version ds (0 for a
// dataset retention never touched, or nil).
func firstOffset(ds *lance.Dataset) int64 {
	if ds == nil {
		return 0
	}
	v, ok := ds.ConfigValue(firstOffsetKey)
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0 // not ours: the rows are numbered from 0
	}
	return n
}

// persistedEnd is the offset after the last row of version ds: the rows
// it holds are [firstOffset(ds), persistedEnd(ds)).
func persistedEnd(ds *lance.Dataset) int64 {
	if ds == nil {
		return 0
	}
	return firstOffset(ds) + ds.CountRows()
}

// checkRetained refuses an offset below the first retained one.
func checkRetained(offset, first int64) error {
	if offset < first {
		return fmt.Errorf("%w: offset %d is no longer retained: the first retained offset is %d (data retention dropped the records before it)",
			ErrInvalidArgument, offset, first)
	}
	return nil
}
