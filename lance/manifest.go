package lance

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// Manifest is a decoded lance.table.Manifest: a self-contained description
// of one dataset version (schema, fragments, flags, config).
//
// Top-level fields this package does not know are dropped on re-encode
// (recorded in UnknownFields): unknown fields may be positions into the old
// manifest file or derived indexes over the fragment list that would be stale
// once fragments are added. Writers refuse datasets whose feature flags they
// do not understand, which covers the fields that matter for correctness.
type Manifest struct {
	// Fields holds the raw lance.file.Field messages, parents before children.
	Fields         [][]byte
	SchemaMetadata map[string][]byte
	Fragments      []Fragment
	Version        uint64
	VersionAuxData uint64
	Timestamp      time.Time
	Tag            string
	ReaderFlags    uint64
	WriterFlags    uint64
	// MaxFragmentID is the highest fragment id ever used (nil: never any).
	MaxFragmentID   *uint32
	TransactionFile string // relative to <root>/_transactions
	WriterVersion   *WriterVersion
	NextRowID       uint64
	DataFormat      *DataStorageFormat
	Config          map[string]string
	TableMetadata   map[string]string
	BasePaths       [][]byte // raw lance.table.BasePath messages
	Branch          *string

	// IndexSection is the raw lance.table.IndexSection carried by the
	// manifest file (nil if none). It is copied verbatim to new versions.
	IndexSection []byte
	// InlineTransaction is the raw inline Transaction section, if the
	// manifest file has one (pylance 14 writes it, field 23; older releases
	// used field 21). Never written by this package.
	InlineTransaction []byte

	// UnknownFields lists top-level field numbers that were skipped.
	UnknownFields []int32

	// positions read from the file, resolved by readManifestFile.
	indexSectionPos *uint64
	txnSectionPos   *uint64

	// fragsEnc caches the encoded Fragments field of a prefix of Fragments,
	// so that committing an append on top of this manifest encodes only the
	// new fragment (see encodedFragments).
	fragsEnc encodedFragments
}

// encodedFragments is the encoded Fragments field (field 2 entries, as
// appendFragments writes them) of the first n fragments of a manifest.
// Only code that builds a manifest's fragment list sets it, and fragments
// are never altered in place once listed, so it stays valid: a manifest
// whose list is not base's (rewrite, merge with new data files) starts
// without one. b is never written to (it is shared by later versions).
type encodedFragments struct {
	b []byte
	n int
}

// WriterVersion is lance.table.Manifest.WriterVersion.
type WriterVersion struct {
	Library       string
	Version       string
	Prerelease    *string
	BuildMetadata *string
}

// DataStorageFormat is lance.table.Manifest.DataStorageFormat.
type DataStorageFormat struct {
	FileFormat string
	Version    string
}

// Manifest field numbers.
const (
	mfFields              = 1
	mfFragments           = 2
	mfVersion             = 3
	mfVersionAuxData      = 4
	mfSchemaMetadata      = 5
	mfIndexSection        = 6
	mfTimestamp           = 7
	mfTag                 = 8
	mfReaderFlags         = 9
	mfWriterFlags         = 10
	mfMaxFragmentID       = 11
	mfTransactionFile     = 12
	mfWriterVersion       = 13
	mfNextRowID           = 14
	mfDataFormat          = 15
	mfConfig              = 16
	mfBasePaths           = 18
	mfTableMetadata       = 19
	mfBranch              = 20
	mfTransactionSection  = 21 // deprecated by pylance 14 in favour of 23
	mfTransactionSection2 = 23
)

// encodeManifest serializes m (without file framing). indexPos is the
// position of the index section in the manifest file, or nil.
func encodeManifest(m *Manifest, indexPos *uint64) []byte {
	b, _, _ := appendManifest(nil, m, indexPos)
	return b
}

// appendManifest appends the encoding of m to b and returns where its
// Fragments field lies in the result, b[fragStart:fragEnd].
func appendManifest(b []byte, m *Manifest, indexPos *uint64) (out []byte, fragStart, fragEnd int) {
	for _, f := range m.Fields {
		b = appendBytesField(b, mfFields, f)
	}
	fragStart = len(b)
	done := 0
	if c := m.fragsEnc; c.n > 0 && c.n <= len(m.Fragments) {
		b = append(b, c.b...)
		done = c.n
	}
	b = appendFragments(b, mfFragments, m.Fragments[done:])
	fragEnd = len(b)
	b = appendVarintField(b, mfVersion, m.Version)
	b = appendVarintField(b, mfVersionAuxData, m.VersionAuxData)
	b = appendBytesMap(b, mfSchemaMetadata, m.SchemaMetadata)
	if indexPos != nil {
		b = appendVarintFieldAlways(b, mfIndexSection, *indexPos)
	}
	if !m.Timestamp.IsZero() {
		var ts []byte
		ts = appendVarintField(ts, 1, uint64(m.Timestamp.Unix()))
		ts = appendVarintField(ts, 2, uint64(int64(m.Timestamp.Nanosecond())))
		b = appendBytesField(b, mfTimestamp, ts)
	}
	b = appendStringField(b, mfTag, m.Tag)
	b = appendVarintField(b, mfReaderFlags, m.ReaderFlags)
	b = appendVarintField(b, mfWriterFlags, m.WriterFlags)
	if m.MaxFragmentID != nil {
		b = appendVarintFieldAlways(b, mfMaxFragmentID, uint64(*m.MaxFragmentID))
	}
	b = appendStringField(b, mfTransactionFile, m.TransactionFile)
	if wv := m.WriterVersion; wv != nil {
		var w []byte
		w = appendStringField(w, 1, wv.Library)
		w = appendStringField(w, 2, wv.Version)
		if wv.Prerelease != nil {
			w = appendBytesField(w, 3, []byte(*wv.Prerelease))
		}
		if wv.BuildMetadata != nil {
			w = appendBytesField(w, 4, []byte(*wv.BuildMetadata))
		}
		b = appendBytesField(b, mfWriterVersion, w)
	}
	b = appendVarintField(b, mfNextRowID, m.NextRowID)
	if df := m.DataFormat; df != nil {
		var d []byte
		d = appendStringField(d, 1, df.FileFormat)
		d = appendStringField(d, 2, df.Version)
		b = appendBytesField(b, mfDataFormat, d)
	}
	b = appendStringMap(b, mfConfig, m.Config)
	for _, bp := range m.BasePaths {
		b = appendBytesField(b, mfBasePaths, bp)
	}
	b = appendStringMap(b, mfTableMetadata, m.TableMetadata)
	if m.Branch != nil {
		b = appendBytesField(b, mfBranch, []byte(*m.Branch))
	}
	return b, fragStart, fragEnd
}

// decodeManifest parses a lance.table.Manifest protobuf message.
// fieldDictionary is lance.file.Field's dictionary: {1 offset, 2 length}.
const fieldDictionary = 8

// fieldWithoutDictionaryPosition copies a raw lance.file.Field, emptying its
// dictionary message. Lance before 2.0 (pylance 0.20 still, on any dataset
// with a dictionary column) wrote a dictionary's values into the manifest
// file and its position there into the field; the position means nothing
// in any other manifest file, and a pylance of that age opening a manifest
// that keeps it reads whatever lies there (and fails). An empty message is
// what pylance 14 writes for its own dictionary columns: files of version
// 2.0 and later hold their dictionaries in their pages.
func fieldWithoutDictionaryPosition(f []byte) []byte {
	var out []byte
	err := walkFields(f, func(v pbValue) error {
		if v.num == fieldDictionary && v.typ == protowire.BytesType && len(v.b) > 0 {
			out = appendBytesField(out, fieldDictionary, nil)
		} else {
			out = append(out, v.raw...)
		}
		return nil
	})
	if err != nil { // decoded (and refused) with the schema
		return append([]byte{}, f...)
	}
	return out
}

func decodeManifest(b []byte) (*Manifest, error) {
	m := &Manifest{}
	err := walkFields(b, func(v pbValue) error {
		var err error
		var p []byte
		switch v.num {
		case mfFields:
			if p, err = v.wantBytes(); err == nil {
				m.Fields = append(m.Fields, fieldWithoutDictionaryPosition(p))
			}
		case mfFragments:
			if p, err = v.wantBytes(); err != nil {
				return err
			}
			var f Fragment
			if f, err = decodeFragment(p); err != nil {
				return err
			}
			m.Fragments = append(m.Fragments, cloneFragment(f))
		case mfVersion:
			m.Version, err = v.wantVarint()
		case mfVersionAuxData:
			m.VersionAuxData, err = v.wantVarint()
		case mfSchemaMetadata:
			if p, err = v.wantBytes(); err == nil {
				err = addBytesMapEntry(&m.SchemaMetadata, p)
			}
		case mfIndexSection:
			var x uint64
			if x, err = v.wantVarint(); err == nil {
				m.indexSectionPos = &x
			}
		case mfTimestamp:
			if p, err = v.wantBytes(); err == nil {
				m.Timestamp, err = decodeTimestamp(p)
			}
		case mfTag:
			if p, err = v.wantBytes(); err == nil {
				m.Tag = string(p)
			}
		case mfReaderFlags:
			m.ReaderFlags, err = v.wantVarint()
		case mfWriterFlags:
			m.WriterFlags, err = v.wantVarint()
		case mfMaxFragmentID:
			var x uint32
			if x, err = v.wantUint32(); err == nil {
				m.MaxFragmentID = &x
			}
		case mfTransactionFile:
			if p, err = v.wantBytes(); err == nil {
				m.TransactionFile = string(p)
			}
		case mfWriterVersion:
			if p, err = v.wantBytes(); err == nil {
				m.WriterVersion, err = decodeWriterVersion(p)
			}
		case mfNextRowID:
			m.NextRowID, err = v.wantVarint()
		case mfDataFormat:
			if p, err = v.wantBytes(); err == nil {
				m.DataFormat, err = decodeDataFormat(p)
			}
		case mfConfig:
			if p, err = v.wantBytes(); err == nil {
				err = addStringMapEntry(&m.Config, p)
			}
		case mfBasePaths:
			if p, err = v.wantBytes(); err == nil {
				m.BasePaths = append(m.BasePaths, append([]byte{}, p...))
			}
		case mfTableMetadata:
			if p, err = v.wantBytes(); err == nil {
				err = addStringMapEntry(&m.TableMetadata, p)
			}
		case mfBranch:
			if p, err = v.wantBytes(); err == nil {
				s := string(p)
				m.Branch = &s
			}
		case mfTransactionSection, mfTransactionSection2:
			var x uint64
			if x, err = v.wantVarint(); err == nil {
				// Prefer the newer field when both are present.
				if m.txnSectionPos == nil || v.num == mfTransactionSection2 {
					m.txnSectionPos = &x
				}
			}
		default:
			m.UnknownFields = append(m.UnknownFields, int32(v.num))
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return m, nil
}

func cloneFragment(f Fragment) Fragment {
	// Decoded byte slices alias the input; copy what outlives it. The Files
	// array is copied too: a clone of a live dataset's fragment (retention's
	// deletion file) must not write into what concurrent readers see.
	f.Extra = append([]byte(nil), f.Extra...)
	f.Files = append([]DataFile(nil), f.Files...)
	for i := range f.Files {
		f.Files[i].Extra = append([]byte(nil), f.Files[i].Extra...)
	}
	if f.DeletionFile != nil {
		d := *f.DeletionFile
		d.Extra = append([]byte(nil), d.Extra...)
		f.DeletionFile = &d
	}
	return f
}

func decodeTimestamp(b []byte) (time.Time, error) {
	var sec, nanos int64
	err := walkFields(b, func(v pbValue) error {
		x, err := v.wantVarint()
		if err != nil {
			return err
		}
		switch v.num {
		case 1:
			sec = int64(x)
		case 2:
			nanos = int64(int32(x))
		}
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp: %w", err)
	}
	if nanos < 0 || nanos > 999_999_999 {
		return time.Time{}, fmt.Errorf("timestamp: nanos %d out of range", nanos)
	}
	return time.Unix(sec, nanos).UTC(), nil
}

func decodeWriterVersion(b []byte) (*WriterVersion, error) {
	wv := &WriterVersion{}
	err := walkFields(b, func(v pbValue) error {
		if v.num < 1 || v.num > 4 {
			return nil
		}
		p, err := v.wantBytes()
		if err != nil {
			return err
		}
		s := string(p)
		switch v.num {
		case 1:
			wv.Library = s
		case 2:
			wv.Version = s
		case 3:
			wv.Prerelease = &s
		case 4:
			wv.BuildMetadata = &s
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("writer version: %w", err)
	}
	return wv, nil
}

func decodeDataFormat(b []byte) (*DataStorageFormat, error) {
	df := &DataStorageFormat{}
	err := walkFields(b, func(v pbValue) error {
		if v.num != 1 && v.num != 2 {
			return nil
		}
		p, err := v.wantBytes()
		if err != nil {
			return err
		}
		if v.num == 1 {
			df.FileFormat = string(p)
		} else {
			df.Version = string(p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("data storage format: %w", err)
	}
	return df, nil
}

// --- manifest file framing ---------------------------------------------------

var manifestMagic = []byte("LANC")

const manifestTrailerLen = 16 // i64 position, u16 major, u16 minor, "LANC"

// encodeManifestFile produces the bytes of a manifest file:
// [IndexSection][Manifest section][trailer]. Each section is a u32 LE
// length followed by the protobuf bytes.
func encodeManifestFile(m *Manifest) ([]byte, error) {
	data, _, err := encodeManifestFileFrags(m)
	return data, err
}

// encodeManifestFileFrags is encodeManifestFile that also returns the
// encoded Fragments field of all of m's fragments (a read-only window on
// the file bytes), for the cache of the manifests built on top of m.
func encodeManifestFileFrags(m *Manifest) ([]byte, encodedFragments, error) {
	var buf []byte
	var indexPos *uint64
	if m.IndexSection != nil {
		if uint64(len(m.IndexSection)) > math.MaxUint32 {
			return nil, encodedFragments{}, errors.New("lance: index section too large")
		}
		pos := uint64(len(buf))
		indexPos = &pos
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(m.IndexSection)))
		buf = append(buf, m.IndexSection...)
	}
	// The body is encoded in place after its length prefix (filled in
	// once known), sized from the cached fragments to avoid regrowing.
	pos := len(buf)
	if c := len(m.fragsEnc.b); c > 0 {
		buf = append(make([]byte, 0, pos+c+c/8+4096), buf...)
	}
	buf = binary.LittleEndian.AppendUint32(buf, 0)
	buf, fragStart, fragEnd := appendManifest(buf, m, indexPos)
	n := len(buf) - pos - 4
	if uint64(n) > math.MaxUint32 {
		return nil, encodedFragments{}, errors.New("lance: manifest too large")
	}
	binary.LittleEndian.PutUint32(buf[pos:], uint32(n))
	buf = binary.LittleEndian.AppendUint64(buf, uint64(pos))
	buf = binary.LittleEndian.AppendUint16(buf, 0)
	buf = binary.LittleEndian.AppendUint16(buf, 2)
	buf = append(buf, manifestMagic...)
	frags := encodedFragments{b: buf[fragStart:fragEnd:fragEnd], n: len(m.Fragments)}
	return buf, frags, nil
}

// section returns the protobuf bytes of the length-prefixed section at pos.
func section(data []byte, pos uint64, limit int) ([]byte, error) {
	if pos > uint64(limit) || uint64(limit)-pos < 4 {
		return nil, fmt.Errorf("section position %d out of range", pos)
	}
	n := uint64(binary.LittleEndian.Uint32(data[pos:]))
	if n > uint64(limit)-pos-4 {
		return nil, fmt.Errorf("section at %d: length %d overruns file", pos, n)
	}
	return data[pos+4 : pos+4+n], nil
}

// decodeManifestFile parses the bytes of a whole manifest file.
func decodeManifestFile(data []byte) (*Manifest, error) {
	if len(data) < manifestTrailerLen+4 {
		return nil, fmt.Errorf("manifest file too short (%d bytes)", len(data))
	}
	if !bytes.Equal(data[len(data)-4:], manifestMagic) {
		return nil, errors.New("manifest file: bad magic (not a Lance manifest)")
	}
	limit := len(data) - manifestTrailerLen
	pos := binary.LittleEndian.Uint64(data[limit:])
	body, err := section(data, pos, limit)
	if err != nil {
		return nil, fmt.Errorf("manifest file: %w", err)
	}
	m, err := decodeManifest(body)
	if err != nil {
		return nil, err
	}
	if m.indexSectionPos != nil {
		s, err := section(data, *m.indexSectionPos, limit)
		if err != nil {
			return nil, fmt.Errorf("manifest file: index section: %w", err)
		}
		m.IndexSection = append([]byte{}, s...)
	}
	if m.txnSectionPos != nil {
		// Optional: the transaction file is the fallback, so a position we
		// cannot resolve does not make the version unreadable.
		if s, err := section(data, *m.txnSectionPos, limit); err == nil {
			m.InlineTransaction = append([]byte{}, s...)
		}
	}
	return m, nil
}

// uint32p and friends build optional fields.
func uint32p(x uint32) *uint32 { return &x }
