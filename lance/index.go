package lance

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"google.golang.org/protobuf/encoding/protowire"
)

// Scalar indices, in the layout pylance (Lance 14) writes and reads.
//
// An index lives in <root>/_indices/<uuid>/ and is described by one
// lance.table.IndexMetadata entry in the manifest's IndexSection:
//
//	1 uuid            UUID{1: 16 bytes}
//	2 fields          packed int32 field ids (the indexed column)
//	3 name            e.g. "x_idx"
//	4 dataset_version the version the index was built from
//	5 fragment_bitmap portable 32-bit Roaring bitmap of the covered fragment ids
//	6 index_details   google.protobuf.Any; type_url "/lance.table.BitmapIndexDetails"
//	                  or "/lance.table.BTreeIndexDetails", empty value
//	7 index_version   0
//	8 created_at      milliseconds since the epoch
//	10 files          IndexFile{1 path, 2 size_bytes}, one per file
//
// The files are Lance 2.0 files (footer version 0.3):
//
//	BITMAP: bitmap_page_lookup.lance {keys: <column type>, bitmaps: binary},
//	        one row per distinct value (the null key, if any, first, then
//	        ascending); schema metadata lance:index_stats={"num_bitmaps":N}.
//	BTREE:  page_data.lance {values: <column type>, ids: uint64 not null},
//	        all (value, row address) pairs sorted (nulls first), read in pages
//	        of batch_size rows; page_lookup.lance {min, max: <column type>,
//	        null_count: uint32, page_idx: uint32}, one row per page (min and
//	        max are the page's first and last value), schema metadata
//	        batch_size and range_partitioned=false.
//
// A bitmap is a serialized row address set: u32 entry count, then per
// fragment (ascending) u32 fragment id, u32 byte length, a portable 32-bit
// Roaring bitmap of row offsets (length 0: the whole fragment). A row
// address is fragment_id<<32 | physical row offset (datasets without stable
// row ids, the only ones this package writes).
//
// Appends keep indices valid: rows of fragments the fragment bitmap does not
// list are simply not indexed, and readers scan them. Deleted rows stay in
// an index and are filtered by the deletion vectors at read time.

// Index kinds accepted by CreateScalarIndex (case-insensitive).
const (
	IndexBitmap = "BITMAP"
	IndexBTree  = "BTREE"
)

const (
	bitmapLookupFile  = "bitmap_page_lookup.lance"
	btreeLookupFile   = "page_lookup.lance"
	btreeDataFile     = "page_data.lance"
	btreeBatchSize    = 4096
	indicesDir        = "_indices"
	typeURLBitmap     = "/lance.table.BitmapIndexDetails"
	typeURLBTree      = "/lance.table.BTreeIndexDetails"
	indexStatsMetaKey = "lance:index_stats"
)

// IndexInfo describes one index (segment) of a dataset version, as
// pylance's list_indices() reports it.
type IndexInfo struct {
	Name string
	UUID string
	// Type is "Bitmap", "BTree", or for other kinds the type URL's message
	// name without "IndexDetails" ("" when the index records no details).
	Type    string
	TypeURL string
	// FieldIDs are the indexed Lance field ids; Columns their names.
	FieldIDs []int32
	Columns  []string
	// DatasetVersion is the version the index was built from.
	DatasetVersion uint64
	// FragmentIDs lists the fragments the index covers (nil if unknown).
	FragmentIDs  []uint32
	IndexVersion int32
	CreatedAt    time.Time // zero if not recorded
	Files        []IndexFile
}

// IndexFile is one file of an index, relative to its directory.
type IndexFile struct {
	Path string
	Size uint64
}

// indexMeta is a decoded IndexMetadata with its raw bytes (re-encoded
// verbatim so fields this package does not know survive).
type indexMeta struct {
	IndexInfo
	uuid      [16]byte
	fragments *roaring.Bitmap // nil if not recorded
	baseID    bool            // the index lives under another base path
	covering  bool            // declares covering fields
	raw       []byte
}

// decodeIndexSection parses a lance.table.IndexSection.
func decodeIndexSection(b []byte) ([]indexMeta, error) {
	var out []indexMeta
	err := walkFields(b, func(v pbValue) error {
		if v.num != 1 {
			return nil
		}
		p, err := v.wantBytes()
		if err != nil {
			return err
		}
		im, err := decodeIndexMeta(p)
		if err != nil {
			return err
		}
		out = append(out, im)
		return nil
	})
	if err != nil {
		return nil, corruptf("index section: %v", err)
	}
	return out, nil
}

func decodeIndexMeta(b []byte) (indexMeta, error) {
	im := indexMeta{raw: append([]byte(nil), b...)}
	err := walkFields(b, func(v pbValue) error {
		var err error
		var p []byte
		switch v.num {
		case 1:
			if p, err = v.wantBytes(); err != nil {
				return err
			}
			err = walkFields(p, func(u pbValue) error {
				if u.num != 1 {
					return nil
				}
				q, err := u.wantBytes()
				if err != nil {
					return err
				}
				if len(q) != 16 {
					return fmt.Errorf("uuid of %d bytes", len(q))
				}
				copy(im.uuid[:], q)
				return nil
			})
		case 2:
			im.FieldIDs, err = appendInt32s(im.FieldIDs, v)
		case 3:
			if p, err = v.wantBytes(); err == nil {
				im.Name = string(p)
			}
		case 4:
			im.DatasetVersion, err = v.wantVarint()
		case 5:
			if p, err = v.wantBytes(); err != nil {
				return err
			}
			im.fragments, err = decodeFragmentBitmap(p)
		case 6:
			if p, err = v.wantBytes(); err != nil {
				return err
			}
			err = walkFields(p, func(u pbValue) error {
				if u.num != 1 {
					return nil
				}
				q, err := u.wantBytes()
				if err == nil {
					im.TypeURL = string(q)
				}
				return err
			})
		case 7:
			var x uint64
			if x, err = v.wantVarint(); err == nil {
				im.IndexVersion = int32(x)
			}
		case 8:
			var x uint64
			if x, err = v.wantVarint(); err == nil && x > 0 && x < math.MaxInt64/2 {
				im.CreatedAt = time.UnixMilli(int64(x)).UTC()
			}
		case 9:
			im.baseID = true
		case 10:
			if p, err = v.wantBytes(); err != nil {
				return err
			}
			var f IndexFile
			err = walkFields(p, func(u pbValue) error {
				switch u.num {
				case 1:
					q, err := u.wantBytes()
					f.Path = string(q)
					return err
				case 2:
					x, err := u.wantVarint()
					f.Size = x
					return err
				}
				return nil
			})
			im.Files = append(im.Files, f)
		case 11:
			im.covering = true
		}
		return err
	})
	if err != nil {
		return im, fmt.Errorf("index metadata: %w", err)
	}
	h := hex.EncodeToString(im.uuid[:])
	im.UUID = h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	im.Type = indexTypeName(im.TypeURL)
	if im.fragments != nil {
		im.FragmentIDs = im.fragments.ToArray()
	}
	return im, nil
}

// appendInt32s decodes a repeated int32 occurrence, packed or not.
func appendInt32s(dst []int32, v pbValue) ([]int32, error) {
	switch v.typ {
	case protowire.VarintType:
		return append(dst, int32(v.u)), nil
	case protowire.BytesType:
		b := v.b
		for len(b) > 0 {
			x, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return nil, fmt.Errorf("field %d: bad packed varint", v.num)
			}
			dst = append(dst, int32(x))
			b = b[n:]
		}
		return dst, nil
	}
	return nil, fmt.Errorf("field %d: wire type %d, want varint", v.num, v.typ)
}

func decodeFragmentBitmap(b []byte) (bm *roaring.Bitmap, err error) {
	defer recoverDecode(&err)
	bm = roaring.New()
	n, err := bm.ReadFrom(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("fragment bitmap: %w", err)
	}
	if n != int64(len(b)) {
		return nil, fmt.Errorf("fragment bitmap: %d trailing bytes", int64(len(b))-n)
	}
	if err := bm.Validate(); err != nil {
		return nil, fmt.Errorf("fragment bitmap: %w", err)
	}
	return bm, nil
}

// indexTypeName turns "/lance.table.BTreeIndexDetails" into "BTree".
func indexTypeName(url string) string {
	switch {
	case strings.EqualFold(url, typeURLBitmap):
		return "Bitmap"
	case strings.EqualFold(url, typeURLBTree):
		return "BTree"
	}
	s := url[strings.LastIndexAny(url, "/.")+1:]
	return strings.TrimSuffix(s, "IndexDetails")
}

// encodeIndexMeta builds a fresh IndexMetadata message.
func encodeIndexMeta(uuid [16]byte, fieldID int32, name string, version uint64, frags *roaring.Bitmap,
	typeURL string, created time.Time, files []IndexFile) ([]byte, error) {
	var b []byte
	b = appendBytesField(b, 1, appendBytesField(nil, 1, uuid[:]))
	b = appendPackedInt32s(b, 2, []int32{fieldID})
	b = appendStringField(b, 3, name)
	b = appendVarintField(b, 4, version)
	var fb bytes.Buffer
	if _, err := frags.WriteTo(&fb); err != nil {
		return nil, err
	}
	b = appendBytesField(b, 5, fb.Bytes())
	b = appendBytesField(b, 6, appendStringField(nil, 1, typeURL))
	b = appendVarintFieldAlways(b, 7, 0)
	b = appendVarintField(b, 8, uint64(created.UnixMilli()))
	for _, f := range files {
		var fm []byte
		fm = appendStringField(fm, 1, f.Path)
		fm = appendVarintField(fm, 2, f.Size)
		b = appendBytesField(b, 10, fm)
	}
	return b, nil
}

// Indices lists the indices of this version, in manifest order. Several
// entries may share a name (the segments of one index, e.g. after
// pylance's optimize_indices).
func (d *Dataset) Indices() ([]IndexInfo, error) {
	ims, err := d.indexMetas()
	if err != nil {
		return nil, err
	}
	out := make([]IndexInfo, len(ims))
	for i, im := range ims {
		out[i] = im.IndexInfo
	}
	return out, nil
}

func (d *Dataset) indexMetas() ([]indexMeta, error) {
	if len(d.manifest.IndexSection) == 0 {
		return nil, nil
	}
	ims, err := decodeIndexSection(d.manifest.IndexSection)
	if err != nil {
		return nil, err
	}
	byID := make(map[int32]string, len(d.fields))
	for _, f := range d.fields {
		byID[f.ID] = f.Name
	}
	for i := range ims {
		for _, id := range ims[i].FieldIDs {
			ims[i].Columns = append(ims[i].Columns, byID[id])
		}
	}
	return ims, nil
}

// IndexOptions tune CreateScalarIndex.
type IndexOptions struct {
	// Name of the index; default "<column>_idx" (pylance's default).
	Name string
	// Replace an existing index of the same name (pylance's default);
	// without it an existing name is an error.
	Replace bool
	// Properties are stored in the transaction of the new version.
	Properties map[string]string
}

// ErrIndexExists: an index of that name already exists (and
// IndexOptions.Replace was not set).
var ErrIndexExists = errors.New("lance: index already exists")

// CreateScalarIndex builds a scalar index of the given kind (IndexBitmap or
// IndexBTree) on the top-level column of the latest version of the dataset
// at path, and commits it as a new version (a CreateIndex transaction, the
// index in the manifest's index section). pylance lists it in
// list_indices() and uses it for filters; Dataset.Lookup uses it too. The
// index covers the fragments present now; rows appended later are found by
// scanning until the index is rebuilt.
func CreateScalarIndex(path, column, kind string, opts IndexOptions) (*Dataset, error) {
	typeURL := ""
	switch strings.ToUpper(kind) {
	case IndexBitmap:
		typeURL = typeURLBitmap
	case IndexBTree:
		typeURL = typeURLBTree
	default:
		return nil, fmt.Errorf("%w: index kind %q (want %s or %s)", ErrUnsupported, kind, IndexBitmap, IndexBTree)
	}
	base, scheme, err := loadLatestManifest(path)
	if err != nil {
		return nil, err
	}
	if err := base.checkWritable(); err != nil {
		return nil, err
	}
	d, err := newDataset(path, base, scheme)
	if err != nil {
		return nil, err
	}
	col, fld, err := d.topLevelColumn(column)
	if err != nil {
		return nil, err
	}
	dt := d.schema.Field(col).Type
	if _, ok := keyKindOf(dt); !ok {
		return nil, fmt.Errorf("%w: cannot index column %q of type %s", ErrUnsupported, column, dt)
	}
	name := opts.Name
	if name == "" {
		name = column + "_idx"
	}
	if err := checkIndexName(base, name, opts.Replace); err != nil {
		return nil, err
	}

	uuid := newUUIDBytes()
	h := hex.EncodeToString(uuid[:])
	dirName := h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	dir := joinPath(path, indicesDir, dirName)
	if err := makeDir(dir); err != nil {
		return nil, fmt.Errorf("lance: %w", err)
	}
	cleanup := func() { removeDir(dir) }
	var files []IndexFile
	if typeURL == typeURLBitmap {
		files, err = d.buildBitmapIndex(dir, col)
	} else {
		files, err = d.buildBTreeIndex(dir, col)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err == nil {
		err = syncDir(filepath.Dir(dir))
	}
	if err != nil {
		cleanup()
		return nil, err
	}
	frags := roaring.New()
	for _, f := range base.Fragments {
		frags.Add(uint32(f.ID))
	}
	meta, err := encodeIndexMeta(uuid, fld.ID, name, base.Version, frags, typeURL, time.Now(), files)
	if err != nil {
		cleanup()
		return nil, err
	}
	covered := map[uint64]string{} // fragment id -> path of the file holding the field
	for _, f := range base.Fragments {
		covered[f.ID] = fieldFile(&f, fld.ID)
	}
	req := commitRequest{
		root:       path,
		base:       base,
		scheme:     scheme,
		properties: opts.Properties,
		op:         OpCreateIndex,
		index:      &indexCommit{meta: meta, name: name},
		check: func(m *Manifest) error {
			cur, err := newDataset(path, m, 0)
			if err != nil {
				return err
			}
			_, f2, err := cur.topLevelColumn(column)
			if err != nil {
				return err
			}
			if f2.ID != fld.ID || f2.LogicalType != fld.LogicalType {
				return fmt.Errorf("%w: column %q changed concurrently", ErrCommitConflict, column)
			}
			present := map[uint64]*Fragment{}
			for i := range m.Fragments {
				present[m.Fragments[i].ID] = &m.Fragments[i]
			}
			for id, p := range covered {
				f, ok := present[id]
				if !ok || fieldFile(f, fld.ID) != p {
					return fmt.Errorf("%w: fragment %d was rewritten concurrently", ErrCommitConflict, id)
				}
			}
			return checkIndexName(m, name, opts.Replace)
		},
	}
	m, s, err := commit(req)
	if err != nil {
		if mayRemoveWritten(err) {
			cleanup()
		}
		return nil, err
	}
	return newDataset(path, m, s)
}

// fieldFile returns the path of the data file of f that holds field id
// ("" if none).
func fieldFile(f *Fragment, id int32) string {
	p := ""
	for _, df := range f.Files {
		for _, x := range df.Fields {
			if x == id {
				p = df.Path
			}
		}
	}
	return p
}

func checkIndexName(m *Manifest, name string, replace bool) error {
	if replace || len(m.IndexSection) == 0 {
		return nil
	}
	ims, err := decodeIndexSection(m.IndexSection)
	if err != nil {
		return err
	}
	for _, im := range ims {
		if im.Name == name {
			return fmt.Errorf("%w: %q", ErrIndexExists, name)
		}
	}
	return nil
}

// topLevelColumn returns the schema position and Lance field of a
// top-level column.
func (d *Dataset) topLevelColumn(column string) (int, fieldRef, error) {
	pos := 0
	for _, f := range d.fields {
		if f.ParentID != -1 {
			continue
		}
		if f.Name == column {
			return pos, fieldRef{ID: f.ID, LogicalType: f.LogicalType}, nil
		}
		pos++
	}
	return 0, fieldRef{}, fmt.Errorf("%w: no top-level column %q", ErrSchemaMismatch, column)
}

type fieldRef struct {
	ID          int32
	LogicalType string
}

// indexCommit is the CreateIndex part of a commit request: one new index,
// replacing the indices of the same name in the manifest it is applied to.
// body and newSection are computed per commit attempt by withIndex.
type indexCommit struct {
	meta []byte // raw IndexMetadata
	name string

	body       []byte // Transaction.CreateIndex {1 new_indices, 2 removed_indices}
	newSection []byte // the new manifest's IndexSection
}

// withIndex returns req with the index transaction body and manifest
// section computed against base.
func (req commitRequest) withIndex(base *Manifest) (commitRequest, error) {
	ic := *req.index
	var ims []indexMeta
	if len(base.IndexSection) > 0 {
		var err error
		if ims, err = decodeIndexSection(base.IndexSection); err != nil {
			return req, err
		}
	}
	ic.body = appendBytesField(nil, 1, ic.meta)
	ic.newSection = nil
	for _, im := range ims {
		if im.Name == ic.name {
			ic.body = appendBytesField(ic.body, 2, im.raw)
		} else {
			ic.newSection = appendBytesField(ic.newSection, 1, im.raw)
		}
	}
	ic.newSection = appendBytesField(ic.newSection, 1, ic.meta)
	req.index = &ic
	return req, nil
}
