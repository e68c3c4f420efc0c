package engine

import (
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/apache/arrow/go/v17/arrow"
)

// An Arrow extension type reaches the engine as its storage type, with the
// extension's name and parameters in the field's metadata (the C Data
// Interface's convention). The storage type alone does not say what a value
// is: fixed_size_list<float>[6] holds a 2x3 tensor, a 3x2 one or six
// numbers. So a column fits a field only when both carry the same extension
// (or neither does); otherwise a tensor put in another shape would be read
// back silently reshaped to the field's.
const (
	extensionNameKey   = "ARROW:extension:name"
	extensionParamsKey = "ARROW:extension:metadata"
)

// extensionOf returns the extension name and parameters f's metadata carries
// ("" and "" for a plain field).
func extensionOf(f arrow.Field) (name, params string) {
	if i := f.Metadata.FindKey(extensionNameKey); i >= 0 {
		name = f.Metadata.Values()[i]
	}
	if i := f.Metadata.FindKey(extensionParamsKey); i >= 0 {
		params = f.Metadata.Values()[i]
	}
	return name, params
}

// sameExtension says whether a column of field got may be stored in field
// want as far as extensions go: an untyped want takes anything; else both
// plain, or one extension with equal parameters (JSON ones compared by value:
// key order, spacing and a default left out do not matter).
func sameExtension(want, got arrow.Field) bool {
	if want.Type.ID() == arrow.NULL {
		return true
	}
	wn, wp := extensionOf(want)
	gn, gp := extensionOf(got)
	if wn != gn {
		return false
	}
	if wp == gp {
		return true
	}
	wv, wok := extensionParams(wn, wp)
	gv, gok := extensionParams(gn, gp)
	return wok && gok && reflect.DeepEqual(wv, gv)
}

// extensionParams decodes JSON parameters; for arrow.fixed_shape_tensor an
// identity "permutation" is dropped, as the Arrow spec makes it the default.
func extensionParams(name, params string) (map[string]any, bool) {
	var v map[string]any
	if json.Unmarshal([]byte(params), &v) != nil {
		return nil, false
	}
	if perm, ok := v["permutation"].([]any); ok && name == "arrow.fixed_shape_tensor" {
		identity := true
		for i, p := range perm {
			identity = identity && p == float64(i)
		}
		if identity {
			delete(v, "permutation")
		}
	}
	return v, true
}

// fieldTypeText is f's type for messages: with an extension, its name and
// parameters before the storage type (`arrow.fixed_shape_tensor{"shape":[2,3]}
// over fixed_size_list<...>[6]`).
func fieldTypeText(f arrow.Field) string {
	name, params := extensionOf(f)
	if name == "" {
		return f.Type.String()
	}
	return fmt.Sprintf("%s%s over %s", name, params, f.Type)
}

// fieldMismatch is the error for a column of field got that field want cannot take.
func fieldMismatch(want, got arrow.Field, why string) error {
	return fmt.Errorf("%w: field %q: expected %s, found %s%s", ErrSchemaMismatch, want.Name, fieldTypeText(want), fieldTypeText(got), why)
}
