package file

import "github.com/persisting/persisting/lance/schema"

// CheckWritable reports whether WriteFile can encode columns of these fields,
// so a caller can refuse data up front rather than hold rows it can never
// write.
//
// It checks for file version 2.0; CheckWritableVersion checks for another.
func CheckWritable(fields []schema.Field) error {
	return CheckWritableVersion(fields, V2_0)
}

// CheckWritableVersion reports whether WriteFile can encode columns of these
// fields in a file of version v. 2.0 takes flat types, fixed_size_list of
// fixed-width numbers or bools, and list / large_list of those, of strings
// and of lists (write20_nested.go), but no struct or map; 2.1 also structs,
// 2.2 maps, nested in any way, with nulls at every level.
func CheckWritableVersion(fields []schema.Field, v Version) error {
	v, err := v.normalize()
	if err != nil {
		return err
	}
	_, _, err = newTopWriters(fields, v, "", WriteOptions{})
	return err
}
