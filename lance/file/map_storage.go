package file

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// Lance stores a map<k, v> exactly as the list<entries: struct<key, value>>
// it is in Arrow (lance-encoding's map.rs hands the offsets and validity to
// the rep/def levels and the entries struct to its child): the reader reads
// the list and relabels it, the writer relabels a map as its list.

// mapStorage returns dt with every map in it replaced by the list of its
// entries.
func mapStorage(dt arrow.DataType) arrow.DataType {
	switch t := dt.(type) {
	case *arrow.MapType:
		return arrow.ListOfField(arrow.Field{Name: "entries", Type: mapStorage(t.Elem()), Nullable: false})
	case *arrow.StructType:
		if !containsMap(t) {
			return dt
		}
		fs := t.Fields()
		for i := range fs {
			fs[i].Type = mapStorage(fs[i].Type)
		}
		return arrow.StructOf(fs...)
	case *arrow.ListType:
		if !containsMap(t) {
			return dt
		}
		f := t.ElemField()
		f.Type = mapStorage(f.Type)
		return arrow.ListOfField(f)
	case *arrow.LargeListType:
		if !containsMap(t) {
			return dt
		}
		f := t.ElemField()
		f.Type = mapStorage(f.Type)
		return arrow.LargeListOfField(f)
	}
	return dt
}

// containsMap reports whether dt is or holds a map.
func containsMap(dt arrow.DataType) bool {
	switch t := dt.(type) {
	case *arrow.MapType:
		return true
	case arrow.NestedType:
		for _, f := range t.Fields() {
			if containsMap(f.Type) {
				return true
			}
		}
	}
	return false
}

// relabelData returns d (an array's data) with its type, and its
// children's, replaced by dt, which has the same physical layout.
func relabelData(d arrow.ArrayData, dt arrow.DataType) arrow.ArrayData {
	kids := d.Children()
	var out []arrow.ArrayData
	if nt, ok := dt.(arrow.NestedType); ok && len(kids) > 0 {
		fs := nt.Fields()
		out = make([]arrow.ArrayData, len(kids))
		for i, k := range kids {
			out[i] = relabelData(k, fs[i].Type)
		}
	}
	nd := array.NewData(dt, d.Len(), d.Buffers(), out, d.NullN(), d.Offset())
	for _, k := range out {
		k.Release()
	}
	return nd
}

// relabel returns a (of a type with a's layout) as an array of type dt,
// releasing a.
func relabel(a arrow.Array, dt arrow.DataType) arrow.Array {
	if !containsMap(dt) && !containsMap(a.DataType()) {
		return a // nothing to relabel (and no dictionary to lose)
	}
	d := relabelData(a.Data(), dt)
	a.Release()
	defer d.Release()
	return array.MakeFromData(d)
}

// checkMapVersion refuses a map on the path of a leaf in a file older
// than 2.2, as pylance does ("Map data type is not enabled by the selected
// file format").
func checkMapVersion(path []*wnode, v Version) error {
	for _, n := range path {
		if n.field.LogicalType == "map" && v.Minor < 2 {
			return fmt.Errorf("map columns need file version 2.2 or later, not %s", v)
		}
	}
	return nil
}

// mapsAsLists relabels the map columns of rec as lists for the writer.
func mapsAsLists(arr arrow.Array) arrow.Array {
	arr.Retain()
	return relabel(arr, mapStorage(arr.DataType()))
}
