package file

import (
	"fmt"

	"github.com/persisting/persisting/lance/schema"
)

// lance.file.FileDescriptor {1 schema (lance.file.Schema), 2 length (rows)},
// stored as global buffer 0. Lance reads the row count from it and requires
// it to sit after the data pages and before the column metadata.

func marshalDescriptor(fields []schema.Field, md map[string][]byte, rows uint64) []byte {
	b := pbBytes(nil, 1, schema.MarshalSchema(fields, md))
	return pbVarintNZ(b, 2, rows)
}

type descriptor struct {
	schemaBytes []byte
	haveSchema  bool
	length      uint64
}

func decodeDescriptor(b []byte) (descriptor, error) {
	var d descriptor
	err := pbWalk(b, func(f pbField) error {
		var err error
		switch f.num {
		case 1:
			d.schemaBytes, err = f.wantBytes("FileDescriptor.schema")
			d.haveSchema = true
		case 2:
			d.length, err = f.wantVarint("FileDescriptor.length")
		}
		return err
	})
	if err != nil {
		return d, fmt.Errorf("lance file: file descriptor: %w", err)
	}
	return d, nil
}
