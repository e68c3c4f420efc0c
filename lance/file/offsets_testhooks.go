//go:build testhooks

package file

// SetOffsetsLimit makes the reader refuse (ErrOffsetsOverflow) arrays whose
// offsets pass n instead of 2^31 - 1, so callers' tests split reads without
// gigabytes of values; it returns what restores the limit. Only in test
// builds (build tag testhooks); not safe while files are read.
func SetOffsetsLimit(n int64) (restore func()) {
	old := offsetsLimit
	offsetsLimit = n
	return func() { offsetsLimit = old }
}
