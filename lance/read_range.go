package lance

import (
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/file"
	"github.com/persisting/persisting/lance/schema"
)

// Read returns the rows [offset, offset+limit) of the dataset in dataset
// order (fragments in manifest order, rows in file order). limit < 0 reads
// to the end; an offset at or past the end returns no records. Only the
// fragments overlapping the range are opened (binary search over the
// prefix sums of fragment row counts), and file.Reader reads only the pages
// it needs. Every buffer of the returned records comes from alloc; the
// caller releases the records.
func (d *Dataset) Read(offset, limit int64, alloc memory.Allocator) ([]arrow.Record, error) {
	if offset < 0 {
		return nil, fmt.Errorf("lance: negative offset %d", offset)
	}
	if alloc == nil {
		alloc = memory.DefaultAllocator
	}
	total := d.CountRows()
	if offset >= total || limit == 0 {
		return nil, nil
	}
	end := total
	if limit > 0 && limit < total-offset {
		end = offset + limit
	}
	// First fragment whose rows extend past offset.
	first := sort.Search(len(d.rowEnds), func(i int) bool { return d.rowEnds[i] > offset })
	type fragRange struct {
		i     int
		lo, n int64
	}
	var todo []fragRange
	for i := first; i < len(d.rowEnds); i++ {
		start := int64(0)
		if i > 0 {
			start = d.rowEnds[i-1]
		}
		if start >= end {
			break
		}
		lo := max(offset, start) - start
		hi := min(end, d.rowEnds[i]) - start
		if hi > lo {
			todo = append(todo, fragRange{i, lo, hi - lo})
		}
	}
	// fragments are read by up to GOMAXPROCS workers, so one's I/O and
	// decoding overlap another's; results keep fragment order
	recs := make([][]arrow.Record, len(todo))
	errs := make([]error, len(todo))
	var next atomic.Int64
	var failed atomic.Bool
	work := func() {
		for !failed.Load() {
			k := int(next.Add(1) - 1)
			if k >= len(todo) {
				return
			}
			t := todo[k]
			func() {
				// a panic on a helper goroutine would end the process; the
				// caller's recover (capi) cannot see it
				defer func() {
					if p := recover(); p != nil {
						errs[k] = fmt.Errorf("lance: fragment %d: internal error: %v", d.manifest.Fragments[t.i].ID, p)
					}
				}()
				recs[k], errs[k] = d.readFragmentParts(t.i, t.lo, t.n, alloc, true)
			}()
			if errs[k] != nil {
				failed.Store(true)
			}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(todo))
	if file.SmallRead(end-offset, d.schema.NumFields()) {
		workers = 1 // a few rows: helpers cost more than they save (file.SmallRead)
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
	out := make([]arrow.Record, 0, len(recs))
	var err error
	for k, r := range recs {
		if err == nil && errs[k] != nil {
			err = errs[k]
		}
		out = append(out, r...)
	}
	if err != nil {
		for _, r := range out {
			r.Release()
		}
		return nil, err
	}
	return out, nil
}

// readFragment reads the live rows [lo, lo+n) of fragment i: it maps them to
// the physical range that holds them, reads that range once and, if deleted
// rows fall inside it, keeps only the runs of live rows. cached: as for
// readFileColumns.
func (d *Dataset) readFragment(i int, lo, n int64, alloc memory.Allocator, cached bool) (arrow.Record, error) {
	dv, err := d.deletions(i)
	if err != nil {
		return nil, err
	}
	if len(dv) == 0 {
		return d.readPhysical(i, lo, n, alloc, cached)
	}
	pStart := liveToPhysical(dv, lo)
	pEnd := liveToPhysical(dv, lo+n-1) + 1
	a := sort.Search(len(dv), func(j int) bool { return int64(dv[j]) >= pStart })
	b := sort.Search(len(dv), func(j int) bool { return int64(dv[j]) >= pEnd })
	inner := dv[a:b]
	if len(inner) == 0 {
		return d.readPhysical(i, pStart, n, alloc, cached)
	}
	rec, err := d.readPhysical(i, pStart, pEnd-pStart, alloc, cached)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	runs := make([][2]int64, 0, len(inner)+1)
	from := pStart
	for _, del := range inner {
		if int64(del) > from {
			runs = append(runs, [2]int64{from - pStart, int64(del) - pStart})
		}
		from = int64(del) + 1
	}
	if from < pEnd {
		runs = append(runs, [2]int64{from - pStart, pEnd - pStart})
	}
	return takeRuns(rec, runs, n, alloc)
}

// readFragmentParts is readFragment in as many records as the values need:
// rows whose string, binary or list values pass what the 32-bit offsets of
// one Arrow array address (2 GiB of 1 MB strings in one fragment) are read
// in halves, and so on.
func (d *Dataset) readFragmentParts(i int, lo, n int64, alloc memory.Allocator, cached bool) ([]arrow.Record, error) {
	rec, err := d.readFragment(i, lo, n, alloc, cached)
	if err == nil {
		return []arrow.Record{rec}, nil
	}
	if !errors.Is(err, file.ErrOffsetsOverflow) || n < 2 {
		return nil, err
	}
	first, err := d.readFragmentParts(i, lo, n/2, alloc, cached)
	if err != nil {
		return nil, err
	}
	rest, err := d.readFragmentParts(i, lo+n/2, n-n/2, alloc, cached)
	if err != nil {
		for _, r := range first {
			r.Release()
		}
		return nil, err
	}
	return append(first, rest...), nil
}

// takeRuns returns the rows of rec in the given [from, to) runs, in order,
// as a new record whose buffers come from alloc.
func takeRuns(rec arrow.Record, runs [][2]int64, n int64, alloc memory.Allocator) (arrow.Record, error) {
	cols := make([]arrow.Array, 0, rec.NumCols())
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	parts := make([]arrow.Array, len(runs))
	for c := 0; c < int(rec.NumCols()); c++ {
		for k, r := range runs {
			parts[k] = array.NewSlice(rec.Column(c), r[0], r[1])
		}
		col, err := array.Concatenate(parts, alloc)
		for _, p := range parts {
			p.Release()
		}
		if err != nil {
			return nil, fmt.Errorf("lance: drop deleted rows: %w", err)
		}
		cols = append(cols, col)
	}
	return array.NewRecord(rec.Schema(), cols, n), nil
}

// columnSource says where a fragment stores one top-level field: data file
// file, column col; file < 0 when no data file of the fragment has it.
// file is splitFile for a nested field read in parts (read_split.go).
type columnSource struct {
	file, col int
	parts     []splitPart
}

// fragmentColumns maps each top-level field of the schema to the data file
// and column holding it. Later data files take precedence (Lance tombstones
// superseded fields with id -2 anyway). A field no data file mentions is
// missing (added after the fragment was written) and reads as nulls.
//
// Files of version 2.0 list every field id, nested ones included, and a
// top-level field maps to its own column. Files of version 2.1+ list only
// leaf fields (a struct's or list's own id is absent, a list's item is
// present): a nested field then maps to the column of its first leaf
// descendant, its other leaves following in pre-order, which is what
// lance/file's Read expects for nested types.
func (d *Dataset) fragmentColumns(f *Fragment) ([]columnSource, error) {
	where := map[int32]columnSource{}
	mentioned := map[int32]bool{} // top-level fields with some id in a file
	for fi := range f.Files {
		df := &f.Files[fi]
		if len(df.ColumnIndices) > 0 && len(df.ColumnIndices) != len(df.Fields) {
			return nil, corruptf("fragment %d: data file %s lists %d fields but %d column indices",
				f.ID, df.Path, len(df.Fields), len(df.ColumnIndices))
		}
		for k, id := range df.Fields {
			if id < 0 {
				continue // tombstoned field
			}
			c := k
			if len(df.ColumnIndices) > 0 {
				c = int(df.ColumnIndices[k])
			}
			where[id] = columnSource{file: fi, col: c}
			if top, ok := d.topOf[id]; ok {
				mentioned[top] = true
			}
		}
	}
	out := make([]columnSource, 0, d.schema.NumFields())
	for _, fld := range d.fields {
		if fld.ParentID != -1 {
			continue
		}
		src, ok := where[fld.ID]
		if !ok && mentioned[fld.ID] {
			var err error
			if src, err = d.leafSource(f, fld, where); err != nil {
				split, fits := d.splitSource(f, fld, d.schema.Field(len(out)), where)
				if !fits {
					return nil, err
				}
				out = append(out, split)
				continue
			}
			ok = true
		}
		switch {
		case ok && src.col >= 0:
			if split, yes := d.legacySplit(f, fld, d.schema.Field(len(out)), src, where); yes {
				src = split
			}
			out = append(out, src)
		case mentioned[fld.ID]:
			return nil, fmt.Errorf("%w: fragment %d stores field %q without a column of its own",
				ErrUnsupported, f.ID, fld.Name)
		case !fld.Nullable:
			return nil, corruptf("fragment %d has no data for the non-nullable field %q", f.ID, fld.Name)
		default:
			out = append(out, columnSource{file: -1, col: -1})
		}
	}
	return out, nil
}

// leafSource locates a nested field stored only through its leaves: all of
// them must be in one data file, in consecutive columns, pre-order.
func (d *Dataset) leafSource(f *Fragment, fld schema.Field, where map[int32]columnSource) (columnSource, error) {
	leaves := d.leaves[fld.ID]
	if len(leaves) == 0 {
		return columnSource{}, corruptf("field %q has no leaves", fld.Name)
	}
	first, ok := where[leaves[0]]
	for k, id := range leaves {
		src, found := where[id]
		if !ok || !found || src.file != first.file || src.col != first.col+k || first.col < 0 {
			// pylance's drop_columns of a field inside fld leaves its column
			// between the others in the data file; alter_columns retyping
			// one moves it into a data file of its own.
			return columnSource{}, fmt.Errorf("%w: fragment %d stores the leaves of field %q in columns this reader cannot assemble "+
				"(leaf %d of %d, %q, is not in the column after the one before it: a field inside %q that pylance's "+
				"drop_columns removed, or alter_columns retyped, split its columns; pylance's compact_files rewrites "+
				"such fragments whole)", ErrUnsupported, f.ID, fld.Name, k, len(leaves), d.fieldPath(id), fld.Name)
		}
	}
	return first, nil
}

// fieldPath is the dotted path of field id ("st.c"; a list's item "l.item").
func (d *Dataset) fieldPath(id int32) string {
	byID := make(map[int32]*schema.Field, len(d.fields))
	for i := range d.fields {
		byID[d.fields[i].ID] = &d.fields[i]
	}
	var parts []string
	for f := byID[id]; f != nil && len(parts) <= 64; f = byID[f.ParentID] {
		parts = append([]string{f.Name}, parts...)
		if f.ParentID == -1 {
			break
		}
	}
	return strings.Join(parts, ".")
}

// readPhysical reads physical rows [offset, offset+limit) of fragment i,
// every column of the schema, from the data files that hold them; columns
// the fragment lacks are all-null arrays. cached: as for readFileColumns.
func (d *Dataset) readPhysical(i int, offset, limit int64, alloc memory.Allocator, cached bool) (arrow.Record, error) {
	f := &d.manifest.Fragments[i]
	srcs, err := d.fragmentColumns(f)
	if err != nil {
		return nil, err
	}
	cols := make([]arrow.Array, len(srcs))
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for fi := range f.Files {
		var idx []int // schema positions this file provides
		for k, s := range srcs {
			if s.file == fi {
				idx = append(idx, k)
			}
		}
		if len(idx) == 0 {
			continue
		}
		if err := d.readFileColumns(f, fi, d.physRows[i], srcs, idx, cols, offset, limit, alloc, cached); err != nil {
			return nil, err
		}
	}
	for k, s := range srcs {
		switch {
		case s.file == splitFile:
			if cols[k], err = d.readSplit(f, d.physRows[i], s, d.schema.Field(k), offset, limit, alloc, cached); err != nil {
				return nil, err
			}
		case s.file < 0:
			cols[k] = NullArray(alloc, d.schema.Field(k).Type, int(limit))
		}
	}
	return array.NewRecord(d.schema, cols, limit), nil
}

// readFileColumns reads the schema positions idx of fragment f from its data
// file fi into cols; cached says whether the file's reader comes from (and
// stays in) the reader cache (reader_cache.go).
func (d *Dataset) readFileColumns(f *Fragment, fi int, physRows int64, srcs []columnSource, idx []int, cols []arrow.Array,
	offset, limit int64, alloc memory.Allocator, cached bool) (err error) {
	if fi == splitFile {
		for _, k := range idx {
			if cols[k], err = d.readSplit(f, physRows, srcs[k], d.schema.Field(k), offset, limit, alloc, cached); err != nil {
				return err
			}
		}
		return nil
	}
	df := &f.Files[fi]
	p, err := d.dataFilePath(df)
	if err != nil {
		return err
	}
	r, done, err := openDataFile(p, df.FileSizeBytes, cached)
	if err != nil {
		return fmt.Errorf("lance: fragment %d: %w", f.ID, err)
	}
	defer func() { done(err) }()
	if n := r.NumRows(); n != physRows {
		return corruptf("fragment %d: data file %s has %d rows, the fragment %d", f.ID, df.Path, n, physRows)
	}
	fields := make([]arrow.Field, len(idx))
	columns := make([]int, len(idx))
	for j, k := range idx {
		fields[j] = d.schema.Field(k)
		columns[j] = srcs[k].col
	}
	rec, err := r.Read(arrow.NewSchema(fields, nil), columns, offset, limit, alloc)
	if err != nil {
		return fmt.Errorf("lance: fragment %d (%s): %w", f.ID, df.Path, err)
	}
	defer rec.Release()
	for j, k := range idx {
		c := rec.Column(j)
		c.Retain()
		cols[k] = c
	}
	return nil
}
