package file

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The 40-byte footer at the end of every Lance v2 file (all little-endian):
//
//	u64 column metadata start   u64 CMO table position   u64 GBO table position
//	u32 number of global buffers   u32 number of columns
//	u16 major   u16 minor   "LANC"
const footerSize = 40

var magic = [4]byte{'L', 'A', 'N', 'C'}

// Footer numbers written for file version 2.0. The data-file footer says 0.3
// while DataFile.file_major/minor_version in the manifest say 2.0.
const (
	footerMajor20 = 0
	footerMinor20 = 3
)

type footer struct {
	columnMetaStart  uint64
	cmoTableStart    uint64
	gboTableStart    uint64
	numGlobalBuffers uint32
	numColumns       uint32
	major, minor     uint16
}

func (f footer) append(b []byte) []byte {
	b = binary.LittleEndian.AppendUint64(b, f.columnMetaStart)
	b = binary.LittleEndian.AppendUint64(b, f.cmoTableStart)
	b = binary.LittleEndian.AppendUint64(b, f.gboTableStart)
	b = binary.LittleEndian.AppendUint32(b, f.numGlobalBuffers)
	b = binary.LittleEndian.AppendUint32(b, f.numColumns)
	b = binary.LittleEndian.AppendUint16(b, f.major)
	b = binary.LittleEndian.AppendUint16(b, f.minor)
	return append(b, magic[:]...)
}

// parseFooter decodes and sanity-checks the footer of a file of fileSize
// bytes; b must be its last 40 bytes. All positions are checked against the
// file size so later reads can trust them.
func parseFooter(b []byte, fileSize int64) (footer, error) {
	var f footer
	if len(b) != footerSize || fileSize < footerSize {
		return f, fmt.Errorf("lance file: too small to be a Lance file (%d bytes)", fileSize)
	}
	if [4]byte(b[36:40]) != magic {
		return f, fmt.Errorf("lance file: bad magic %q (not a Lance file)", b[36:40])
	}
	le := binary.LittleEndian
	f.columnMetaStart = le.Uint64(b[0:])
	f.cmoTableStart = le.Uint64(b[8:])
	f.gboTableStart = le.Uint64(b[16:])
	f.numGlobalBuffers = le.Uint32(b[24:])
	f.numColumns = le.Uint32(b[28:])
	f.major = le.Uint16(b[32:])
	f.minor = le.Uint16(b[34:])
	// The version comes first: a file of another layout (a Lance v1 file has
	// a 16-byte footer) would otherwise fail on meaningless positions.
	if _, _, err := fileVersion(f.major, f.minor); err != nil {
		return f, err
	}

	end := uint64(fileSize - footerSize)
	if f.cmoTableStart > end || uint64(f.numColumns)*16 > end-f.cmoTableStart {
		return f, fmt.Errorf("lance file: column metadata table (%d columns at %d) outside file", f.numColumns, f.cmoTableStart)
	}
	if f.gboTableStart > end || uint64(f.numGlobalBuffers)*16 > end-f.gboTableStart {
		return f, fmt.Errorf("lance file: global buffer table (%d buffers at %d) outside file", f.numGlobalBuffers, f.gboTableStart)
	}
	if f.columnMetaStart > end {
		return f, fmt.Errorf("lance file: column metadata start %d outside file", f.columnMetaStart)
	}
	return f, nil
}

func errTooSmall(n int) error {
	return fmt.Errorf("lance file: too small to be a Lance file (%d bytes)", n)
}

// ErrLegacyFile is wrapped by the error opening a Lance v1 file (data
// storage version 0.1): pylance's old default for data files, and the
// format of its old scalar indices' files.
var ErrLegacyFile = errors.New("persisting does not read data storage version 0.1")

// ErrOffsetsOverflow: the rows asked for hold more bytes (or list items) in
// a string, binary or list column than its 32-bit offsets address in one
// Arrow array; fewer rows at a time read them.
var ErrOffsetsOverflow = errors.New("lance file: the rows' values do not fit the 32-bit offsets of one array")

// offsetsLimit is the largest offset of a string, binary or list array the
// reader assembles: 2^31 - 1 (lowered by tests, see SetOffsetsLimit).
var offsetsLimit int64 = 1<<31 - 1

// fileVersion classifies footer numbers. It returns the logical version
// (2.0 for footer 0.3, as Lance does).
func fileVersion(major, minor uint16) (uint32, uint32, error) {
	switch {
	case major == 0 && minor == 3, major == 2 && minor == 0:
		return 2, 0, nil
	case major == 0 && (minor == 1 || minor == 2):
		return 0, uint32(minor), fmt.Errorf("lance file: a Lance v1 data file (footer version 0.%d, data storage version 0.1, \"legacy\"): "+
			"%w; rewrite the dataset with pylance at data_storage_version 2.0 or later", minor, ErrLegacyFile)
	case major == 2 && (minor == 1 || minor == 2):
		return 2, uint32(minor), nil
	case major == 2:
		return 2, uint32(minor), fmt.Errorf("lance file: file version 2.%d not supported yet", minor)
	}
	return uint32(major), uint32(minor), fmt.Errorf("lance file: unknown file version %d.%d", major, minor)
}

// offsetTable decodes n (position, size) pairs, checking every region lies
// inside the first limit bytes of the file.
func offsetTable(b []byte, n int, limit uint64, what string) ([][2]uint64, error) {
	if len(b) != 16*n {
		return nil, fmt.Errorf("lance file: %s table truncated", what)
	}
	out := make([][2]uint64, n)
	for i := range out {
		pos := binary.LittleEndian.Uint64(b[16*i:])
		size := binary.LittleEndian.Uint64(b[16*i+8:])
		if pos > limit || size > limit-pos {
			return nil, fmt.Errorf("lance file: %s %d (%d bytes at %d) outside file", what, i, size, pos)
		}
		out[i] = [2]uint64{pos, size}
	}
	return out, nil
}
