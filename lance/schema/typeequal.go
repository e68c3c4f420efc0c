package schema

import "github.com/apache/arrow/go/v17/arrow"

// TypeEqual reports whether two Arrow types are the same type: same ids,
// units, time zones, dimensions, child names (struct fields), child types
// and child nullability, ignoring field metadata, like arrow.TypeEqual.
//
// arrow.TypeEqual of Arrow Go v17 compares large_list types (and anything
// containing one) with reflect.DeepEqual, which also compares internal
// caches (a timestamp type remembers its time.Location once a value was
// formatted) and nil versus empty metadata; equal large_list types then
// compare unequal. This function recurses instead.
func TypeEqual(a, b arrow.DataType) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if a.ID() != b.ID() {
		return false
	}
	switch x := a.(type) {
	case *arrow.StructType:
		y := b.(*arrow.StructType)
		if x.NumFields() != y.NumFields() {
			return false
		}
		for i := 0; i < x.NumFields(); i++ {
			fx, fy := x.Field(i), y.Field(i)
			if fx.Name != fy.Name || fx.Nullable != fy.Nullable || !TypeEqual(fx.Type, fy.Type) {
				return false
			}
		}
		return true
	case *arrow.ListType:
		return elemEqual(x.ElemField(), b.(*arrow.ListType).ElemField())
	case *arrow.LargeListType:
		return elemEqual(x.ElemField(), b.(*arrow.LargeListType).ElemField())
	case *arrow.FixedSizeListType:
		y := b.(*arrow.FixedSizeListType)
		return x.Len() == y.Len() && elemEqual(x.ElemField(), y.ElemField())
	case *arrow.TimestampType:
		y := b.(*arrow.TimestampType)
		return x.Unit == y.Unit && x.TimeZone == y.TimeZone
	}
	return arrow.TypeEqual(a, b)
}

func elemEqual(x, y arrow.Field) bool {
	return x.Nullable == y.Nullable && TypeEqual(x.Type, y.Type)
}
