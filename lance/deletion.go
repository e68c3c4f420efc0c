package lance

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/RoaringBitmap/roaring/v2"
)

// Deletion files (lance.table.DeletionFile) record the physical row offsets
// of a fragment that are deleted. Lance derives their path from the
// fragment id and the DeletionFile message:
//
//	_deletions/{fragment_id}-{read_version}-{id}.arrow   file_type 0
//	_deletions/{fragment_id}-{read_version}-{id}.bin     file_type 1
//
// ".arrow" is an Arrow IPC file (not stream) with one non-null UInt32 column
// "row_id" (Lance compresses the body with zstd); ".bin" is a 32-bit Roaring
// bitmap in the portable serialization. pylance writes the Arrow form for up
// to 5000 deleted rows and the bitmap form above that.

const deletionsDir = "_deletions"

// Deletion file types (DeletionFile.file_type).
const (
	DeletionArrow  uint32 = 0
	DeletionBitmap uint32 = 1
)

// deletionFileName returns the name under _deletions/ of the deletion file
// of fragment fragID.
func deletionFileName(fragID uint64, d *DeletionFile) (string, error) {
	var ext string
	switch d.FileType {
	case DeletionArrow:
		ext = "arrow"
	case DeletionBitmap:
		ext = "bin"
	default:
		return "", corruptf("fragment %d: unknown deletion file type %d", fragID, d.FileType)
	}
	if len(d.Extra) > 0 {
		// base_id (field 7) would place the file under another base path.
		return "", fmt.Errorf("%w: fragment %d: deletion file uses fields this reader does not understand", ErrUnsupported, fragID)
	}
	return strconv.FormatUint(fragID, 10) + "-" + strconv.FormatUint(d.ReadVersion, 10) + "-" +
		strconv.FormatUint(d.ID, 10) + "." + ext, nil
}

// readDeletionFile loads the deletion vector of fragment f (physRows rows):
// the deleted physical offsets, sorted, without duplicates, all < physRows.
func readDeletionFile(root string, f *Fragment, physRows uint64) ([]uint32, error) {
	name, err := deletionFileName(f.ID, f.DeletionFile)
	if err != nil {
		return nil, err
	}
	p := joinPath(root, deletionsDir, name)
	data, err := readFile(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: fragment %d: deletion file %s is missing", ErrCorrupt, f.ID, name)
		}
		return nil, fmt.Errorf("lance: fragment %d: %w", f.ID, err)
	}
	var dv []uint32
	if f.DeletionFile.FileType == DeletionArrow {
		dv, err = decodeArrowDeletions(data, physRows)
	} else {
		dv, err = decodeBitmapDeletions(data, physRows)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: fragment %d: deletion file %s: %v", ErrCorrupt, f.ID, name, err)
	}
	if n := f.DeletionFile.NumDeletedRows; n != 0 && n != uint64(len(dv)) {
		return nil, corruptf("fragment %d: deletion file %s holds %d rows, manifest says %d", f.ID, name, len(dv), n)
	}
	return dv, nil
}

// decodeBitmapDeletions parses a portable 32-bit Roaring bitmap.
func decodeBitmapDeletions(data []byte, physRows uint64) (dv []uint32, err error) {
	defer recoverDecode(&err)
	rb := roaring.New()
	n, err := rb.ReadFrom(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if n != int64(len(data)) {
		return nil, fmt.Errorf("%d trailing bytes after the bitmap", int64(len(data))-n)
	}
	if err := rb.Validate(); err != nil {
		return nil, err
	}
	if !rb.IsEmpty() && uint64(rb.Maximum()) >= physRows {
		// Also bounds the cardinality before ToArray allocates.
		return nil, fmt.Errorf("deleted row %d is past the fragment's %d rows", rb.Maximum(), physRows)
	}
	return rb.ToArray(), nil
}

// recoverDecode turns a panic of the third-party bitmap decoder into an
// error (its allocations are bounded by the format: at most 65536
// containers of at most 8 KiB).
func recoverDecode(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("malformed: %v", r)
	}
}

// liveToPhysical returns the physical offset of the k-th (0-based) row of a
// fragment that survives the sorted deletion vector dv.
func liveToPhysical(dv []uint32, k int64) int64 {
	// dv[i]-i rows survive before dv[i]; the answer is k plus the number of
	// deleted rows before it.
	lo, hi := 0, len(dv)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if int64(dv[mid])-int64(mid) > k {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return k + int64(lo)
}
