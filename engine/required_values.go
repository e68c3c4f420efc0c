package engine

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// checkRequiredValues refuses a record (in the bucket's schema) holding a
// null where that schema says a field is not nullable, at any depth: the
// data file writer refuses such a row at every flush, so it must never be
// accepted. A null counts only in a slot the row stores: below a null
// struct or list nothing is stored, whatever the child arrays hold there.
func checkRequiredValues(rec arrow.Record) error {
	for i, f := range rec.Schema().Fields() {
		if err := checkRequired(f.Name, f, rec.Column(i), nil); err != nil {
			return err
		}
	}
	return nil
}

// checkRequired checks arr, the values of field f (path names it: 'p.a',
// 'l[]');
// stored, unless nil, marks the slots of arr a row stores.
func checkRequired(path string, f arrow.Field, arr arrow.Array, stored []bool) error {
	if !f.Nullable {
		if n := nullsStored(arr, stored); n > 0 {
			return fmt.Errorf("%w: field %s: expected values (not nullable), found %d nulls", ErrSchemaMismatch, pyName(path), n)
		}
	}
	if !requiredBelow(f.Type) {
		return nil
	}
	switch a := arr.(type) {
	case *array.Struct:
		st, ok := f.Type.(*arrow.StructType)
		if !ok {
			return nil
		}
		children := make([]bool, a.Len())
		for i := range children {
			children[i] = (stored == nil || stored[i]) && a.IsValid(i)
		}
		for k, c := range st.Fields() {
			if err := checkRequired(path+"."+c.Name, c, a.Field(k), children); err != nil {
				return err
			}
		}
	case array.ListLike:
		lt, ok := f.Type.(arrow.ListLikeType)
		if !ok {
			return nil
		}
		values := a.ListValues()
		items := make([]bool, values.Len())
		for i := 0; i < a.Len(); i++ {
			if (stored == nil || stored[i]) && a.IsValid(i) {
				start, end := a.ValueOffsets(i)
				for j := start; j < end; j++ {
					items[j] = true
				}
			}
		}
		return checkRequired(path+"[]", lt.ElemField(), values, items) // as record decoding names items
	}
	return nil
}

// requiredBelow reports whether a field of type t has a descendant that is
// not nullable (most schemas have none, and are checked at no cost).
func requiredBelow(t arrow.DataType) bool {
	switch t := t.(type) {
	case *arrow.StructType:
		for _, c := range t.Fields() {
			if !c.Nullable || requiredBelow(c.Type) {
				return true
			}
		}
	case arrow.ListLikeType:
		e := t.ElemField()
		return !e.Nullable || requiredBelow(e.Type)
	}
	return false
}

func nullsStored(arr arrow.Array, stored []bool) int {
	if stored == nil || arr.NullN() == 0 {
		return arr.NullN()
	}
	n := 0
	for i, s := range stored {
		if s && arr.IsNull(i) {
			n++
		}
	}
	return n
}
