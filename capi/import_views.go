package main

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Polars (and Arrow C++ on request) hands strings and binaries over as
// string_view / binary_view: the same values in another layout, which Lance
// does not store. An append takes them as string / binary: the column's
// schema says utf8 / binary, and its values are copied into that layout (the
// one copy an append makes; every other layout crosses without one).

// withoutViews maps a type to the one a view-typed column is stored as, at
// any depth; the result is dt itself when it holds no view.
func withoutViews(dt arrow.DataType) arrow.DataType {
	switch t := dt.(type) {
	case *arrow.StringViewType:
		return arrow.BinaryTypes.String
	case *arrow.BinaryViewType:
		return arrow.BinaryTypes.Binary
	case *arrow.StructType:
		fields := t.Fields()
		changed := false
		for i, f := range fields {
			if nt := withoutViews(f.Type); nt != f.Type {
				fields[i].Type, changed = nt, true
			}
		}
		if changed {
			return arrow.StructOf(fields...)
		}
	case *arrow.ListType:
		if e := withoutViews(t.Elem()); e != t.Elem() {
			return arrow.ListOfField(withType(t.ElemField(), e))
		}
	case *arrow.LargeListType:
		if e := withoutViews(t.Elem()); e != t.Elem() {
			return arrow.LargeListOfField(withType(t.ElemField(), e))
		}
	case *arrow.FixedSizeListType:
		if e := withoutViews(t.Elem()); e != t.Elem() {
			return arrow.FixedSizeListOfField(t.Len(), withType(t.ElemField(), e))
		}
	case *arrow.MapType:
		k, v := withoutViews(t.KeyType()), withoutViews(t.ItemType())
		if k != t.KeyType() || v != t.ItemType() {
			m := arrow.MapOfWithMetadata(k, t.KeyField().Metadata, v, t.ItemField().Metadata)
			m.KeysSorted = t.KeysSorted
			return m
		}
	case *arrow.DictionaryType:
		if v := withoutViews(t.ValueType); v != t.ValueType {
			return &arrow.DictionaryType{IndexType: t.IndexType, ValueType: v, Ordered: t.Ordered}
		}
	}
	return dt
}

func withType(f arrow.Field, dt arrow.DataType) arrow.Field {
	f.Type = dt
	return f
}

// schemaWithoutViews is s with every view type replaced (s when it has none).
func schemaWithoutViews(s *arrow.Schema) *arrow.Schema {
	fields := s.Fields()
	changed := false
	for i, f := range fields {
		if nt := withoutViews(f.Type); nt != f.Type {
			fields[i].Type, changed = nt, true
		}
	}
	if !changed {
		return s
	}
	md := s.Metadata()
	return arrow.NewSchema(fields, &md)
}

// recordWithoutViews converts rec's columns to schema (schemaWithoutViews of
// rec's schema), releasing rec; values of view columns are copied into
// buffers from alloc, everything else is shared.
func recordWithoutViews(rec arrow.Record, schema *arrow.Schema, alloc memory.Allocator) arrow.Record {
	defer rec.Release()
	cols := make([]arrow.Array, rec.NumCols())
	for i, col := range rec.Columns() {
		d := dataWithoutViews(col.Data(), schema.Field(i).Type, alloc)
		cols[i] = array.MakeFromData(d)
		d.Release()
	}
	out := array.NewRecord(schema, cols, rec.NumRows())
	for _, c := range cols {
		c.Release()
	}
	return out
}

// dataWithoutViews returns d as type want (withoutViews of d's type), with a
// reference for the caller.
func dataWithoutViews(d arrow.ArrayData, want arrow.DataType, alloc memory.Allocator) arrow.ArrayData {
	if arrow.TypeEqual(d.DataType(), want) {
		d.Retain()
		return d
	}
	switch d.DataType().ID() {
	case arrow.STRING_VIEW, arrow.BINARY_VIEW:
		views := array.NewBinaryViewData(d)
		defer views.Release()
		b := array.NewBinaryBuilder(alloc, want.(arrow.BinaryDataType))
		defer b.Release()
		b.Reserve(views.Len())
		for i := 0; i < views.Len(); i++ {
			if views.IsNull(i) {
				b.AppendNull()
			} else {
				b.Append(views.Value(i))
			}
		}
		arr := b.NewArray()
		defer arr.Release()
		out := arr.Data()
		out.Retain()
		return out
	case arrow.DICTIONARY:
		dict := dataWithoutViews(d.Dictionary(), want.(*arrow.DictionaryType).ValueType, alloc)
		defer dict.Release()
		return array.NewDataWithDictionary(want, d.Len(), d.Buffers(), d.NullN(), d.Offset(), dict.(*array.Data))
	}
	children := make([]arrow.ArrayData, len(d.Children()))
	for i, c := range d.Children() {
		children[i] = dataWithoutViews(c, childType(want, i), alloc)
		defer children[i].Release()
	}
	return array.NewData(want, d.Len(), d.Buffers(), children, d.NullN(), d.Offset())
}

// childType is the type of child i of nested type dt.
func childType(dt arrow.DataType, i int) arrow.DataType {
	switch t := dt.(type) {
	case *arrow.StructType:
		return t.Field(i).Type
	case arrow.ListLikeType:
		return t.Elem()
	}
	panic("persisting: no children in " + dt.String())
}
