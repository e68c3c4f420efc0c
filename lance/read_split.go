package lance

import (
	"fmt"
	"slices"
	"sort"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/file"
	"github.com/persisting/persisting/lance/schema"
)

// A nested field of a 2.1+ fragment is split when its leaves are not
// consecutive columns of one data file: pylance's drop_columns of a field
// inside a struct leaves the dropped leaf's column between the others, and
// alter_columns retyping one writes the new leaf to a data file of its own
// (tombstoning the old). Such a field is read as parts, one per data file
// holding some of its leaves - each the field's type cut down to those
// leaves, read from their columns wherever they are - and the parts are
// joined: list offsets and validity from the part of the first of those
// files (every leaf column carries the levels of all its ancestors), a
// struct valid where any part has it valid (pylance's merge_insert from a
// source with some of a struct's children writes them to a new data file;
// a struct null there or in the old file keeps the other's children), each
// leaf from the part that holds it, and a leaf no data file holds as
// nulls - as pylance reads them.

// splitFile marks a columnSource whose field is read in parts.
const splitFile = -2

// splitPart is the part of a split field one data file holds.
type splitPart struct {
	file int
	fld  arrow.Field // the field's type with only this file's leaves
	cols []int       // their file columns, pre-order
	// legacy: a 2.0 struct's child, alone in fld's struct, read from
	// column cols[0] (legacySplit)
	legacy bool
}

// splitSource plans the parts of the nested top-level field fld (arrow
// type af) of fragment f, whose leaves where locates.
func (d *Dataset) splitSource(f *Fragment, fld schema.Field, af arrow.Field, where map[int32]columnSource) (columnSource, bool) {
	leaves := d.leaves[fld.ID]
	if len(leaves) != splitLeafCount(af.Type) {
		return columnSource{}, false // maps, dictionaries, and shapes whose leaves do not line up
	}
	var files []int
	fileOf := make([]int, len(leaves))
	for k, id := range leaves {
		fileOf[k] = -1
		if src, ok := where[id]; ok && src.col >= 0 {
			fileOf[k] = src.file
			if df := &f.Files[src.file]; df.MajorVersion < 2 || df.MajorVersion == 2 && df.MinorVersion < 1 {
				return columnSource{}, false // 2.0 files store a struct's own column
			}
			if !slices.Contains(files, src.file) {
				files = append(files, src.file)
			}
		}
	}
	sort.Ints(files) // lists' offsets and validity: from the first file

	out := columnSource{file: splitFile, col: -1}
	for _, fi := range files {
		pos := 0
		t, ok := splitProject(af.Type, &pos, func(k int) bool { return fileOf[k] == fi })
		if !ok {
			continue
		}
		part := splitPart{file: fi, fld: arrow.Field{Name: af.Name, Type: t, Nullable: af.Nullable}}
		for k, id := range leaves {
			if fileOf[k] == fi {
				part.cols = append(part.cols, where[id].col)
			}
		}
		out.parts = append(out.parts, part)
	}
	return out, len(out.parts) > 0
}

// splitLeafCount counts the leaves of dt as Lance's field tree has them
// (a fixed-size list's item is its leaf); -1 for what parts cannot hold.
func splitLeafCount(dt arrow.DataType) int {
	switch t := dt.(type) {
	case *arrow.StructType:
		n := 0
		for _, f := range t.Fields() {
			c := splitLeafCount(f.Type)
			if c < 0 {
				return -1
			}
			n += c
		}
		return n
	case *arrow.ListType:
		return splitLeafCount(t.Elem())
	case *arrow.LargeListType:
		return splitLeafCount(t.Elem())
	case *arrow.MapType, *arrow.DictionaryType:
		return -1
	case *arrow.FixedSizeListType:
		if t.Elem().ID() == arrow.STRUCT || isNestedList(t.Elem()) {
			return -1
		}
	}
	return 1
}

func isNestedList(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.LIST, arrow.LARGE_LIST, arrow.FIXED_SIZE_LIST, arrow.MAP:
		return true
	}
	return false
}

// splitProject is dt with only the leaves keep accepts (leaves numbered in
// pre-order from *pos); false when it keeps none.
func splitProject(dt arrow.DataType, pos *int, keep func(int) bool) (arrow.DataType, bool) {
	switch t := dt.(type) {
	case *arrow.StructType:
		var fs []arrow.Field
		for _, f := range t.Fields() {
			if ct, ok := splitProject(f.Type, pos, keep); ok {
				fs = append(fs, arrow.Field{Name: f.Name, Type: ct, Nullable: f.Nullable, Metadata: f.Metadata})
			}
		}
		return arrow.StructOf(fs...), len(fs) > 0
	case *arrow.ListType:
		e := t.ElemField()
		ct, ok := splitProject(e.Type, pos, keep)
		return arrow.ListOfField(arrow.Field{Name: e.Name, Type: ct, Nullable: e.Nullable, Metadata: e.Metadata}), ok
	case *arrow.LargeListType:
		e := t.ElemField()
		ct, ok := splitProject(e.Type, pos, keep)
		return arrow.LargeListOfField(arrow.Field{Name: e.Name, Type: ct, Nullable: e.Nullable, Metadata: e.Metadata}), ok
	}
	k := *pos
	*pos++
	return dt, keep(k)
}

// readSplit reads physical rows [offset, offset+limit) of the split field
// af of fragment f from its parts and joins them.
func (d *Dataset) readSplit(f *Fragment, physRows int64, src columnSource, af arrow.Field,
	offset, limit int64, alloc memory.Allocator, cached bool) (out arrow.Array, err error) {
	parts := make([]arrow.Array, 0, len(src.parts))
	defer func() {
		for _, p := range parts {
			p.Release()
		}
	}()
	for _, part := range src.parts {
		a, err := d.readPart(f, physRows, part, offset, limit, alloc, cached)
		if err != nil {
			return nil, err
		}
		parts = append(parts, a)
	}
	datas := make([]arrow.ArrayData, len(parts))
	for k, p := range parts {
		datas[k] = p.Data()
	}
	joined, err := joinParts(af.Type, datas, int(limit), alloc)
	if err != nil {
		return nil, fmt.Errorf("lance: fragment %d, field %q: %w", f.ID, af.Name, err)
	}
	defer joined.Release()
	return array.MakeFromData(joined), nil
}

func (d *Dataset) readPart(f *Fragment, physRows int64, part splitPart, offset, limit int64, alloc memory.Allocator, cached bool) (a arrow.Array, err error) {
	df := &f.Files[part.file]
	p, err := d.dataFilePath(df)
	if err != nil {
		return nil, err
	}
	r, done, err := openDataFile(p, df.FileSizeBytes, cached)
	if err != nil {
		return nil, fmt.Errorf("lance: fragment %d: %w", f.ID, err)
	}
	defer func() { done(err) }()
	if n := r.NumRows(); n != physRows {
		return nil, corruptf("fragment %d: data file %s has %d rows, the fragment %d", f.ID, df.Path, n, physRows)
	}
	if a, err = readPartFrom(r, part, offset, limit, alloc); err != nil {
		return nil, fmt.Errorf("lance: fragment %d (%s): %w", f.ID, df.Path, err)
	}
	return a, nil
}

// readPartFrom reads part from r, its data file.
func readPartFrom(r *file.Reader, part splitPart, offset, limit int64, alloc memory.Allocator) (arrow.Array, error) {
	if part.legacy {
		return readLegacyChild(r, part, offset, limit, alloc)
	}
	return r.ReadLeaves(part.fld, part.cols, offset, limit, alloc)
}

// joinParts joins parts (each of a type splitProject cut from dt, all of
// n slots) into data of type dt.
func joinParts(dt arrow.DataType, parts []arrow.ArrayData, n int, alloc memory.Allocator) (arrow.ArrayData, error) {
	if len(parts) == 0 {
		a := NullArray(alloc, dt, n)
		defer a.Release()
		a.Data().Retain()
		return a.Data(), nil
	}
	first := parts[0]
	if first.Len() != n {
		return nil, fmt.Errorf("a part of %d slots where %d were read", first.Len(), n)
	}
	child := func(p arrow.ArrayData, name string) arrow.ArrayData {
		nt, ok := p.DataType().(arrow.NestedType)
		if !ok {
			return nil
		}
		for k, f := range nt.Fields() {
			if f.Name == name && k < len(p.Children()) {
				return p.Children()[k]
			}
		}
		return nil
	}
	var kids []arrow.ArrayData
	defer func() {
		for _, k := range kids {
			k.Release()
		}
	}()
	switch t := dt.(type) {
	case *arrow.StructType, *arrow.ListType, *arrow.LargeListType:
		nt := t.(arrow.NestedType)
		for _, f := range nt.Fields() {
			var sub []arrow.ArrayData
			for _, p := range parts {
				if c := child(p, f.Name); c != nil {
					sub = append(sub, c)
				}
			}
			m := n
			if dt.ID() != arrow.STRUCT {
				m = first.Children()[0].Len() // the items
			}
			if len(sub) > 0 {
				m = sub[0].Len()
			}
			k, err := joinParts(f.Type, sub, m, alloc)
			if err != nil {
				return nil, err
			}
			kids = append(kids, k)
		}
		if dt.ID() == arrow.STRUCT && len(parts) > 1 {
			validity, nulls := unionValidity(parts, n, alloc)
			if validity != nil {
				defer validity.Release()
			}
			return array.NewData(dt, n, []*memory.Buffer{validity}, kids, nulls, 0), nil
		}
		return array.NewData(dt, n, first.Buffers(), kids, first.NullN(), first.Offset()), nil
	}
	if len(parts) != 1 {
		return nil, fmt.Errorf("%d parts hold the leaf %s", len(parts), dt)
	}
	first.Retain()
	return first, nil
}

// legacySplit plans a 2.0 struct (af, stored from column src.col) whose
// children are not in the columns after its own - pylance's drop_columns of
// a child keeps the child's column in the file - as one part per child,
// each read from the column the manifest names. 2.0 structs have no nulls
// of their own.
func (d *Dataset) legacySplit(f *Fragment, fld schema.Field, af arrow.Field, src columnSource, where map[int32]columnSource) (columnSource, bool) {
	st, ok := af.Type.(*arrow.StructType)
	if !ok || src.file < 0 || f.Files[src.file].MajorVersion != 2 || f.Files[src.file].MinorVersion != 0 {
		return src, false
	}
	var kids []int32
	for _, c := range d.fields {
		if c.ParentID == fld.ID {
			kids = append(kids, c.ID)
		}
	}
	if len(kids) != st.NumFields() {
		return src, false
	}
	col, inPlace := src.col+1, true
	for k, id := range kids {
		w, found := where[id]
		inPlace = inPlace && found && w.file == src.file && w.col == col
		col += file.LegacyColumns(st.Field(k).Type)
	}
	if inPlace {
		return src, false
	}
	out := columnSource{file: splitFile, col: -1}
	for k, id := range kids {
		if w, found := where[id]; found && w.col >= 0 {
			out.parts = append(out.parts, splitPart{file: w.file, cols: []int{w.col}, legacy: true,
				fld: arrow.Field{Name: af.Name, Type: arrow.StructOf(st.Field(k)), Nullable: af.Nullable}})
		}
	}
	// No child in a column of its own: the struct's column holds them all
	// (a packed struct), nothing was split.
	return out, len(out.parts) > 0
}

// readLegacyChild reads the one child of part.fld (a 2.0 struct) from its
// column, as a struct of it without nulls.
func readLegacyChild(r *file.Reader, part splitPart, offset, limit int64, alloc memory.Allocator) (arrow.Array, error) {
	st := part.fld.Type.(*arrow.StructType)
	rec, err := r.Read(arrow.NewSchema([]arrow.Field{st.Field(0)}, nil), part.cols, offset, limit, alloc)
	if err != nil {
		return nil, fmt.Errorf("lance: field %q: %w", part.fld.Name, err)
	}
	defer rec.Release()
	data := array.NewData(st, int(rec.NumRows()), []*memory.Buffer{nil}, []arrow.ArrayData{rec.Column(0).Data()}, 0, 0)
	defer data.Release()
	return array.MakeFromData(data), nil
}

// unionValidity is the validity of n slots valid where any of parts (all
// of n slots) is valid: nil when all are.
func unionValidity(parts []arrow.ArrayData, n int, alloc memory.Allocator) (*memory.Buffer, int) {
	for _, p := range parts {
		if p.NullN() == 0 {
			return nil, 0
		}
	}
	buf := memory.NewResizableBuffer(alloc)
	buf.Resize(int(bitutil.BytesForBits(int64(n))))
	bits := buf.Bytes()
	for i := range bits {
		bits[i] = 0
	}
	nulls := 0
	for i := 0; i < n; i++ {
		valid := false
		for _, p := range parts {
			b := p.Buffers()[0]
			if b == nil || bitutil.BitIsSet(b.Bytes(), p.Offset()+i) {
				valid = true
				break
			}
		}
		if valid {
			bitutil.SetBit(bits, i)
		} else {
			nulls++
		}
	}
	return buf, nulls
}
