package lance

import (
	"fmt"
	"sort"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/file"
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
	var out []arrow.Record
	release := func() {
		for _, r := range out {
			r.Release()
		}
	}
	for i := first; i < len(d.rowEnds); i++ {
		start := int64(0)
		if i > 0 {
			start = d.rowEnds[i-1]
		}
		if start >= end {
			break
		}
		if i >= d.firstUncounted {
			release()
			return nil, fmt.Errorf("%w: fragment %d has a deletion file without a row count (deletion files not supported yet)",
				ErrUnsupported, d.manifest.Fragments[d.firstUncounted].ID)
		}
		lo := max(offset, start) - start
		hi := min(end, d.rowEnds[i]) - start
		if hi <= lo {
			continue
		}
		rec, err := d.readFragment(&d.manifest.Fragments[i], lo, hi-lo, alloc)
		if err != nil {
			release()
			return nil, err
		}
		if rec != nil {
			out = append(out, rec)
		}
	}
	return out, nil
}

// readFragment reads limit rows from the fragment starting at row offset.
func (d *Dataset) readFragment(f *Fragment, offset, limit int64, alloc memory.Allocator) (arrow.Record, error) {
	if f.DeletionFile != nil {
		return nil, fmt.Errorf("%w: fragment %d has a deletion file (deletion files not supported yet)", ErrUnsupported, f.ID)
	}
	if len(f.Files) != 1 {
		return nil, fmt.Errorf("%w: fragment %d has %d data files (only single-file fragments are supported yet)",
			ErrUnsupported, f.ID, len(f.Files))
	}
	df := &f.Files[0]
	columns, err := d.fileColumns(f.ID, df)
	if err != nil {
		return nil, err
	}
	p, err := d.dataFilePath(df)
	if err != nil {
		return nil, err
	}
	r, err := file.Open(p)
	if err != nil {
		return nil, fmt.Errorf("lance: fragment %d: %w", f.ID, err)
	}
	defer r.Close()
	if n := r.NumRows(); f.PhysicalRows != 0 && n != int64(f.PhysicalRows) {
		return nil, fmt.Errorf("lance: fragment %d: data file %s has %d rows, manifest says %d", f.ID, df.Path, n, f.PhysicalRows)
	}
	rec, err := r.Read(d.schema, columns, offset, limit, alloc)
	if err != nil {
		return nil, fmt.Errorf("lance: fragment %d (%s): %w", f.ID, df.Path, err)
	}
	return rec, nil
}

// fileColumns maps each top-level field of the schema to the column of the
// data file that stores it, refusing files that lack a field (schema
// evolution is not supported yet).
func (d *Dataset) fileColumns(fragID uint64, df *DataFile) ([]int, error) {
	col := make(map[int32]int, len(df.Fields))
	for k, id := range df.Fields {
		if id < 0 {
			continue // tombstoned field
		}
		c := k
		if len(df.ColumnIndices) > 0 {
			c = int(df.ColumnIndices[k])
		}
		col[id] = c
	}
	var out []int
	for _, f := range d.fields {
		if f.ParentID != -1 {
			continue
		}
		c, ok := col[f.ID]
		if !ok || c < 0 {
			return nil, fmt.Errorf("%w: fragment %d: data file %s has no column for field %q (schema evolution not supported yet)",
				ErrUnsupported, fragID, df.Path, f.Name)
		}
		out = append(out, c)
	}
	return out, nil
}
