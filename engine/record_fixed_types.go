package engine

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/decimal256"

	"github.com/persisting/persisting/pymarshal"
)

// Record values into columns of fixed_size_binary[n], decimal128(p, s) and
// decimal256(p, s) - types a bucket gets from a dataset or from Arrow data,
// never from a record (a Decimal infers decimal128(38, s); bytes binary):
// bytes of exactly n bytes (a UUID into n = 16: arrow.uuid's storage); a Decimal at the column's scale without losing
// a digit, within its precision.

// fitsFixedType reports whether rv fits t, one of these types, as it is
// (handled: t is one of them).
func fitsFixedType(d *pymarshal.Decoder, t arrow.DataType, rv recordValue) (fit, handled bool) {
	switch t := t.(type) {
	case *arrow.FixedSizeBinaryType:
		return rv.kind == kindBytes && len(d.Bytes(rv.node)) == t.ByteWidth || rv.kind == kindUUID && t.ByteWidth == 16, true
	case arrow.DecimalType:
		if rv.kind != kindDecimal {
			return false, true
		}
		_, ok := decimalIn(d, t, rv)
		return ok, true
	}
	return false, false
}

// decimalIn is rv's unscaled value at t's scale, false when that loses
// digits or needs more than t's precision.
func decimalIn(d *pymarshal.Decoder, t arrow.DecimalType, rv recordValue) (decimalValue, bool) {
	v, err := parseDecimal(string(d.Bytes(rv.arg)))
	if err != nil {
		return decimalValue{}, false
	}
	u, ok := v.rescaled(t.GetPrecision(), t.GetScale())
	return decimalValue{unscaled: u, scale: t.GetScale()}, ok
}

// whyNotFixedType says why rv, of the kind t takes, does not fit t: the
// width against the length, the digits against scale and precision ("" when
// rv is of another kind, or t not one of these types).
func whyNotFixedType(d *pymarshal.Decoder, t arrow.DataType, rv recordValue) string {
	if isTimeType(t) {
		return whyNotTimeType(d, t, rv)
	}
	if ts, ok := t.(*arrow.TimestampType); ok && (ts.TimeZone == "") == (rv.kind == kindTimestamp) && (rv.kind == kindTimestamp || rv.kind == kindTimestampTZ) {
		return fmt.Sprintf(" (the column's unit cannot hold it exactly: %s would lose precision or overflow)", typeText(t))
	}
	switch t := t.(type) {
	case *arrow.DictionaryType:
		if !dictionaryValuesPut(t) && rv.kind != kindNone {
			return fmt.Sprintf(" (a record puts only None into a dictionary of %s values: append such values as Arrow data (put_arrow))", typeText(t.ValueType))
		}
	case *arrow.FixedSizeBinaryType:
		if rv.kind == kindBytes {
			return fmt.Sprintf(" (the column takes bytes of length %d, this is of length %d)", t.ByteWidth, len(d.Bytes(rv.node)))
		}
		if rv.kind == kindUUID {
			return fmt.Sprintf(" (the column takes bytes of length %d, a UUID is 16 bytes)", t.ByteWidth)
		}
	case arrow.DecimalType:
		if rv.kind != kindDecimal {
			return ""
		}
		v, err := parseDecimal(string(d.Bytes(rv.arg)))
		if err != nil {
			return ""
		}
		if v.scale > t.GetScale() {
			if _, ok := v.rescaled(maxDecimal256Digits, t.GetScale()); !ok {
				return fmt.Sprintf(" (it has %d digits after the point, the column's scale is %d: it would lose digits)", v.scale, t.GetScale())
			}
		}
		return fmt.Sprintf(" (it needs more than the column's precision of %d digits at scale %d)", t.GetPrecision(), t.GetScale())
	}
	return ""
}

// appendFixedType appends v, checked by fitsFixedType, to c's builder.
func appendFixedType(d *pymarshal.Decoder, c *recordColumn, v pymarshal.Node) {
	switch b := c.build.(type) {
	case *array.FixedSizeBinaryBuilder:
		if d.Kind(v) == pymarshal.Tuple { // a UUID
			v = tagArg(d, v)
		}
		b.Append(d.Bytes(v))
	case *array.Decimal128Builder:
		dv, _ := decimalIn(d, c.typ.(arrow.DecimalType), valueOf(d, v))
		b.Append(decimal128.FromBigInt(dv.unscaled))
	case *array.Decimal256Builder:
		dv, _ := decimalIn(d, c.typ.(arrow.DecimalType), valueOf(d, v))
		b.Append(decimal256.FromBigInt(dv.unscaled))
	}
}

// uuidStorage is the type a UUID infers: arrow.uuid's storage, the field
// carrying the extension's name (inferredMetadata), as pyarrow infers
// extension<arrow.uuid> from uuid.UUID values.
var uuidStorage = &arrow.FixedSizeBinaryType{ByteWidth: 16}

// inferredMetadata is the metadata of a field the rules typed t: the
// arrow.uuid extension for a UUID's type, else none.
func inferredMetadata(t arrow.DataType) arrow.Metadata {
	if t == uuidStorage {
		return arrow.NewMetadata([]string{extensionNameKey, extensionParamsKey}, []string{"arrow.uuid", ""})
	}
	return arrow.Metadata{}
}

// isBool8 says whether f is an arrow.bool8 column: int8 storage, 0 false
// and anything else true; a record puts bools only.
func isBool8(f arrow.Field) bool {
	i := f.Metadata.FindKey(extensionNameKey)
	return i >= 0 && f.Metadata.Values()[i] == "arrow.bool8" && f.Type.ID() == arrow.INT8
}

// bool8Value checks rv against f when f is an arrow.bool8 field: ok when rv
// is a bool (or None) it takes, an error for another value; neither when f
// is not bool8.
func (r *recordRules) bool8Value(path string, f arrow.Field, rv recordValue) (bool, error) {
	if !isBool8(f) {
		return false, nil
	}
	if rv.kind == kindBool || rv.kind == kindNone {
		return true, nil
	}
	return false, fmt.Errorf("%w: field %s: expected arrow.bool8 (a bool), found %s", ErrSchemaMismatch, pyName(path), describe(r.d, rv))
}

// unsignedInts says whether the list v holds an int beyond int64 that a
// uint64 holds and no negative int: numpy's uint64 values (tolist()).
func unsignedInts(d *pymarshal.Decoder, v pymarshal.Node) bool {
	big := false
	n, _ := listLen(d, v)
	for i, it := 0, d.First(v); i < n; i, it = i+1, d.Next(it) {
		switch d.Kind(it) {
		case pymarshal.BigInt:
			if b := d.BigInt(it); b.Sign() < 0 || !b.IsUint64() {
				return false
			}
			big = true
		case pymarshal.Int:
			if d.Int(it) < 0 {
				return false
			}
		}
	}
	return big
}
