package lance

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/persisting/persisting/lance/file"
	"github.com/persisting/persisting/lance/schema"
)

// CheckWritable reports whether Write can store records of schema s in a new
// dataset: names Lance accepts and column types the data file writer encodes.
// The error wraps ErrUnsupported and names the field.
func CheckWritable(s *arrow.Schema) error {
	fields, err := schema.FromArrow(s, 0)
	if err == nil {
		err = file.CheckWritable(fields)
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	return nil
}

// CheckAppendable reports whether Write can append to this dataset (its data
// storage version and data files are ones this writer produces); the error
// wraps ErrUnsupported and says why.
func (d *Dataset) CheckAppendable() error { return checkAppendable(d) }
