// Package pymarshal decodes the values of CPython's marshal format that
// marshal.dumps(obj, 4) writes for plain records: None, bool, int (within
// int64), float, str, bytes, list, tuple and dict, with the back-references
// (FLAG_REF, TYPE_REF) marshal emits for shared objects such as repeated
// keys. It lets Python hand a record to Go in one C call at the cost of
// marshal.dumps, without building Arrow arrays in Python.
//
// Decoding does not build Go values: it fills a flat, reusable table of
// nodes (a preorder walk of the object tree) whose strings and bytes are
// sub-slices of the input, so a Decoder that is reused allocates nothing.
// Anything outside the subset (sets, complex numbers, code objects, text
// floats, ints beyond int64, references that form a cycle) is an error
// wrapping ErrUnsupported; malformed input is an error wrapping
// ErrTruncated or ErrInvalid. No input makes Decode panic.
package pymarshal
