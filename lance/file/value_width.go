package file

import "github.com/apache/arrow/go/v17/arrow"

// fixedValueBits is the width in bits of one value of a flat Arrow type
// whose values Lance stores as whole bytes each, the same for every value:
// integers, floats, temporal types, decimal128/256 and fixed_size_binary
// (pylance 14 gives the last three the fixed-width pages and encodings of
// a number of their width). 0: dt is not such a type.
func fixedValueBits(dt arrow.DataType) int {
	fw, ok := dt.(arrow.FixedWidthDataType)
	if !ok || dt.ID() == arrow.BOOL || dt.ID() == arrow.DICTIONARY {
		return 0
	}
	if b := fw.BitWidth(); b >= 8 && b%8 == 0 {
		return b
	}
	return 0
}

// opaqueBytes reports whether dt's fixed-width values are bytes rather than
// a number: decimals and fixed_size_binary (which pylance never gives an
// integer dictionary).
func opaqueBytes(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.FIXED_SIZE_BINARY, arrow.DECIMAL128, arrow.DECIMAL256:
		return true
	}
	return false
}

// bytesWord is the integer word pylance 14 takes a fixed_size_binary value
// of 1, 2, 4 or 8 bytes for (its little-endian bytes): such pages are
// bit-packed and run-length encoded as those integers are. 0: any other
// type or width.
func bytesWord(dt arrow.DataType) int {
	if t, ok := dt.(*arrow.FixedSizeBinaryType); ok {
		switch t.ByteWidth {
		case 1, 2, 4, 8:
			return 8 * t.ByteWidth
		}
	}
	return 0
}
