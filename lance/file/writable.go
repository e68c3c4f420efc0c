package file

import "github.com/persisting/persisting/lance/schema"

// CheckWritable reports whether WriteFile can encode columns of these fields,
// so a caller can refuse data up front rather than hold rows it can never
// write.
func CheckWritable(fields []schema.Field) error {
	_, err := newColumnWriters(fields, WriteOptions{})
	return err
}
