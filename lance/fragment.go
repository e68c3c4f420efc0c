package lance

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// Fragment is a lance.table.DataFragment: a horizontal slice of the dataset
// made of one or more data files covering disjoint columns of the same rows.
type Fragment struct {
	ID           uint64
	Files        []DataFile
	DeletionFile *DeletionFile
	// PhysicalRows counts rows including deleted ones (0 = unknown).
	PhysicalRows uint64
	// Extra holds fields this package does not interpret (row id sequences,
	// version sequences, overlays...), re-emitted verbatim on encode.
	Extra []byte
}

// DataFile is a lance.table.DataFile.
type DataFile struct {
	Path          string // relative to <root>/data/
	Fields        []int32
	ColumnIndices []int32
	MajorVersion  uint32
	MinorVersion  uint32
	FileSizeBytes uint64
	Extra         []byte // unknown fields (e.g. base_id), verbatim
}

// DeletionFile is a lance.table.DeletionFile.
type DeletionFile struct {
	FileType       uint32 // 0 = Arrow IPC array, 1 = Roaring bitmap
	ReadVersion    uint64
	ID             uint64
	NumDeletedRows uint64 // 0 = unknown
	Extra          []byte
}

// LogicalRows is the number of visible rows of the fragment, and whether it
// is known from the manifest alone.
func (f *Fragment) LogicalRows() (int64, bool) {
	n := int64(f.PhysicalRows)
	if f.PhysicalRows == 0 && len(f.Files) > 0 {
		return 0, false
	}
	if f.DeletionFile != nil {
		if f.DeletionFile.NumDeletedRows == 0 {
			return n, false
		}
		n -= int64(f.DeletionFile.NumDeletedRows)
	}
	return n, true
}

func encodeDataFile(f *DataFile) []byte {
	var b []byte
	b = appendStringField(b, 1, f.Path)
	b = appendPackedInt32s(b, 2, f.Fields)
	b = appendPackedInt32s(b, 3, f.ColumnIndices)
	b = appendVarintField(b, 4, uint64(f.MajorVersion))
	b = appendVarintField(b, 5, uint64(f.MinorVersion))
	b = appendVarintField(b, 6, f.FileSizeBytes)
	return append(b, f.Extra...)
}

func decodeDataFile(b []byte) (DataFile, error) {
	var f DataFile
	err := walkFields(b, func(v pbValue) error {
		var err error
		switch v.num {
		case 1:
			var p []byte
			p, err = v.wantBytes()
			f.Path = string(p)
		case 2:
			f.Fields, err = v.wantInt32s(f.Fields)
		case 3:
			f.ColumnIndices, err = v.wantInt32s(f.ColumnIndices)
		case 4:
			f.MajorVersion, err = v.wantUint32()
		case 5:
			f.MinorVersion, err = v.wantUint32()
		case 6:
			f.FileSizeBytes, err = v.wantVarint()
		default:
			f.Extra = append(f.Extra, v.raw...)
		}
		return err
	})
	if err != nil {
		return DataFile{}, fmt.Errorf("data file: %w", err)
	}
	if len(f.ColumnIndices) != 0 && len(f.ColumnIndices) != len(f.Fields) {
		return DataFile{}, fmt.Errorf("data file %q: %d fields but %d column indices", f.Path, len(f.Fields), len(f.ColumnIndices))
	}
	return f, nil
}

func encodeDeletionFile(d *DeletionFile) []byte {
	var b []byte
	b = appendVarintField(b, 1, uint64(d.FileType))
	b = appendVarintField(b, 2, d.ReadVersion)
	b = appendVarintField(b, 3, d.ID)
	b = appendVarintField(b, 4, d.NumDeletedRows)
	return append(b, d.Extra...)
}

func decodeDeletionFile(b []byte) (*DeletionFile, error) {
	d := &DeletionFile{}
	err := walkFields(b, func(v pbValue) error {
		var err error
		switch v.num {
		case 1:
			d.FileType, err = v.wantUint32()
		case 2:
			d.ReadVersion, err = v.wantVarint()
		case 3:
			d.ID, err = v.wantVarint()
		case 4:
			d.NumDeletedRows, err = v.wantVarint()
		default:
			d.Extra = append(d.Extra, v.raw...)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("deletion file: %w", err)
	}
	return d, nil
}

func encodeFragment(f *Fragment) []byte {
	var b []byte
	b = appendVarintField(b, 1, f.ID)
	for i := range f.Files {
		b = appendBytesField(b, 2, encodeDataFile(&f.Files[i]))
	}
	if f.DeletionFile != nil {
		b = appendBytesField(b, 3, encodeDeletionFile(f.DeletionFile))
	}
	b = appendVarintField(b, 4, f.PhysicalRows)
	return append(b, f.Extra...)
}

func decodeFragment(b []byte) (Fragment, error) {
	var f Fragment
	err := walkFields(b, func(v pbValue) error {
		var err error
		switch v.num {
		case 1:
			f.ID, err = v.wantVarint()
		case 2:
			var p []byte
			if p, err = v.wantBytes(); err != nil {
				return err
			}
			var df DataFile
			if df, err = decodeDataFile(p); err != nil {
				return err
			}
			f.Files = append(f.Files, df)
		case 3:
			var p []byte
			if p, err = v.wantBytes(); err != nil {
				return err
			}
			f.DeletionFile, err = decodeDeletionFile(p)
		case 4:
			f.PhysicalRows, err = v.wantVarint()
		default:
			f.Extra = append(f.Extra, v.raw...)
		}
		return err
	})
	if err != nil {
		return Fragment{}, fmt.Errorf("fragment: %w", err)
	}
	return f, nil
}

func appendFragments(b []byte, num protowire.Number, frags []Fragment) []byte {
	for i := range frags {
		b = appendBytesField(b, num, encodeFragment(&frags[i]))
	}
	return b
}

// newDataFileName returns a fresh data file name in Lance's style: the first
// 3 bytes of a random UUID as 24 binary digits, the remaining 13 bytes as
// lowercase hex, then ".lance" (50-character stem).
func newDataFileName() string {
	u := newUUIDBytes()
	var sb strings.Builder
	sb.Grow(56)
	for _, c := range u[:3] {
		for bit := 7; bit >= 0; bit-- {
			if c&(1<<bit) != 0 {
				sb.WriteByte('1')
			} else {
				sb.WriteByte('0')
			}
		}
	}
	sb.WriteString(hex.EncodeToString(u[3:]))
	sb.WriteString(".lance")
	return sb.String()
}

func newUUIDBytes() [16]byte {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		panic("lance: crypto/rand failed: " + err.Error())
	}
	u[6] = (u[6] & 0x0f) | 0x40 // version 4
	u[8] = (u[8] & 0x3f) | 0x80 // RFC 4122 variant
	return u
}

// newUUID returns a random hyphenated lowercase UUIDv4 string.
func newUUID() string {
	u := newUUIDBytes()
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
