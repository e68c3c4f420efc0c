// Package pymarshal decodes the values of CPython's marshal format (versions
// 2 to 4, as marshal.dumps(obj, version) writes them) that records are made
// of: None, bool, int, float, str, bytes, list, tuple, dict and Ellipsis, with
// the back-references (FLAG_REF, TYPE_REF) marshal emits for shared objects
// such as repeated keys. It lets Python hand a record to Go in one C call at
// the cost of marshal.dumps, without building Arrow arrays in Python.
//
// Decoding does not build Go values: it fills a flat, reusable table of
// nodes (a preorder walk of the object tree) whose strings and bytes are
// sub-slices of the input, so a Decoder that is reused allocates nothing.
//
// Two kinds of value decode although no column can take them as they are, so
// that the caller can name the field in its error: an int beyond int64 is a
// BigInt node, and a str that is not valid UTF-8 (marshal passes a lone
// surrogate through) is a Str node for which ValidUTF8 is false.
// Anything else outside the subset (sets, complex numbers, code objects,
// text floats of marshal versions 0 and 1, references that form a cycle) is
// an error wrapping ErrUnsupported; malformed input is an error wrapping
// ErrTruncated or ErrInvalid. No input makes Decode panic.
package pymarshal
