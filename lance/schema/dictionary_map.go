package schema

import (
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
)

// Dictionary and map columns, as upstream Lance names them
// (lance-core datatypes.rs):
//
//   - dictionary<values, indices>: one field of logical type
//     "dict:<values>:<indices>:false" (arrow-rs has no "ordered" flag, so
//     upstream always writes false), legacy encoding Dictionary and an empty
//     Dictionary message (offset and length are for v1 files only).
//   - map<k, v>: a field of logical type "map" with one child, the
//     non-nullable struct "entries" holding "key" (non-nullable) and
//     "value". Upstream refuses keys_sorted maps, and so does this package.

const (
	logicalMap  = "map"
	dictPrefix  = "dict:"
	mapEntries  = "entries"
	mapKeyName  = "key"
	mapItemName = "value"
)

// dictionaryLogicalType is the logical type of an Arrow dictionary type.
// Upstream parses the value type from a single ':'-separated part, so only
// value types whose names hold no ':' can round-trip.
func dictionaryLogicalType(t *arrow.DictionaryType) (string, error) {
	values, err := leafLogicalType(t.ValueType)
	if err != nil || strings.Contains(values, ":") {
		return "", fmt.Errorf("dictionary values of type %s are not supported", t.ValueType)
	}
	if !arrow.IsInteger(t.IndexType.ID()) {
		return "", fmt.Errorf("dictionary indices of type %s are not integers", t.IndexType)
	}
	indices, _ := leafLogicalType(t.IndexType)
	return dictPrefix + values + ":" + indices + ":false", nil
}

// dictionaryArrowType parses "dict:<values>:<indices>:<ordered>"; ok is
// false when lt is no dictionary type at all.
func dictionaryArrowType(lt string) (t arrow.DataType, ok bool, err error) {
	if !strings.HasPrefix(lt, dictPrefix) {
		return nil, false, nil
	}
	parts := strings.Split(lt, ":")
	if len(parts) != 4 {
		return nil, true, fmt.Errorf("malformed dictionary type %q", lt)
	}
	values, err := LeafArrowType(parts[1])
	if err != nil {
		return nil, true, fmt.Errorf("dictionary type %q: %w", lt, err)
	}
	indices, err := LeafArrowType(parts[2])
	if err != nil || !arrow.IsInteger(indices.ID()) {
		return nil, true, fmt.Errorf("dictionary type %q: indices must be an integer type", lt)
	}
	return &arrow.DictionaryType{IndexType: indices, ValueType: values, Ordered: parts[3] == "true"}, true, nil
}

// checkMapType refuses the maps upstream cannot store or this Arrow
// library cannot name (its MapType fixes the entry names).
func checkMapType(t *arrow.MapType) error {
	if t.KeysSorted {
		return fmt.Errorf("maps with sorted keys are not supported (upstream Lance refuses them)")
	}
	return nil
}

// mapFromEntries builds the map type whose "entries" child is entries.
func mapFromEntries(name string, entries arrow.Field) (arrow.DataType, error) {
	st, ok := entries.Type.(*arrow.StructType)
	if !ok || entries.Name != mapEntries || st.NumFields() != 2 ||
		st.Field(0).Name != mapKeyName || st.Field(1).Name != mapItemName {
		return nil, fmt.Errorf("lance schema: map field %q needs one child struct %q of %q and %q, has %s %q",
			name, mapEntries, mapKeyName, mapItemName, entries.Type, entries.Name)
	}
	if st.Field(0).Nullable || entries.Nullable {
		return nil, fmt.Errorf("lance schema: map field %q: keys and entries must not be nullable", name)
	}
	key, item := st.Field(0), st.Field(1)
	mt := arrow.MapOfWithMetadata(key.Type, key.Metadata, item.Type, item.Metadata)
	mt.SetItemNullable(item.Nullable)
	return mt, nil
}
