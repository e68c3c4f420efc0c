package lance

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/persisting/persisting/lance/file"
	"github.com/persisting/persisting/lance/schema"
)

// CheckWritable reports whether Write can store records of schema s in a new
// dataset of the default data storage version (DefaultDataStorageVersion):
// names Lance accepts and column types the data file writer encodes. The
// error wraps ErrUnsupported and names the field.
func CheckWritable(s *arrow.Schema) error {
	return CheckWritableVersion(s, "")
}

// CheckWritableVersion is CheckWritable for data storage version version
// ("2.0", "2.1", "2.2"; "" means DefaultDataStorageVersion), e.g. the
// DataStorageVersion of a dataset rows will be appended to. Version 2.0
// takes flat columns only (integers, floats, bool, strings, binaries,
// dates, times, timestamps, durations); 2.1 and 2.2 also struct, list,
// large_list and fixed_size_list of fixed-width numbers (or of such
// fixed_size_lists: matrices), nested in any way,
// with nulls at every level. A version this package does not write is an
// error wrapping ErrUnsupported.
func CheckWritableVersion(s *arrow.Schema, version string) error {
	v, err := parseStorageVersion(version)
	if err != nil {
		return err
	}
	fields, err := schema.FromArrow(s, 0)
	if err == nil {
		err = file.CheckWritableVersion(fields, v)
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	return nil
}

// CheckAppendable reports whether Write can append rows to this dataset: its
// writer feature flags, its data storage version and data files, and every
// one of its columns in that version are ones this writer produces. The
// error wraps ErrUnsupported and says why (naming the flag, file or column).
func (d *Dataset) CheckAppendable() error { return checkAppendable(d) }
