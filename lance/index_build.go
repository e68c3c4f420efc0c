package lance

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
	"strconv"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/file"
	"github.com/persisting/persisting/lance/schema"
)

// indexReadChunk is how many rows of a column are read at once while
// building an index or scanning.
const indexReadChunk = 1 << 16

// readColumnChunk reads physical rows [off, off+n) of the top-level column
// at schema position col of fragment i (all nulls if the fragment lacks it).
func (d *Dataset) readColumnChunk(i, col int, off, n int64, alloc memory.Allocator) (arrow.Array, error) {
	f := &d.manifest.Fragments[i]
	srcs, err := d.fragmentColumns(f)
	if err != nil {
		return nil, err
	}
	if srcs[col].file < 0 {
		return array.MakeArrayOfNull(alloc, d.schema.Field(col).Type, int(n)), nil
	}
	cols := make([]arrow.Array, len(srcs))
	if err := d.readFileColumns(f, srcs[col].file, d.physRows[i], srcs, []int{col}, cols, off, n, alloc, false); err != nil {
		return nil, err
	}
	return cols[col], nil
}

// forEachLive calls fn for every live row of the column at schema position
// col, fragment by fragment, with the row's fragment index and physical
// offset (deleted rows are skipped).
func (d *Dataset) forEachLive(col int, frags []int, fn func(fi int, off uint32, arr arrow.Array, j int) error) error {
	for _, i := range frags {
		dv, err := d.deletions(i)
		if err != nil {
			return err
		}
		phys := d.physRows[i]
		if phys > 1<<32 {
			return fmt.Errorf("%w: fragment %d has %d rows, more than a row address holds", ErrUnsupported, d.manifest.Fragments[i].ID, phys)
		}
		di := 0
		for off := int64(0); off < phys; off += indexReadChunk {
			n := min(indexReadChunk, phys-off)
			arr, err := d.readColumnChunk(i, col, off, n, memory.DefaultAllocator)
			if err != nil {
				return err
			}
			for j := 0; j < int(n); j++ {
				p := off + int64(j)
				for di < len(dv) && int64(dv[di]) < p {
					di++
				}
				if di < len(dv) && int64(dv[di]) == p {
					continue
				}
				if err := fn(i, uint32(p), arr, j); err != nil {
					arr.Release()
					return err
				}
			}
			arr.Release()
		}
	}
	return nil
}

func (d *Dataset) allFragments() []int {
	out := make([]int, len(d.manifest.Fragments))
	for i := range out {
		out[i] = i
	}
	return out
}

// rowAddrSet is a set of row addresses: fragment id -> row offsets.
type rowAddrSet map[uint32]*roaring.Bitmap

func (s rowAddrSet) add(frag, off uint32) {
	b := s[frag]
	if b == nil {
		b = roaring.New()
		s[frag] = b
	}
	b.Add(off)
}

// serialize writes Lance's row address tree map format.
func (s rowAddrSet) serialize() ([]byte, error) {
	ids := make([]uint32, 0, len(s))
	for id := range s {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(a, b int) bool { return ids[a] < ids[b] })
	var buf bytes.Buffer
	var hdr [4]byte
	binary.LittleEndian.PutUint32(hdr[:], uint32(len(ids)))
	buf.Write(hdr[:])
	for _, id := range ids {
		bm := s[id]
		binary.LittleEndian.PutUint32(hdr[:], id)
		buf.Write(hdr[:])
		binary.LittleEndian.PutUint32(hdr[:], uint32(bm.GetSerializedSizeInBytes()))
		buf.Write(hdr[:])
		if _, err := bm.WriteTo(&buf); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// deserializeRowAddrSet parses the row address tree map format. A nil
// bitmap in the result means the whole fragment.
func deserializeRowAddrSet(b []byte) (s rowAddrSet, err error) {
	defer recoverDecode(&err)
	if len(b) < 4 {
		return nil, fmt.Errorf("row address set of %d bytes", len(b))
	}
	n := binary.LittleEndian.Uint32(b)
	b = b[4:]
	if uint64(n)*8 > uint64(len(b)) {
		return nil, fmt.Errorf("row address set: %d entries in %d bytes", n, len(b))
	}
	s = make(rowAddrSet, n)
	for k := uint32(0); k < n; k++ {
		if len(b) < 8 {
			return nil, fmt.Errorf("row address set truncated")
		}
		id := binary.LittleEndian.Uint32(b)
		size := binary.LittleEndian.Uint32(b[4:])
		b = b[8:]
		if uint64(size) > uint64(len(b)) {
			return nil, fmt.Errorf("row address set: bitmap of %d bytes overruns", size)
		}
		if size == 0 {
			s[id] = nil
			continue
		}
		bm := roaring.New()
		m, err := bm.ReadFrom(bytes.NewReader(b[:size]))
		if err != nil {
			return nil, err
		}
		if m != int64(size) {
			return nil, fmt.Errorf("row address set: bitmap length %d, read %d", size, m)
		}
		if err := bm.Validate(); err != nil {
			return nil, err
		}
		s[id] = bm
		b = b[size:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("row address set: %d trailing bytes", len(b))
	}
	return s, nil
}

// writeIndexFile writes one Lance 2.0 file of an index from rec.
func writeIndexFile(dir, name string, rec arrow.Record, md map[string][]byte) (IndexFile, error) {
	fields, err := schema.FromArrow(rec.Schema(), 0)
	if err != nil {
		return IndexFile{}, fmt.Errorf("lance: index file %s: %w", name, err)
	}
	res, err := file.WriteFileWithOptions(joinPath(dir, name), fields, []arrow.Record{rec},
		file.WriteOptions{SchemaMetadata: md})
	if err != nil {
		return IndexFile{}, fmt.Errorf("lance: index file %s: %w", name, err)
	}
	return IndexFile{Path: name, Size: uint64(res.FileSize)}, nil
}

// buildBitmapIndex writes bitmap_page_lookup.lance for the column at schema
// position col into dir.
func (d *Dataset) buildBitmapIndex(dir string, col int) ([]IndexFile, error) {
	dt := d.schema.Field(col).Type
	kr, err := newKeyReader(dt)
	if err != nil {
		return nil, err
	}
	sets := map[key]rowAddrSet{}
	var nulls rowAddrSet
	err = d.forEachLive(col, d.allFragments(), func(i int, off uint32, arr arrow.Array, j int) error {
		frag := uint32(d.manifest.Fragments[i].ID)
		k, ok := kr.at(arr, j)
		if !ok {
			if nulls == nil {
				nulls = rowAddrSet{}
			}
			nulls.add(frag, off)
			return nil
		}
		s := sets[k]
		if s == nil {
			s = rowAddrSet{}
			sets[k] = s
		}
		s.add(frag, off)
		return nil
	})
	if err != nil {
		return nil, err
	}
	keys := make([]key, 0, len(sets))
	for k := range sets {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool { return compareKeys(kr.kind, keys[a], keys[b]) < 0 })
	nNull := 0
	bb := array.NewBinaryBuilder(memory.DefaultAllocator, arrow.BinaryTypes.Binary)
	defer bb.Release()
	if nulls != nil {
		nNull = 1
		b, err := nulls.serialize()
		if err != nil {
			return nil, err
		}
		bb.Append(b)
	}
	for _, k := range keys {
		b, err := sets[k].serialize()
		if err != nil {
			return nil, err
		}
		bb.Append(b)
	}
	keyArr := kr.buildKeys(memory.DefaultAllocator, nNull, keys)
	defer keyArr.Release()
	bitmaps := bb.NewArray()
	defer bitmaps.Release()
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "keys", Type: dt, Nullable: true},
		{Name: "bitmaps", Type: arrow.BinaryTypes.Binary, Nullable: true},
	}, nil)
	rec := array.NewRecord(sch, []arrow.Array{keyArr, bitmaps}, int64(keyArr.Len()))
	defer rec.Release()
	md := map[string][]byte{indexStatsMetaKey: []byte(`{"num_bitmaps":` + strconv.Itoa(keyArr.Len()) + `}`)}
	f, err := writeIndexFile(dir, bitmapLookupFile, rec, md)
	if err != nil {
		return nil, err
	}
	return []IndexFile{f}, nil
}

// buildBTreeIndex writes page_data.lance and page_lookup.lance for the
// column at schema position col into dir.
func (d *Dataset) buildBTreeIndex(dir string, col int) ([]IndexFile, error) {
	dt := d.schema.Field(col).Type
	kr, err := newKeyReader(dt)
	if err != nil {
		return nil, err
	}
	type entry struct {
		k    key
		null bool
		addr uint64
	}
	var ents []entry
	err = d.forEachLive(col, d.allFragments(), func(i int, off uint32, arr arrow.Array, j int) error {
		k, ok := kr.at(arr, j)
		ents = append(ents, entry{k: k, null: !ok, addr: d.manifest.Fragments[i].ID<<32 | uint64(off)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(ents, func(a, b int) bool {
		x, y := ents[a], ents[b]
		if x.null != y.null {
			return x.null
		}
		if !x.null {
			if c := compareKeys(kr.kind, x.k, y.k); c != 0 {
				return c < 0
			}
		}
		return x.addr < y.addr
	})
	nNull := 0
	for nNull < len(ents) && ents[nNull].null {
		nNull++
	}
	keys := make([]key, len(ents)-nNull)
	ids := array.NewUint64Builder(memory.DefaultAllocator)
	defer ids.Release()
	for j, e := range ents {
		if j >= nNull {
			keys[j-nNull] = e.k
		}
		ids.Append(e.addr)
	}
	values := kr.buildKeys(memory.DefaultAllocator, nNull, keys)
	defer values.Release()
	idArr := ids.NewArray()
	defer idArr.Release()
	dataSch := arrow.NewSchema([]arrow.Field{
		{Name: "values", Type: dt, Nullable: true},
		{Name: "ids", Type: arrow.PrimitiveTypes.Uint64},
	}, nil)
	dataRec := array.NewRecord(dataSch, []arrow.Array{values, idArr}, int64(len(ents)))
	defer dataRec.Release()
	dataFile, err := writeIndexFile(dir, btreeDataFile, dataRec, map[string][]byte{})
	if err != nil {
		return nil, err
	}

	// One lookup row per page of btreeBatchSize rows: min and max are the
	// page's first and last values (null when that value is null).
	pages := (len(ents) + btreeBatchSize - 1) / btreeBatchSize
	var minNull, maxNull int
	var mins, maxs []key
	nullCount := array.NewUint32Builder(memory.DefaultAllocator)
	defer nullCount.Release()
	pageIdx := array.NewUint32Builder(memory.DefaultAllocator)
	defer pageIdx.Release()
	for p := 0; p < pages; p++ {
		lo, hi := p*btreeBatchSize, min((p+1)*btreeBatchSize, len(ents))
		// Nulls sort first, so null mins and maxes are a prefix of the pages.
		if ents[lo].null {
			minNull++
		} else {
			mins = append(mins, ents[lo].k)
		}
		if ents[hi-1].null {
			maxNull++
		} else {
			maxs = append(maxs, ents[hi-1].k)
		}
		nulls := max(0, min(hi, nNull)-lo)
		nullCount.Append(uint32(nulls))
		pageIdx.Append(uint32(p))
	}
	minArr := kr.buildKeys(memory.DefaultAllocator, minNull, mins)
	defer minArr.Release()
	maxArr := kr.buildKeys(memory.DefaultAllocator, maxNull, maxs)
	defer maxArr.Release()
	ncArr := nullCount.NewArray()
	defer ncArr.Release()
	piArr := pageIdx.NewArray()
	defer piArr.Release()
	lookupSch := arrow.NewSchema([]arrow.Field{
		{Name: "min", Type: dt, Nullable: true},
		{Name: "max", Type: dt, Nullable: true},
		{Name: "null_count", Type: arrow.PrimitiveTypes.Uint32},
		{Name: "page_idx", Type: arrow.PrimitiveTypes.Uint32},
	}, nil)
	lookupRec := array.NewRecord(lookupSch, []arrow.Array{minArr, maxArr, ncArr, piArr}, int64(pages))
	defer lookupRec.Release()
	md := map[string][]byte{
		"batch_size":        []byte(strconv.Itoa(btreeBatchSize)),
		"range_partitioned": []byte("false"),
	}
	lookupFile, err := writeIndexFile(dir, btreeLookupFile, lookupRec, md)
	if err != nil {
		return nil, err
	}
	return []IndexFile{dataFile, lookupFile}, nil
}
