package engine

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/persisting/persisting/pymarshal"
)

// The record rules: how the records of one AppendRecords call (a unit: all of
// them are taken or none) are checked against the bucket's fields, and what
// the fields are after them. docs/schema-rules.md describes them for users;
// this is their only implementation.
//
// A field's type is an Arrow type, or arrow.Null while only None was seen in
// it (untyped). Nested parts stay untyped (list<null>, struct<a: null>, as
// pyarrow infers) until a value types them, also after flushes stored them
// so (lance.TypesNullParts); a top-level field may stay untyped until the
// bucket flushes (schema_untyped.go).

const (
	// maxNesting is how many levels a field's value may nest, the field's own
	// value being level 1 (a dict holding a dict holding an int: 3 levels).
	// A struct field of N levels is N-1 structs deep; pyarrow imports a schema
	// through Arrow's C interface only up to 62 structs in a field ("Recursion
	// level in ArrowSchema struct exceeded" at 63, TestNestingLimitIsBelowArrows),
	// and we stay one below that.
	maxNesting = 62
	// maxListNesting bounds the levels of a value with a list inside: Lance's
	// structural encoding (2.1 and later) takes at most 32 repetition and
	// definition layers.
	maxListNesting = 32
)

// untypedFallback types untyped top-level fields when they must be written,
// and the untyped parts of nested fields in a dataset that cannot store the
// type null there (file version 2.0: settledNested).
var untypedFallback arrow.DataType = arrow.BinaryTypes.String

// kindTypes are the types inferred from plain and tagged values.
var kindTypes = [...]arrow.DataType{
	kindBool:        arrow.FixedWidthTypes.Boolean,
	kindInt:         arrow.PrimitiveTypes.Int64,
	kindFloat:       arrow.PrimitiveTypes.Float64,
	kindStr:         arrow.BinaryTypes.String,
	kindBytes:       arrow.BinaryTypes.Binary,
	kindTimestamp:   &arrow.TimestampType{Unit: arrow.Microsecond},
	kindTimestampTZ: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"},
	kindDate:        arrow.FixedWidthTypes.Date32,
	kindTime:        arrow.FixedWidthTypes.Time64us,
	kindDuration:    arrow.FixedWidthTypes.Duration_us,
}

// exactFloatInts: by float type, the largest magnitude of an int that
// converts to it exactly.
const (
	exactDoubleInt = 1 << 53
	exactFloatInt  = 1 << 24
	exactHalfInt   = 1 << 11
)

// exactIntLimit is the largest magnitude of an int that a float column of
// type id takes exactly.
func exactIntLimit(id arrow.Type) int64 {
	switch id {
	case arrow.FLOAT16:
		return exactHalfInt
	case arrow.FLOAT32:
		return exactFloatInt
	}
	return exactDoubleInt
}

// fieldSet is the bucket's top-level fields while a unit is checked.
type fieldSet struct {
	names    []string
	types    []arrow.DataType // arrow.Null: untyped
	nullable []bool
	meta     []arrow.Metadata // an Arrow extension (arrow.bool8) changes what a field takes
	index    map[string]int
}

func fieldSetOf(s *arrow.Schema) *fieldSet {
	if s == nil {
		return nil
	}
	fs := &fieldSet{index: make(map[string]int, s.NumFields())}
	for i, f := range s.Fields() {
		fs.add(f.Name, f.Type, f.Nullable)
		fs.meta[i] = f.Metadata
	}
	return fs
}

func (fs *fieldSet) has(name string) bool {
	_, ok := fs.index[name]
	return ok
}

func (fs *fieldSet) add(name string, t arrow.DataType, nullable bool) {
	fs.index[name] = len(fs.names)
	fs.names = append(fs.names, name)
	fs.types = append(fs.types, t)
	fs.nullable = append(fs.nullable, nullable)
	fs.meta = append(fs.meta, arrow.Metadata{})
}

// schema returns the fields as a schema, cur itself when nothing changed.
func (fs *fieldSet) schema(cur *arrow.Schema) *arrow.Schema {
	if cur != nil && cur.NumFields() == len(fs.names) {
		same := true
		for i, f := range cur.Fields() {
			if !sameType(f.Type, fs.types[i]) {
				same = false
				break
			}
		}
		if same {
			return cur
		}
	}
	fields := make([]arrow.Field, len(fs.names))
	for i, n := range fs.names {
		fields[i] = arrow.Field{Name: n, Type: fs.types[i], Nullable: fs.nullable[i], Metadata: inferredMetadata(fs.types[i])}
		if cur != nil { // a field's metadata (an Arrow extension: sameExtension) stays with its type
			if j := cur.FieldIndices(n); len(j) > 0 && cur.Field(j[0]).Type.ID() != arrow.NULL {
				if sameType(cur.Field(j[0]).Type, fs.types[i]) {
					fields[i].Metadata = cur.Field(j[0]).Metadata
				} else {
					fields[i].Metadata = arrow.Metadata{}
				}
			}
		}
	}
	return arrow.NewSchema(fields, nil)
}

// recordRules checks the records of one unit.
type recordRules struct {
	d      *pymarshal.Decoder
	evolve bool // the bucket evolves its schema (Options.SchemaEvolution)
	// fresh: the bucket had no schema before this unit; the unit's records
	// together make its fields, also without evolution (schema-rules.md).
	fresh bool
	// provisional: top-level fields whose nested type this unit inferred; a
	// later record of the unit may still add struct fields or turn ints into
	// floats there.
	provisional map[string]bool
	settled     []string // fields whose untyped nested parts got the fallback type
}

// planRecordSchema checks the records under root (a dict, or a list of
// dicts) against the bucket's schema cur (nil: none yet) and returns the
// schema after them: cur itself when they change nothing. It changes nothing.
func planRecordSchema(d *pymarshal.Decoder, root pymarshal.Node, cur *arrow.Schema, evolve bool) (*arrow.Schema, []string, error) {
	r := recordRules{d: d, evolve: evolve, fresh: cur == nil, provisional: map[string]bool{}}
	fields := fieldSetOf(cur)
	err := eachRecord(d, root, func(i int, rec pymarshal.Node) error {
		var err error
		fields, err = r.record(rec, fields)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if fields == nil { // no records
		return cur, nil, nil
	}
	// Nested parts still without a type keep the type null, as pyarrow's
	// inference gives them (list<null>, struct<a: null>), until a value types
	// them; a dataset that cannot store them gets the fallback type
	// (settleNested).
	return fields.schema(cur), nil, nil
}

// eachRecord calls fn for the records under root: root itself when it is a
// dict, else every item of a list, which must each be a dict.
func eachRecord(d *pymarshal.Decoder, root pymarshal.Node, fn func(int, pymarshal.Node) error) error {
	switch d.Kind(root) {
	case pymarshal.Dict:
		return fn(0, root)
	case pymarshal.List:
		for i, rec := 0, d.First(root); i < d.Len(root); i, rec = i+1, d.Next(rec) {
			if d.Kind(rec) != pymarshal.Dict {
				return fmt.Errorf("%w: record %d: a record must be a dict, got %s", ErrType, i, valueOf(d, rec).typeName(d))
			}
			if err := fn(i, rec); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("%w: the records must be a list of dicts, got %s", ErrType, valueOf(d, root).typeName(d))
}

// record checks one record against fields (nil: the first record of a
// bucket without fields) and returns the fields after it.
func (r *recordRules) record(rec pymarshal.Node, fields *fieldSet) (*fieldSet, error) {
	d := r.d
	if d.Len(rec) == 0 {
		return nil, fmt.Errorf("%w: a record must not be empty", ErrInvalidArgument)
	}
	first := fields == nil
	if first {
		fields = &fieldSet{index: make(map[string]int, d.Len(rec))}
	}
	seen := make(map[string]bool, d.Len(rec))
	var changes []fieldChange
	for k, key := 0, d.First(rec); k < d.Len(rec); k++ {
		val := d.Next(key)
		name, err := r.key(key, "")
		if err != nil {
			return nil, err
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: field %s appears twice in the record", ErrInvalidArgument, pyName(name))
		}
		seen[name] = true
		t, changed, err := r.field(name, val, fields)
		if err != nil {
			return nil, err
		}
		if changed {
			changes = append(changes, fieldChange{name, t})
		}
		key = d.Next(val)
	}
	for i, name := range fields.names {
		if !fields.nullable[i] && !seen[name] {
			return nil, fmt.Errorf("%w: field %s is missing; this bucket's schema declares it not nullable", ErrSchemaMismatch, pyName(name))
		}
	}
	// The record is good: its fields join (new ones untyped unless it typed them).
	for k, key := 0, d.First(rec); k < d.Len(rec); k++ {
		val := d.Next(key)
		if name := string(d.Bytes(key)); !fields.has(name) {
			fields.add(name, arrow.Null, true)
		}
		key = d.Next(val)
	}
	for _, c := range changes {
		fields.types[fields.index[c.name]] = c.t
	}
	return fields, nil
}

type fieldChange struct {
	name string
	t    arrow.DataType
}

// key checks a dict key (in the struct at path; "" for a record) and returns it.
func (r *recordRules) key(key pymarshal.Node, path string) (string, error) {
	d := r.d
	where := func() string {
		if path == "" {
			return ""
		}
		return " in " + pyName(path)
	}
	if d.Kind(key) != pymarshal.Str {
		kv := valueOf(d, key)
		if path == "" {
			return "", fmt.Errorf("%w: field names must be str, got %s", ErrType, describe(d, kv))
		}
		return "", fmt.Errorf("%w: field %s: field names must be str, got %s", ErrType, pyName(path), describe(d, kv))
	}
	b := d.Bytes(key)
	if !d.ValidUTF8(key) {
		return "", fmt.Errorf("%w: field name %s%s: not storable as UTF-8 (it holds a lone surrogate)", ErrInvalidArgument, pyQuote(b, 80), where())
	}
	name := string(b)
	if err := checkFieldName(name, path); err != nil {
		return "", err
	}
	return name, nil
}

// field checks the value of top-level field name and returns its type after
// the value and whether that differs from its type before.
func (r *recordRules) field(name string, val pymarshal.Node, fields *fieldSet) (arrow.DataType, bool, error) {
	d := r.d
	i, known := fields.index[name]
	var expected arrow.DataType
	if known {
		expected = fields.types[i]
		if expected.ID() == arrow.NULL {
			expected = nil
		}
	}
	rv := valueOf(d, val)
	if rv.kind == kindUnsupported {
		return nil, false, unstorable(d, name, rv)
	}
	if rv.kind == kindBadTag {
		return nil, false, badTag(d, name, rv)
	}
	if !known && !r.evolve && !r.fresh {
		return nil, false, fmt.Errorf("%w: field %s is not in this bucket's schema (fields: %s); a bucket without schema evolution keeps the fields its first records brought",
			ErrSchemaMismatch, pyName(name), strings.Join(fields.names, ", "))
	}
	if rv.kind == kindNone {
		if known && !fields.nullable[i] {
			return nil, false, fmt.Errorf("%w: field %s: expected a value (not nullable), found None", ErrSchemaMismatch, pyName(name))
		}
		return nil, false, nil
	}
	nested := rv.kind == kindDict || rv.kind == kindList || rv.kind == kindEmptyList
	if nested || isNestedType(expected) {
		if nested && expected != nil && !isNestedType(expected) {
			return nil, false, fmt.Errorf("%w: field %s: expected %s, found a %s", ErrSchemaMismatch, pyName(name), typeText(expected), rv.typeName(d))
		}
		t, err := r.valueType(name, expected, rv, expected == nil || r.provisional[name], 1, 0)
		if err != nil {
			return nil, false, err
		}
		if !sameType(t, expected) {
			r.provisional[name] = true
			return t, true, nil
		}
		return t, false, nil
	}
	if err := r.scalarValid(name, rv); err != nil {
		return nil, false, err
	}
	if expected == nil {
		t, err := inferScalar(d, name, rv)
		return t, true, err
	}
	if ok, err := r.bool8Value(name, arrow.Field{Type: expected, Metadata: fields.meta[i]}, rv); ok || err != nil {
		if err != nil {
			return nil, false, err
		}
		return expected, false, nil
	}
	if fits(d, expected, rv) {
		return expected, false, nil
	}
	if rv.kind == kindBigInt {
		return nil, false, tooBig(d, name, rv)
	}
	if r.evolve {
		if wider := widened(d, expected, rv); wider != nil {
			return wider, true, nil
		}
	}
	why := whyNotFixedType(d, expected, rv)
	if why == "" && r.evolve {
		why = " (it cannot be stored there without loss)"
	}
	return nil, false, fmt.Errorf("%w: field %s: expected %s, found %s%s", ErrSchemaMismatch, pyName(name), typeText(expected), describe(d, rv), why)
}

// scalarValid refuses scalars no column holds as they are: a str that is not
// UTF-8, an int beyond int64 (unless a uint64 column takes it: fits), a
// decimal that is not a finite number.
func (r *recordRules) scalarValid(path string, rv recordValue) error {
	d := r.d
	switch rv.kind {
	case kindStr:
		if !d.ValidUTF8(rv.node) {
			return fmt.Errorf("%w: field %s: not storable as UTF-8 (a lone surrogate at byte %d)", ErrInvalidArgument, pyName(path), firstInvalidUTF8(d.Bytes(rv.node)))
		}
	case kindDecimal:
		if _, err := parseDecimal(string(d.Bytes(rv.arg))); err != nil {
			return fmt.Errorf("%w: field %s: Decimal %s %s", ErrInvalidArgument, pyName(path), d.Bytes(rv.arg), err)
		}
	case kindTimestamp, kindTimestampTZ, kindDuration, kindDate:
		n, ok := rv.ticks(d)
		if !ok {
			return fmt.Errorf("%w: field %s: %d ticks of %d seconds do not fit in int64 seconds", ErrInvalidArgument, pyName(path), d.Int(rv.arg), rv.per)
		}
		if lo, hi, what := readableRange(rv.kind); !withinSeconds(n, rv, lo, hi) {
			return fmt.Errorf("%w: field %s: %s is outside the range of Python's %s, which reads it back", ErrInvalidArgument, pyName(path), describe(d, rv), what)
		}
	}
	return nil
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}

// The seconds since the epoch (days for dates) Python's datetime, date and
// timedelta hold: a value beyond them could be stored, but no read could
// return it (pyarrow's conversion overflows), so every get of the bucket
// would fail. Only values of coarse units (numpy's) reach them.
const (
	minDatetimeSecond  = -62135596800 // 0001-01-01
	maxDatetimeSecond  = 253402300799 // 9999-12-31 23:59:59
	minDateDay         = -719162
	maxDateDay         = 2932896
	maxTimedeltaSecond = 999999999*86400 + 86399
	minTimedeltaSecond = -999999999 * 86400
)

// readableRange is the range of rv's kind that Python reads back, in
// seconds (days for dates), and the name of its Python type.
func readableRange(kind valueKind) (int64, int64, string) {
	switch kind {
	case kindDate:
		return minDateDay, maxDateDay, "date"
	case kindDuration:
		return minTimedeltaSecond, maxTimedeltaSecond, "timedelta"
	}
	return minDatetimeSecond, maxDatetimeSecond, "datetime"
}

// withinSeconds says whether n ticks of rv's unit (days for a date) lie
// within [lo, hi] whole seconds (days).
func withinSeconds(n int64, rv recordValue, lo, hi int64) bool {
	if rv.kind != kindDate {
		per := 1e9 / unitNanos[rv.unit]
		sec := n / per
		if n%per < 0 {
			sec-- // floored: a negative value's whole seconds
		}
		n = sec
	}
	return n >= lo && n <= hi
}

// inferScalar is the type a field takes from its first scalar value.
func inferScalar(d *pymarshal.Decoder, path string, rv recordValue) (arrow.DataType, error) {
	switch rv.kind {
	case kindBigInt: // beyond int64: numpy's uint64 values, which pyarrow types uint64
		if v := d.BigInt(rv.node); v.Sign() > 0 && v.IsUint64() {
			return arrow.PrimitiveTypes.Uint64, nil
		}
		return nil, tooBig(d, path, rv)
	case kindUUID: // pyarrow's extension<arrow.uuid> (inferredMetadata)
		return uuidStorage, nil
	case kindDecimal:
		v, _ := parseDecimal(string(d.Bytes(rv.arg)))
		if v.scale > maxDecimalDigits {
			return nil, fmt.Errorf("%w: field %s: Decimal %s has %d digits after the point, more than decimal128 holds (%d)", ErrInvalidArgument, pyName(path), d.Bytes(rv.arg), v.scale, maxDecimalDigits)
		}
		if digitCount(v.unscaled) > maxDecimalDigits {
			return nil, fmt.Errorf("%w: field %s: Decimal %s has more than %d digits (decimal128's precision)", ErrInvalidArgument, pyName(path), d.Bytes(rv.arg), maxDecimalDigits)
		}
		return &arrow.Decimal128Type{Precision: maxDecimalDigits, Scale: v.scale}, nil
	}
	switch rv.kind {
	case kindTimestamp:
		return &arrow.TimestampType{Unit: rv.unit}, nil
	case kindTimestampTZ:
		return &arrow.TimestampType{Unit: rv.unit, TimeZone: "UTC"}, nil
	case kindDuration:
		return &arrow.DurationType{Unit: rv.unit}, nil
	}
	return kindTypes[rv.kind], nil
}

func tooBig(d *pymarshal.Decoder, path string, rv recordValue) error {
	return fmt.Errorf("%w: field %s: %s does not fit in int64", ErrInvalidArgument, pyName(path), d.BigInt(rv.node))
}

func unstorable(d *pymarshal.Decoder, path string, rv recordValue) error {
	if name := rv.typeName(d); strings.HasPrefix(name, "datetime64") || strings.HasPrefix(name, "timedelta64") {
		return fmt.Errorf("%w: field %s: cannot store a numpy %s: its values are stored in the units W, D, h, m, s, ms, us and ns (months and years have no fixed length; Arrow has no unit finer than ns) - convert it first, e.g. .astype('%s[s]')",
			ErrType, pyName(path), name, name[:strings.IndexByte(name+"[", '[')])
	}
	if name := rv.typeName(d); name == "set" || name == "frozenset" {
		// pyarrow makes a list of a set (in its iteration order) and refuses a frozenset.
		return fmt.Errorf("%w: field %s: cannot store a %s: it has no order, and reads would return a list - store sorted(...) (a list) instead",
			ErrType, pyName(path), name)
	}
	return fmt.Errorf("%w: field %s: cannot store a value of type %s (supported: %s)", ErrType, pyName(path), rv.typeName(d), storableKinds)
}

func badTag(d *pymarshal.Decoder, path string, rv recordValue) error {
	if d.Len(rv.node) == 3 { // a value too far from the epoch (timedelta.max in microseconds)
		tag := d.Next(d.First(rv.node))
		if d.Kind(tag) == pymarshal.Str && d.Kind(d.Next(tag)) == pymarshal.BigInt {
			return fmt.Errorf("%w: field %s: %s is out of range: its int does not fit in int64", ErrInvalidArgument, pyName(path), valueRepr(d, rv, 80))
		}
	}
	return fmt.Errorf("%w: field %s: %s is not a tagged value of the record encoding (a tuple starting with Ellipsis is one of (..., 'timestamp'|'timestamp_tz'|'date'|'time'|'duration', int), (..., 'decimal'|'unsupported', str), (..., 'uuid', 16 bytes) or numpy's (..., 'M8[unit]'|'M8[unit], UTC'|'m8[unit]', int), (..., 'empty', a zero of the dtype))",
		ErrInvalidArgument, pyName(path), valueRepr(d, rv, 80))
}

func isNestedType(t arrow.DataType) bool {
	if t == nil {
		return false
	}
	switch t.ID() {
	case arrow.STRUCT, arrow.LIST, arrow.LARGE_LIST, arrow.FIXED_SIZE_LIST, arrow.MAP:
		return true
	}
	return false
}

func isListType(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.LIST, arrow.LARGE_LIST, arrow.FIXED_SIZE_LIST:
		return true
	}
	return false
}

// valueType is the type a (nested) field of type expected (nil: untyped)
// has after it takes the value: expected itself when the value fits, a
// refined type when expected has untyped parts, or - with grow, for a type
// this unit inferred - one with new struct fields or ints widened to float.
func (r *recordRules) valueType(path string, expected arrow.DataType, rv recordValue, grow bool, depth, lists int) (arrow.DataType, error) {
	d := r.d
	if expected != nil && expected.ID() == arrow.NULL {
		expected = nil
	}
	if rv.kind == kindNone {
		if expected == nil {
			return arrow.Null, nil
		}
		return expected, nil
	}
	if depth > maxNesting || (lists > 0 && depth > maxListNesting) {
		return nil, nestingError(path, lists > 0)
	}
	switch rv.kind {
	case kindDict:
		return r.dictType(path, expected, rv, grow, depth, lists)
	case kindList, kindEmptyList:
		return r.listType(path, expected, rv, grow, depth, lists)
	case kindUnsupported:
		return nil, unstorable(d, path, rv)
	case kindBadTag:
		return nil, badTag(d, path, rv)
	}
	if err := r.scalarValid(path, rv); err != nil {
		return nil, err
	}
	if expected == nil {
		return inferScalar(d, path, rv)
	}
	if isNestedType(expected) {
		return nil, fmt.Errorf("%w: field %s: expected %s, found %s", ErrSchemaMismatch, pyName(path), typeText(expected), describe(d, rv))
	}
	if fits(d, expected, rv) {
		return expected, nil
	}
	if rv.kind == kindBigInt {
		return nil, tooBig(d, path, rv)
	}
	if grow && rv.kind == kindFloat && arrow.IsInteger(expected.ID()) {
		return arrow.PrimitiveTypes.Float64, nil
	}
	return nil, fmt.Errorf("%w: field %s: expected %s, found %s%s", ErrSchemaMismatch, pyName(path), typeText(expected), describe(d, rv), whyNotFixedType(d, expected, rv))
}

func (r *recordRules) dictType(path string, expected arrow.DataType, rv recordValue, grow bool, depth, lists int) (arrow.DataType, error) {
	d := r.d
	v := rv.node
	if mt, ok := expected.(*arrow.MapType); ok {
		return r.mapType(path, mt, rv, depth, lists)
	}
	var st *arrow.StructType
	if expected != nil {
		var ok bool
		if st, ok = expected.(*arrow.StructType); !ok {
			return nil, fmt.Errorf("%w: field %s: expected %s, found a dict", ErrSchemaMismatch, pyName(path), typeText(expected))
		}
	}
	if d.Len(v) == 0 && expected == nil {
		return nil, fmt.Errorf("%w: field %s: cannot infer a struct from an empty dict (a struct column needs at least one field)", ErrInvalidArgument, pyName(path))
	}
	var children []arrow.Field
	index := map[string]int{}
	if st != nil {
		children = append(children, st.Fields()...)
		for i, f := range children {
			index[f.Name] = i
		}
	}
	changed := expected == nil
	seen := make(map[string]bool, d.Len(v))
	for k, key := 0, d.First(v); k < d.Len(v); k++ {
		val := d.Next(key)
		name, err := r.key(key, path)
		if err != nil {
			return nil, err
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: field %s: key %s appears twice", ErrInvalidArgument, pyName(path), pyName(name))
		}
		seen[name] = true
		ci, ok := index[name]
		if !ok {
			ci = -1
		}
		if ci < 0 && expected != nil && !grow {
			return nil, fmt.Errorf("%w: field %s: %s is not a field of its struct %s (a struct keeps the fields it was first stored with)",
				ErrSchemaMismatch, pyName(path), pyName(name), typeText(expected))
		}
		var childType arrow.DataType
		if ci >= 0 {
			childType = children[ci].Type
			if ok, err := r.bool8Value(path+"."+name, children[ci], valueOf(d, val)); ok || err != nil {
				key = d.Next(val)
				if err != nil {
					return nil, err
				}
				continue
			}
		}
		fresh := childType == nil || childType.ID() == arrow.NULL // inferred afresh, as a new field
		sub, err := r.valueType(path+"."+name, childType, valueOf(d, val), grow || fresh, depth+1, lists)
		if err != nil {
			return nil, err
		}
		switch {
		case ci < 0:
			index[name] = len(children)
			children = append(children, arrow.Field{Name: name, Type: sub, Nullable: true, Metadata: inferredMetadata(sub)})
			changed = true
		case !sameType(sub, childType):
			if childType.ID() == arrow.NULL {
				children[ci].Metadata = inferredMetadata(sub)
			}
			children[ci].Type = sub
			changed = true
		}
		key = d.Next(val)
	}
	if !changed {
		return expected, nil
	}
	return arrow.StructOf(children...), nil
}

func (r *recordRules) listType(path string, expected arrow.DataType, rv recordValue, grow bool, depth, lists int) (arrow.DataType, error) {
	d := r.d
	v := rv.node
	if mt, ok := expected.(*arrow.MapType); ok {
		return r.mapType(path, mt, rv, depth, lists)
	}
	if expected != nil && !isListType(expected) {
		return nil, fmt.Errorf("%w: field %s: expected %s, found a %s", ErrSchemaMismatch, pyName(path), typeText(expected), rv.typeName(d))
	}
	n, _ := listLen(d, v)
	if err := elementsKind(d, path, rv); err != nil {
		return nil, err
	}
	item := arrow.Field{Name: "item", Type: arrow.Null, Nullable: true}
	if expected != nil {
		item = expected.(arrow.ListLikeType).ElemField()
		if fl, ok := expected.(*arrow.FixedSizeListType); ok && int32(n) != fl.Len() {
			return nil, fmt.Errorf("%w: field %s: expected %s (%d elements), found %d elements", ErrSchemaMismatch, pyName(path), typeText(expected), fl.Len(), n)
		}
	}
	elem := item.Type
	// Items still untyped are inferred afresh: ints among floats make floats.
	grow = grow || elem.ID() == arrow.NULL
	if elem.ID() == arrow.NULL && unsignedInts(d, v) {
		elem = arrow.PrimitiveTypes.Uint64 // numpy's uint64 values, as pyarrow types them
	}
	if elem.ID() == arrow.NULL && rv.kind == kindEmptyList { // typed by its payload, as an item would be
		var err error
		if elem, err = r.valueType(path+"[]", nil, valueOf(d, rv.arg), true, depth+1, lists+1); err != nil {
			return nil, err
		}
	}
	for i, it := 0, d.First(v); i < n; i, it = i+1, d.Next(it) {
		if ok, err := r.bool8Value(path+"[]", item, valueOf(d, it)); ok || err != nil {
			if err != nil {
				return nil, err
			}
			continue
		}
		var err error
		if elem, err = r.valueType(path+"[]", elem, valueOf(d, it), grow, depth+1, lists+1); err != nil {
			return nil, err
		}
	}
	if expected != nil && sameType(elem, item.Type) {
		return expected, nil
	}
	if item.Type.ID() == arrow.NULL {
		item.Metadata = inferredMetadata(elem)
	}
	item.Type = elem
	switch t := expected.(type) {
	case *arrow.FixedSizeListType:
		return arrow.FixedSizeListOfField(t.Len(), item), nil
	case *arrow.LargeListType:
		return arrow.LargeListOfField(item), nil
	}
	return arrow.ListOfField(item), nil
}

// elementsKind refuses a list whose non-None elements are of more than one
// kind (ints among floats are fine: the list holds floats).
func elementsKind(d *pymarshal.Decoder, path string, rv recordValue) error {
	kinds := map[string]bool{}
	v := rv.node
	n, _ := listLen(d, v)
	for i, it := 0, d.First(v); i < n; i, it = i+1, d.Next(it) {
		iv := valueOf(d, it)
		if iv.kind != kindNone {
			kinds[elementKindName(d, iv)] = true
		}
	}
	if len(kinds) <= 1 || (len(kinds) == 2 && kinds["int"] && kinds["float"]) {
		return nil
	}
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	return fmt.Errorf("%w: field %s: cannot store a %s whose elements mix %s: a list column holds one element type - convert the elements to one type, serialise the list (json.dumps), or store them as fields",
		ErrType, pyName(path), rv.typeName(d), strings.Join(names, ", "))
}

// fits says whether a scalar value can be stored in a column of type t as it is.
func fits(d *pymarshal.Decoder, t arrow.DataType, rv recordValue) bool {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		switch rv.kind {
		case kindInt:
			lo, hi := intRange(t)
			i := d.Int(rv.node)
			if i < 0 {
				return lo < 0 && i >= lo
			}
			return uint64(i) <= hi
		case kindBigInt:
			_, ok := bigUint64(d, rv, t)
			return ok
		}
		return false
	case arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64:
		if rv.kind == kindFloat {
			return true
		}
		if rv.kind != kindInt {
			return false
		}
		limit := exactIntLimit(t.ID())
		i := d.Int(rv.node)
		return i >= -limit && i <= limit
	case arrow.BOOL:
		return rv.kind == kindBool
	case arrow.DICTIONARY:
		dt := t.(*arrow.DictionaryType)
		return dictionaryValuesPut(dt) && fits(d, dt.ValueType, rv)
	case arrow.STRING, arrow.LARGE_STRING:
		return rv.kind == kindStr
	case arrow.BINARY, arrow.LARGE_BINARY:
		return rv.kind == kindBytes
	case arrow.TIMESTAMP:
		tz := t.(*arrow.TimestampType).TimeZone != ""
		if (rv.kind != kindTimestamp || tz) && (rv.kind != kindTimestampTZ || !tz) {
			return false
		}
		n, ok := rv.ticks(d)
		_, in := ticksIn(n, rv.unit, t.(*arrow.TimestampType).Unit)
		return ok && in
	case arrow.DATE32:
		return rv.kind == kindDate && d.Int(rv.arg) >= math.MinInt32 && d.Int(rv.arg) <= math.MaxInt32
	case arrow.DATE64:
		return rv.kind == kindDate && d.Int(rv.arg) >= math.MinInt64/86400000 && d.Int(rv.arg) <= math.MaxInt64/86400000
	case arrow.TIME32, arrow.TIME64, arrow.DURATION:
		_, ok := timeTypeIn(d, t, rv)
		return ok
	}
	fit, _ := fitsFixedType(d, t, rv)
	return fit
}

// intRange is the range of an integer type (hi as uint64, so uint64 fits).
func intRange(t arrow.DataType) (int64, uint64) {
	switch t.ID() {
	case arrow.INT8:
		return math.MinInt8, math.MaxInt8
	case arrow.INT16:
		return math.MinInt16, math.MaxInt16
	case arrow.INT32:
		return math.MinInt32, math.MaxInt32
	case arrow.INT64:
		return math.MinInt64, math.MaxInt64
	case arrow.UINT8:
		return 0, math.MaxUint8
	case arrow.UINT16:
		return 0, math.MaxUint16
	case arrow.UINT32:
		return 0, math.MaxUint32
	}
	return 0, math.MaxUint64
}

// bigUint64 is an int beyond int64 as a uint64, for a uint64 column only.
func bigUint64(d *pymarshal.Decoder, rv recordValue, t arrow.DataType) (uint64, bool) {
	if t.ID() != arrow.UINT64 {
		return 0, false
	}
	v := d.BigInt(rv.node)
	if v.Sign() < 0 || !v.IsUint64() {
		return 0, false
	}
	return v.Uint64(), true
}

// timestampIn converts microseconds to unit, false when that loses precision
// or overflows.
func timestampIn(unit arrow.TimeUnit, micros int64) (int64, bool) {
	return ticksIn(micros, arrow.Microsecond, unit)
}

// unitNanos is the length of one tick of unit, in nanoseconds.
var unitNanos = [...]int64{arrow.Second: 1e9, arrow.Millisecond: 1e6, arrow.Microsecond: 1e3, arrow.Nanosecond: 1}

// ticksIn converts n ticks of unit from to unit to, false when that loses
// precision or overflows.
func ticksIn(n int64, from, to arrow.TimeUnit) (int64, bool) {
	f, t := unitNanos[from], unitNanos[to]
	if f < t {
		return n / (t / f), n%(t/f) == 0
	}
	m := f / t
	if n > math.MaxInt64/m || n < math.MinInt64/m {
		return 0, false
	}
	return n * m, true
}

// widened is, on an evolving bucket, the type an integer field of type t
// widens to so that it holds the value without loss (nil: none does): a
// float makes it float64, an int beyond a narrower type int64. Stored values
// are converted exactly or the change is refused (evolveDataset).
func widened(d *pymarshal.Decoder, t arrow.DataType, rv recordValue) arrow.DataType {
	if !arrow.IsInteger(t.ID()) {
		return nil
	}
	switch {
	case rv.kind == kindFloat:
		return arrow.PrimitiveTypes.Float64
	case rv.kind == kindInt && t.(arrow.FixedWidthDataType).BitWidth() < 64:
		return arrow.PrimitiveTypes.Int64
	}
	return nil
}

// settled is t with its untyped parts typed as untypedFallback.
func settled(t arrow.DataType) arrow.DataType {
	switch t := t.(type) {
	case *arrow.NullType:
		return untypedFallback
	case *arrow.StructType:
		fields := append([]arrow.Field(nil), t.Fields()...)
		for i := range fields {
			fields[i].Type = settled(fields[i].Type)
		}
		return arrow.StructOf(fields...)
	case *arrow.FixedSizeListType:
		item := t.ElemField()
		item.Type = settled(item.Type)
		return arrow.FixedSizeListOfField(t.Len(), item)
	case *arrow.LargeListType:
		item := t.ElemField()
		item.Type = settled(item.Type)
		return arrow.LargeListOfField(item)
	case *arrow.ListType:
		item := t.ElemField()
		item.Type = settled(item.Type)
		return arrow.ListOfField(item)
	}
	return t
}

// decodeError maps a pymarshal error to the engine's kinds: data outside the
// encoding's subset is a type error, malformed data an invalid argument.
func decodeError(err error) error {
	if errors.Is(err, pymarshal.ErrUnsupported) {
		return fmt.Errorf("%w: the records hold a value the record encoding does not carry: %w", ErrType, err)
	}
	return fmt.Errorf("%w: the records are not valid marshal data: %w", ErrInvalidArgument, err)
}

// sameType says whether two types (nil: none) are equal. Types are compared
// by value, not by interface identity, which would panic on a type that is
// not comparable.
func sameType(a, b arrow.DataType) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return arrow.TypeEqual(a, b)
}
