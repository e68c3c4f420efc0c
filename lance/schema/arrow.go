package schema

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
)

// FromArrow converts an Arrow schema into the Lance field list, assigning ids
// in pre-order (a parent before its children) starting at firstID. Top-level
// fields get ParentID -1. Schema-level metadata is not part of the result; see
// MetadataFromArrow.
func FromArrow(s *arrow.Schema, firstID int32) ([]Field, error) {
	if s == nil {
		return nil, fmt.Errorf("lance schema: nil arrow schema")
	}
	if firstID < 0 {
		return nil, fmt.Errorf("lance schema: negative first field id %d", firstID)
	}
	var out []Field
	next := firstID
	seen := map[string]bool{}
	for _, af := range s.Fields() {
		// Lance addresses nested fields by dotted path, so top-level names
		// must be unique and free of dots.
		if strings.Contains(af.Name, ".") {
			return nil, fmt.Errorf("lance schema: field %q: top-level names must not contain '.'", af.Name)
		}
		if seen[af.Name] {
			return nil, fmt.Errorf("lance schema: duplicate field name %q", af.Name)
		}
		seen[af.Name] = true
		var err error
		out, err = appendArrowField(out, af, -1, &next, af.Name)
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// MetadataFromArrow returns the schema-level metadata of s in the form
// MarshalSchema expects (nil when there is none).
func MetadataFromArrow(s *arrow.Schema) map[string][]byte {
	return metadataToLance(s.Metadata())
}

func metadataToLance(md arrow.Metadata) map[string][]byte {
	if md.Len() == 0 {
		return nil
	}
	m := make(map[string][]byte, md.Len())
	for i, k := range md.Keys() {
		m[k] = []byte(md.Values()[i])
	}
	return m
}

func metadataToArrow(m map[string][]byte) arrow.Metadata {
	if len(m) == 0 {
		return arrow.Metadata{}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic order for schema equality checks
	vals := make([]string, len(keys))
	for i, k := range keys {
		vals[i] = string(m[k])
	}
	return arrow.NewMetadata(keys, vals)
}

// extensionName is the field metadata key naming an Arrow extension type.
const extensionName = "ARROW:extension:name"

func appendArrowField(out []Field, af arrow.Field, parent int32, next *int32, path string) ([]Field, error) {
	if *next == 1<<31-1 {
		return nil, fmt.Errorf("lance schema: field %q: field id overflow", path)
	}
	f := Field{
		ID:       *next,
		ParentID: parent,
		Name:     af.Name,
		Nullable: af.Nullable,
		Metadata: metadataToLance(af.Metadata),
	}
	*next++
	if name, _ := af.Metadata.GetValue(extensionName); name == "arrow.json" || name == "lance.json" {
		// pylance stores JSON as JSONB (its lance.json type) and reads a
		// column tagged arrow.json as such: text stored under that tag
		// would make the whole dataset unreadable to it.
		return nil, fmt.Errorf("lance schema: field %q: %s columns are not supported (Lance stores JSON as JSONB, "+
			"which this library does not write); store the text as a plain string column instead", path, name)
	}
	switch t := af.Type.(type) {
	case *arrow.StructType:
		f.LogicalType = "struct"
		out = append(out, f)
		for _, c := range t.Fields() {
			var err error
			out, err = appendArrowField(out, c, f.ID, next, path+"."+c.Name)
			if err != nil {
				return nil, err
			}
		}
		return out, nil
	case *arrow.ListType, *arrow.LargeListType:
		var elem arrow.Field
		if lt, ok := t.(*arrow.ListType); ok {
			elem = lt.ElemField()
			f.LogicalType = "list"
		} else {
			elem = t.(*arrow.LargeListType).ElemField()
			f.LogicalType = "large_list"
		}
		if elem.Type.ID() == arrow.STRUCT {
			f.LogicalType += ".struct"
		}
		f.Encoding = EncodingPlain
		out = append(out, f)
		return appendArrowField(out, elem, f.ID, next, path+"."+elem.Name)
	case *arrow.MapType:
		if err := checkMapType(t); err != nil {
			return nil, fmt.Errorf("lance schema: field %q: %w", path, err)
		}
		f.LogicalType = logicalMap
		f.Encoding = EncodingPlain
		out = append(out, f)
		return appendArrowField(out, t.ElemField(), f.ID, next, path+"."+mapEntries)
	case *arrow.DictionaryType:
		lt, err := dictionaryLogicalType(t)
		if err != nil {
			return nil, fmt.Errorf("lance schema: field %q: %w", path, err)
		}
		f.LogicalType, f.Encoding, f.HasDictionary = lt, EncodingDictionary, true
		return append(out, f), nil
	case *arrow.FixedSizeListType:
		inner, err := leafLogicalType(t.Elem())
		if err != nil {
			return nil, fmt.Errorf("lance schema: field %q: fixed_size_list item: %w", path, err)
		}
		f.LogicalType = fmt.Sprintf("fixed_size_list:%s:%d", inner, t.Len())
		f.Encoding = EncodingPlain
		return append(out, f), nil
	}
	lt, err := leafLogicalType(af.Type)
	if err != nil {
		return nil, fmt.Errorf("lance schema: field %q: %w", path, err)
	}
	f.LogicalType = lt
	switch lt {
	case "string", "large_string", "binary", "large_binary":
		f.Encoding = EncodingVarBinary
	case "null": // no values to encode: pylance gives it no encoding
	default:
		f.Encoding = EncodingPlain
	}
	return append(out, f), nil
}

var unitNames = map[arrow.TimeUnit]string{
	arrow.Second: "s", arrow.Millisecond: "ms", arrow.Microsecond: "us", arrow.Nanosecond: "ns",
}

func parseUnit(s string) (arrow.TimeUnit, bool) {
	for u, n := range unitNames {
		if n == s {
			return u, true
		}
	}
	return 0, false
}

// leafLogicalType maps a non-nested Arrow type to its Lance logical type.
func leafLogicalType(t arrow.DataType) (string, error) {
	switch t.ID() {
	case arrow.NULL:
		return "null", nil
	case arrow.BOOL:
		return "bool", nil
	case arrow.INT8:
		return "int8", nil
	case arrow.INT16:
		return "int16", nil
	case arrow.INT32:
		return "int32", nil
	case arrow.INT64:
		return "int64", nil
	case arrow.UINT8:
		return "uint8", nil
	case arrow.UINT16:
		return "uint16", nil
	case arrow.UINT32:
		return "uint32", nil
	case arrow.UINT64:
		return "uint64", nil
	case arrow.FLOAT16:
		return "halffloat", nil
	case arrow.FLOAT32:
		return "float", nil
	case arrow.FLOAT64:
		return "double", nil
	case arrow.STRING:
		return "string", nil
	case arrow.LARGE_STRING:
		return "large_string", nil
	case arrow.BINARY:
		return "binary", nil
	case arrow.LARGE_BINARY:
		return "large_binary", nil
	case arrow.DATE32:
		return "date32:day", nil
	case arrow.DATE64:
		return "date64:ms", nil
	case arrow.TIMESTAMP:
		ts := t.(*arrow.TimestampType)
		tz := ts.TimeZone
		if tz == "" {
			tz = "-"
		}
		return "timestamp:" + unitNames[ts.Unit] + ":" + tz, nil
	case arrow.TIME32:
		return "time32:" + unitNames[t.(*arrow.Time32Type).Unit], nil
	case arrow.TIME64:
		return "time64:" + unitNames[t.(*arrow.Time64Type).Unit], nil
	case arrow.DURATION:
		return "duration:" + unitNames[t.(*arrow.DurationType).Unit], nil
	case arrow.DECIMAL128:
		d := t.(*arrow.Decimal128Type)
		return fmt.Sprintf("decimal:128:%d:%d", d.Precision, d.Scale), nil
	case arrow.DECIMAL256:
		d := t.(*arrow.Decimal256Type)
		return fmt.Sprintf("decimal:256:%d:%d", d.Precision, d.Scale), nil
	case arrow.FIXED_SIZE_BINARY:
		return fmt.Sprintf("fixed_size_binary:%d", t.(*arrow.FixedSizeBinaryType).ByteWidth), nil
	case arrow.FIXED_SIZE_LIST: // the item of a fixed_size_list (a matrix's rows)
		l := t.(*arrow.FixedSizeListType)
		inner, err := leafLogicalType(l.Elem())
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("fixed_size_list:%s:%d", inner, l.Len()), nil
	}
	return "", fmt.Errorf("unsupported arrow type %s", t)
}

var simpleTypes = map[string]arrow.DataType{
	"null":         arrow.Null,
	"bool":         arrow.FixedWidthTypes.Boolean,
	"int8":         arrow.PrimitiveTypes.Int8,
	"int16":        arrow.PrimitiveTypes.Int16,
	"int32":        arrow.PrimitiveTypes.Int32,
	"int64":        arrow.PrimitiveTypes.Int64,
	"uint8":        arrow.PrimitiveTypes.Uint8,
	"uint16":       arrow.PrimitiveTypes.Uint16,
	"uint32":       arrow.PrimitiveTypes.Uint32,
	"uint64":       arrow.PrimitiveTypes.Uint64,
	"halffloat":    arrow.FixedWidthTypes.Float16,
	"float":        arrow.PrimitiveTypes.Float32,
	"double":       arrow.PrimitiveTypes.Float64,
	"string":       arrow.BinaryTypes.String,
	"large_string": arrow.BinaryTypes.LargeString,
	"binary":       arrow.BinaryTypes.Binary,
	"large_binary": arrow.BinaryTypes.LargeBinary,
	"date32:day":   arrow.FixedWidthTypes.Date32,
	"date64:ms":    arrow.FixedWidthTypes.Date64,
}

// LeafArrowType maps a non-nested Lance logical type to an Arrow type.
func LeafArrowType(lt string) (arrow.DataType, error) {
	if t, ok := simpleTypes[lt]; ok {
		return t, nil
	}
	if t, ok, err := dictionaryArrowType(lt); ok {
		return t, err
	}
	bad := fmt.Errorf("unknown lance logical type %q", lt)
	kind, rest, _ := strings.Cut(lt, ":")
	switch kind {
	case "timestamp":
		unit, tz, ok := strings.Cut(rest, ":")
		u, uok := parseUnit(unit)
		if !uok {
			return nil, bad
		}
		if !ok || tz == "-" {
			// "timestamp:us" is the old two-part form; it has no zone.
			tz = ""
		}
		return &arrow.TimestampType{Unit: u, TimeZone: tz}, nil
	case "time32":
		if u, ok := parseUnit(rest); ok && (u == arrow.Second || u == arrow.Millisecond) {
			return &arrow.Time32Type{Unit: u}, nil
		}
	case "time64":
		if u, ok := parseUnit(rest); ok && (u == arrow.Microsecond || u == arrow.Nanosecond) {
			return &arrow.Time64Type{Unit: u}, nil
		}
	case "duration":
		if u, ok := parseUnit(rest); ok {
			return &arrow.DurationType{Unit: u}, nil
		}
	case "decimal":
		parts := strings.Split(rest, ":")
		if len(parts) != 3 {
			return nil, bad
		}
		p, err1 := strconv.ParseInt(parts[1], 10, 32)
		s, err2 := strconv.ParseInt(parts[2], 10, 32)
		if err1 != nil || err2 != nil {
			return nil, bad
		}
		switch parts[0] {
		case "128":
			if p < 1 || p > 38 {
				return nil, bad
			}
			return &arrow.Decimal128Type{Precision: int32(p), Scale: int32(s)}, nil
		case "256":
			if p < 1 || p > 76 {
				return nil, bad
			}
			return &arrow.Decimal256Type{Precision: int32(p), Scale: int32(s)}, nil
		}
	case "fixed_size_binary":
		n, err := strconv.ParseInt(rest, 10, 32)
		if err == nil && n >= 0 {
			return &arrow.FixedSizeBinaryType{ByteWidth: int(n)}, nil
		}
	case "fixed_size_list":
		// The item type may itself contain ':' (e.g. a timestamp), so the
		// dimension is whatever follows the last ':'.
		i := strings.LastIndexByte(rest, ':')
		if i < 0 {
			return nil, bad
		}
		n, err := strconv.ParseInt(rest[i+1:], 10, 32)
		if err != nil || n < 0 {
			return nil, bad
		}
		inner, err := LeafArrowType(rest[:i])
		if err != nil {
			return nil, bad
		}
		return arrow.FixedSizeListOfField(int32(n), arrow.Field{Name: "item", Type: inner, Nullable: true}), nil
	}
	return nil, bad
}

// ToArrow converts a Lance field list (parents before children) back into an
// Arrow schema without schema metadata.
func ToArrow(fields []Field) (*arrow.Schema, error) {
	return ToArrowWithMetadata(fields, nil)
}

// ToArrowWithMetadata is ToArrow plus schema-level metadata.
func ToArrowWithMetadata(fields []Field, metadata map[string][]byte) (*arrow.Schema, error) {
	type node struct {
		f        Field
		children []int
	}
	nodes := make([]node, len(fields))
	byID := make(map[int32]int, len(fields))
	var roots []int
	for i, f := range fields {
		if _, dup := byID[f.ID]; dup {
			return nil, fmt.Errorf("lance schema: duplicate field id %d (%q)", f.ID, f.Name)
		}
		nodes[i].f = f
		byID[f.ID] = i
		if f.ParentID == -1 {
			roots = append(roots, i)
			continue
		}
		// Lance requires parents before children, which also rules out cycles.
		p, ok := byID[f.ParentID]
		if !ok || p == i {
			return nil, fmt.Errorf("lance schema: field %q (id %d): parent id %d not seen before it", f.Name, f.ID, f.ParentID)
		}
		nodes[p].children = append(nodes[p].children, i)
	}
	var build func(i int, depth int) (arrow.Field, error)
	build = func(i int, depth int) (arrow.Field, error) {
		n := nodes[i]
		af := arrow.Field{Name: n.f.Name, Nullable: n.f.Nullable, Metadata: metadataToArrow(n.f.Metadata)}
		if depth > 64 {
			return af, fmt.Errorf("lance schema: field %q nested too deeply", n.f.Name)
		}
		switch n.f.LogicalType {
		case "struct":
			kids := make([]arrow.Field, 0, len(n.children))
			for _, c := range n.children {
				k, err := build(c, depth+1)
				if err != nil {
					return af, err
				}
				kids = append(kids, k)
			}
			af.Type = arrow.StructOf(kids...)
			return af, nil
		case "list", "list.struct", "large_list", "large_list.struct":
			if len(n.children) != 1 {
				return af, fmt.Errorf("lance schema: list field %q has %d children, want 1", n.f.Name, len(n.children))
			}
			k, err := build(n.children[0], depth+1)
			if err != nil {
				return af, err
			}
			if strings.HasPrefix(n.f.LogicalType, "large_") {
				af.Type = arrow.LargeListOfField(k)
			} else {
				af.Type = arrow.ListOfField(k)
			}
			return af, nil
		case logicalMap:
			if len(n.children) != 1 {
				return af, fmt.Errorf("lance schema: map field %q has %d children, want 1", n.f.Name, len(n.children))
			}
			k, err := build(n.children[0], depth+1)
			if err != nil {
				return af, err
			}
			af.Type, err = mapFromEntries(n.f.Name, k)
			return af, err
		}
		if len(n.children) != 0 {
			if strings.HasPrefix(n.f.LogicalType, "fixed_size_list:") {
				// pylance 2.2's fixed_size_list<struct>: its item is a child field
				return af, fmt.Errorf("lance schema: field %q: fixed-size lists of %s (logical type %q) are not supported",
					n.f.Name, nodes[n.children[0]].f.LogicalType, n.f.LogicalType)
			}
			return af, fmt.Errorf("lance schema: field %q of type %q has children", n.f.Name, n.f.LogicalType)
		}
		t, err := LeafArrowType(n.f.LogicalType)
		if err != nil {
			return af, fmt.Errorf("lance schema: field %q: %w", n.f.Name, err)
		}
		af.Type = t
		return af, nil
	}
	out := make([]arrow.Field, 0, len(roots))
	for _, r := range roots {
		af, err := build(r, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, af)
	}
	md := metadataToArrow(metadata)
	return arrow.NewSchema(out, &md), nil
}
