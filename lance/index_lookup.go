package lance

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/file"
	"github.com/persisting/persisting/lance/schema"
)

// Cond is a condition on one column, for Dataset.Lookup. Build it with
// CondEqual, CondRange or CondIsNull. Values are Go values of the column's
// kind: any Go integer (or arrow.Date32, arrow.Timestamp...) for integer,
// date, time and timestamp columns, floats or integers for float columns,
// string or []byte for string and binary columns, bool for booleans.
// Nulls never satisfy CondEqual or CondRange.
type Cond struct {
	op             condOp
	v, lo, hi      any
	loIncl, hiIncl bool
}

type condOp uint8

const (
	opEqual condOp = iota + 1
	opRange
	opIsNull
)

// CondEqual matches rows whose value equals v (floats: -0 equals 0, NaN
// equals NaN).
func CondEqual(v any) Cond { return Cond{op: opEqual, v: v} }

// CondRange matches rows whose value lies between lo and hi; a nil bound is
// unbounded, the flags say whether each bound itself matches.
func CondRange(lo any, loInclusive bool, hi any, hiInclusive bool) Cond {
	return Cond{op: opRange, lo: lo, hi: hi, loIncl: loInclusive, hiIncl: hiInclusive}
}

// CondIsNull matches rows whose value is null.
func CondIsNull() Cond { return Cond{op: opIsNull} }

// matcher is a Cond compiled for one key kind.
type matcher struct {
	kind           keyKind
	op             condOp
	v, lo, hi      key
	hasLo, hasHi   bool
	loIncl, hiIncl bool
}

func compileCond(kind keyKind, c Cond) (*matcher, error) {
	m := &matcher{kind: kind, op: c.op, loIncl: c.loIncl, hiIncl: c.hiIncl}
	var err error
	switch c.op {
	case opEqual:
		if c.v == nil {
			return nil, errors.New("lance: CondEqual(nil): use CondIsNull")
		}
		m.v, err = valueKey(kind, c.v)
	case opRange:
		if c.lo != nil {
			m.hasLo = true
			if m.lo, err = valueKey(kind, c.lo); err != nil {
				return nil, err
			}
		}
		if c.hi != nil {
			m.hasHi = true
			m.hi, err = valueKey(kind, c.hi)
		}
	case opIsNull:
	default:
		return nil, errors.New("lance: empty Cond (use CondEqual, CondRange or CondIsNull)")
	}
	return m, err
}

func (m *matcher) match(k key, valid bool) bool {
	if m.op == opIsNull || !valid {
		return m.op == opIsNull && !valid
	}
	if m.op == opEqual {
		return compareKeys(m.kind, k, m.v) == 0
	}
	return m.aboveLo(k) && m.belowHi(k)
}

func (m *matcher) aboveLo(k key) bool {
	if !m.hasLo {
		return true
	}
	c := compareKeys(m.kind, k, m.lo)
	return c > 0 || (c == 0 && m.loIncl)
}

func (m *matcher) belowHi(k key) bool {
	if !m.hasHi {
		return true
	}
	c := compareKeys(m.kind, k, m.hi)
	return c < 0 || (c == 0 && m.hiIncl)
}

// mayOverlap reports whether some non-null value in [min, max] can match
// (hasMin false: no lower bound known).
func (m *matcher) mayOverlap(min key, hasMin bool, max key) bool {
	switch m.op {
	case opIsNull:
		return false
	case opEqual:
		return (!hasMin || compareKeys(m.kind, min, m.v) <= 0) && compareKeys(m.kind, m.v, max) <= 0
	}
	return m.aboveLo(max) && (!hasMin || m.belowHi(min))
}

// LookupStats says how a Lookup found its rows.
type LookupStats struct {
	// Indices names the indices used (empty: none).
	Indices []string
	// IndexedFragments were answered from an index, ScannedFragments by
	// reading the column (fragments no usable index covers, e.g. appended
	// after the index was built).
	IndexedFragments, ScannedFragments int
}

// Lookup returns the rows (all columns) whose top-level column satisfies c,
// in dataset order. Fragments covered by a Bitmap or BTree index on the
// column (built by CreateScalarIndex or by pylance) are answered from the
// index; the others are scanned. Deleted rows never match. Every buffer of
// the returned records comes from alloc; the caller releases them.
func (d *Dataset) Lookup(column string, c Cond, alloc memory.Allocator) ([]arrow.Record, LookupStats, error) {
	var st LookupStats
	if alloc == nil {
		alloc = memory.DefaultAllocator
	}
	col, fld, err := d.topLevelColumn(column)
	if err != nil {
		return nil, st, err
	}
	dt := d.schema.Field(col).Type
	kind, ok := keyKindOf(dt)
	if dt.ID() == arrow.NULL { // every value is null: is_null takes every row, a value none
		kind, ok = kindNull, true
	}
	if !ok {
		return nil, st, fmt.Errorf("%w: lookups on column %q of type %s", ErrUnsupported, column, dt)
	}
	m, err := compileCond(kind, c)
	if err != nil {
		return nil, st, fmt.Errorf("lance: column %q: %w", column, err)
	}

	// Assign each fragment to the first usable index segment covering it.
	fragIdx := make(map[uint64]int, len(d.manifest.Fragments))
	for i, f := range d.manifest.Fragments {
		fragIdx[f.ID] = i
	}
	hits := make([]*roaring.Bitmap, len(d.manifest.Fragments)) // physical offsets per fragment
	indexed := make([]bool, len(d.manifest.Fragments))
	ims, err := d.indexMetas()
	if err != nil {
		return nil, st, err
	}
	for _, im := range ims {
		if !d.usableIndex(&im, fld.ID) {
			continue
		}
		var mine []int
		for _, id := range im.FragmentIDs {
			if i, ok := fragIdx[uint64(id)]; ok && !indexed[i] {
				mine = append(mine, i)
			}
		}
		if len(mine) == 0 {
			continue
		}
		set, ok, err := d.queryIndex(&im, dt, m)
		if err != nil {
			return nil, st, fmt.Errorf("lance: index %s (%s): %w", im.Name, im.UUID, err)
		}
		if !ok {
			continue // not a layout this reader understands: scan instead
		}
		for _, i := range mine {
			indexed[i] = true
			id := uint32(d.manifest.Fragments[i].ID)
			bm, found := set[id]
			switch {
			case !found:
				hits[i] = roaring.New()
			case bm == nil: // the whole fragment
				hits[i] = roaring.New()
				hits[i].AddRange(0, uint64(d.physRows[i]))
			default:
				if !bm.IsEmpty() && int64(bm.Maximum()) >= d.physRows[i] {
					return nil, st, corruptf("index %s: row %d of fragment %d is past its %d rows", im.Name, bm.Maximum(), id, d.physRows[i])
				}
				hits[i] = bm
			}
		}
		st.Indices = append(st.Indices, im.Name)
	}

	var out []arrow.Record
	release := func() {
		for _, r := range out {
			r.Release()
		}
	}
	for i := range d.manifest.Fragments {
		var offs []uint32
		if indexed[i] {
			st.IndexedFragments++
			dv, err := d.deletions(i)
			if err != nil {
				release()
				return nil, st, err
			}
			if len(dv) > 0 {
				hits[i].AndNot(roaring.BitmapOf(dv...))
			}
			offs = hits[i].ToArray()
		} else {
			st.ScannedFragments++
			err := d.forEachLive(col, []int{i}, func(_ int, off uint32, arr arrow.Array, j int) error {
				k, valid := m.keyAt(arr, j)
				if m.match(k, valid) {
					offs = append(offs, off)
				}
				return nil
			})
			if err != nil {
				release()
				return nil, st, err
			}
		}
		recs, err := d.takeOffsets(i, offs, alloc)
		if err != nil {
			release()
			return nil, st, err
		}
		out = append(out, recs...)
	}
	return out, st, nil
}

func (m *matcher) keyAt(arr arrow.Array, j int) (key, bool) {
	if m.kind == kindNull {
		return key{}, false
	}
	kr := keyReader{kind: m.kind, dt: arr.DataType()}
	if fw, ok := arr.DataType().(arrow.FixedWidthDataType); ok && m.kind != kindBool {
		kr.width = fw.BitWidth() / 8
	}
	return kr.at(arr, j)
}

// usableIndex reports whether Lookup can answer from index segment im on
// field id.
func (d *Dataset) usableIndex(im *indexMeta, id int32) bool {
	return len(im.FieldIDs) == 1 && im.FieldIDs[0] == id &&
		(im.TypeURL != "" && (im.Type == "Bitmap" || im.Type == "BTree")) &&
		im.fragments != nil && !im.baseID && !im.covering &&
		// With stable row ids an index holds row ids, not addresses.
		d.manifest.ReaderFlags&FlagStableRowIDs == 0 &&
		// A fragment reuse index would have to translate the addresses an
		// index holds for rewritten fragments; scan instead.
		d.manifest.ReaderFlags&FlagFragmentReuseIndex == 0
}

// queryIndex returns the row addresses the index segment holds for m (ok
// false: the files are not in a layout this reader understands).
func (d *Dataset) queryIndex(im *indexMeta, dt arrow.DataType, m *matcher) (rowAddrSet, bool, error) {
	dir := joinPath(d.root, indicesDir, im.UUID)
	if im.Type == "Bitmap" {
		return queryBitmapIndex(dir, dt, m)
	}
	return queryBTreeIndex(dir, dt, m)
}

// openIndexFile opens one file of an index and returns it with its Arrow
// schema (ok false if it is missing, or a Lance v1 file, as older pylance
// releases (0.20, for one) wrote their indices' files: Lookup scans instead).
func openIndexFile(dir, name string) (*file.Reader, *arrow.Schema, map[string][]byte, bool, error) {
	r, err := file.Open(joinPath(dir, name))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, file.ErrLegacyFile) {
			return nil, nil, nil, false, nil
		}
		return nil, nil, nil, false, err
	}
	fields, md, err := r.SchemaWithMetadata()
	if err == nil {
		var sch *arrow.Schema
		if sch, err = schema.ToArrow(fields); err == nil {
			return r, sch, md, true, nil
		}
	}
	r.Close()
	return nil, nil, nil, false, fmt.Errorf("%s: %w", name, err)
}

func queryBitmapIndex(dir string, dt arrow.DataType, m *matcher) (rowAddrSet, bool, error) {
	r, sch, _, ok, err := openIndexFile(dir, bitmapLookupFile)
	if !ok || err != nil {
		return nil, false, err
	}
	defer r.Close()
	if sch.NumFields() != 2 || !arrow.TypeEqual(sch.Field(0).Type, dt) ||
		!arrow.TypeEqual(sch.Field(1).Type, arrow.BinaryTypes.Binary) {
		return nil, false, nil
	}
	n := r.NumRows()
	keys, err := r.Read(arrow.NewSchema([]arrow.Field{sch.Field(0)}, nil), []int{0}, 0, n, memory.DefaultAllocator)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", bitmapLookupFile, err)
	}
	defer keys.Release()
	var rows []int64
	for j := 0; j < int(n); j++ {
		k, valid := m.keyAt(keys.Column(0), j)
		if m.match(k, valid) {
			rows = append(rows, int64(j))
		}
	}
	out := rowAddrSet{}
	bsch := arrow.NewSchema([]arrow.Field{sch.Field(1)}, nil)
	for len(rows) > 0 {
		// Read runs of consecutive matching keys at once.
		run := 1
		for run < len(rows) && rows[run] == rows[0]+int64(run) {
			run++
		}
		rec, err := r.Read(bsch, []int{1}, rows[0], int64(run), memory.DefaultAllocator)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", bitmapLookupFile, err)
		}
		bins := rec.Column(0).(*array.Binary)
		for j := 0; j < run; j++ {
			s, err := deserializeRowAddrSet(bins.Value(j))
			if err != nil {
				rec.Release()
				return nil, false, corruptf("%s row %d: %v", bitmapLookupFile, rows[0]+int64(j), err)
			}
			out.union(s)
		}
		rec.Release()
		rows = rows[run:]
	}
	return out, true, nil
}

// union adds s to the set (a nil bitmap is the whole fragment).
func (set rowAddrSet) union(s rowAddrSet) {
	for id, bm := range s {
		cur, ok := set[id]
		switch {
		case ok && cur == nil:
		case bm == nil:
			set[id] = nil
		case !ok:
			set[id] = bm
		default:
			cur.Or(bm)
		}
	}
}

func queryBTreeIndex(dir string, dt arrow.DataType, m *matcher) (rowAddrSet, bool, error) {
	lr, lsch, md, ok, err := openIndexFile(dir, btreeLookupFile)
	if !ok || err != nil {
		return nil, false, err
	}
	defer lr.Close()
	if string(md["range_partitioned"]) == "true" || lsch.NumFields() < 4 ||
		!arrow.TypeEqual(lsch.Field(0).Type, dt) || !arrow.TypeEqual(lsch.Field(1).Type, dt) {
		return nil, false, nil
	}
	batch := int64(btreeBatchSize)
	if s, ok := md["batch_size"]; ok {
		b, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil || b <= 0 {
			return nil, false, corruptf("%s: batch_size %q", btreeLookupFile, s)
		}
		batch = b
	}
	lookup, err := lr.Read(arrow.NewSchema(lsch.Fields()[:4], nil), []int{0, 1, 2, 3}, 0, lr.NumRows(), memory.DefaultAllocator)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", btreeLookupFile, err)
	}
	defer lookup.Release()
	nulls, ok1 := lookup.Column(2).(*array.Uint32)
	pageIdx, ok2 := lookup.Column(3).(*array.Uint32)
	if !ok1 || !ok2 {
		return nil, false, nil
	}

	dr, dsch, _, ok, err := openIndexFile(dir, btreeDataFile)
	if err != nil {
		return nil, false, err
	}
	if !ok {
		return nil, false, corruptf("%s missing", btreeDataFile)
	}
	defer dr.Close()
	if dsch.NumFields() < 2 || !arrow.TypeEqual(dsch.Field(0).Type, dt) ||
		!arrow.TypeEqual(dsch.Field(1).Type, arrow.PrimitiveTypes.Uint64) {
		return nil, false, nil
	}
	out := rowAddrSet{}
	total := dr.NumRows()
	for p := 0; p < int(lookup.NumRows()); p++ {
		min, hasMin := m.keyAt(lookup.Column(0), p)
		max, hasMax := m.keyAt(lookup.Column(1), p)
		want := false
		if m.op == opIsNull {
			want = nulls.Value(p) > 0
		} else {
			want = hasMax && m.mayOverlap(min, hasMin, max)
		}
		if !want {
			continue
		}
		off := int64(pageIdx.Value(p)) * batch
		if off >= total {
			return nil, false, corruptf("%s: page %d starts past the %d rows of %s", btreeLookupFile, pageIdx.Value(p), total, btreeDataFile)
		}
		rec, err := dr.Read(arrow.NewSchema(dsch.Fields()[:2], nil), []int{0, 1}, off, min64(batch, total-off), memory.DefaultAllocator)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", btreeDataFile, err)
		}
		ids := rec.Column(1).(*array.Uint64)
		for j := 0; j < int(rec.NumRows()); j++ {
			k, valid := m.keyAt(rec.Column(0), j)
			if m.match(k, valid) {
				id := ids.Value(j)
				out.add(uint32(id>>32), uint32(id))
			}
		}
		rec.Release()
	}
	return out, true, nil
}

func min64(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}

// takeOffsets reads the rows at the sorted physical offsets of fragment i.
// Nearby offsets are read as one span and the rows between them dropped.
func (d *Dataset) takeOffsets(i int, offs []uint32, alloc memory.Allocator) ([]arrow.Record, error) {
	const maxGap = 64
	var out []arrow.Record
	for len(offs) > 0 {
		end := 1
		for end < len(offs) && offs[end]-offs[end-1] <= maxGap {
			end++
		}
		span := offs[:end]
		offs = offs[end:]
		lo, hi := int64(span[0]), int64(span[len(span)-1])+1
		rec, err := d.readPhysical(i, lo, hi-lo, alloc, true)
		if err != nil {
			for _, r := range out {
				r.Release()
			}
			return nil, err
		}
		if int64(len(span)) == hi-lo {
			out = append(out, rec)
			continue
		}
		var runs [][2]int64
		for _, o := range span {
			p := int64(o) - lo
			if len(runs) > 0 && runs[len(runs)-1][1] == p {
				runs[len(runs)-1][1]++
			} else {
				runs = append(runs, [2]int64{p, p + 1})
			}
		}
		taken, err := takeRuns(rec, runs, int64(len(span)), alloc)
		rec.Release()
		if err != nil {
			for _, r := range out {
				r.Release()
			}
			return nil, err
		}
		out = append(out, taken)
	}
	return out, nil
}
