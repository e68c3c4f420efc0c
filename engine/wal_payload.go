package engine

import (
	"bytes"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// A WAL entry holds one appended record batch as an Arrow IPC stream (schema
// message + one record batch message): self-describing, so replay needs no
// state, and decodable by any Arrow implementation for forensics.

func encodeWALRecord(rec arrow.Record) ([]byte, error) {
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(rec.Schema()))
	if err := w.Write(rec); err != nil {
		return nil, fmt.Errorf("engine: encode WAL entry: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("engine: encode WAL entry: %w", err)
	}
	return buf.Bytes(), nil
}

// decodeWALRecord decodes one entry; the record's buffers come from alloc, so
// rows replayed from the WAL can be exported to C like any other.
func decodeWALRecord(payload []byte, alloc memory.Allocator) (arrow.Record, error) {
	r, err := ipc.NewReader(bytes.NewReader(payload), ipc.WithAllocator(alloc))
	if err != nil {
		return nil, err
	}
	defer r.Release()
	if !r.Next() {
		if r.Err() != nil {
			return nil, r.Err()
		}
		return nil, fmt.Errorf("entry holds no record batch")
	}
	rec := r.Record()
	rec.Retain()
	if r.Next() {
		rec.Release()
		return nil, fmt.Errorf("entry holds more than one record batch")
	}
	return rec, nil
}
