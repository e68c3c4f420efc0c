package engine

import (
	"bytes"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// The payload of a WAL entry is one of two kinds, told apart by its first
// byte (the format is specified in doc.go, "WAL entries"):
//
//   - walArrowKind (0xFF): one appended record batch as an Arrow IPC stream
//     (schema message + one record batch message). 0xFF is the first byte of
//     the stream itself (the IPC continuation marker), so the payload is the
//     stream unchanged.
//   - walRecordsKind ('M'): one AppendRecords call, the byte followed by the
//     call's data in the record encoding v1, unchanged.

// walArrowKind is the first byte of an Arrow entry: the IPC continuation marker.
const walArrowKind = 0xFF

// walEntryKindOf returns the kind of a payload, or an error naming an
// unknown one (a newer format, or damage the checksum did not catch).
func walEntryKindOf(payload []byte) (byte, error) {
	if len(payload) == 0 {
		return 0, fmt.Errorf("empty WAL entry")
	}
	switch k := payload[0]; k {
	case walArrowKind, walRecordsKind:
		return k, nil
	default:
		return 0, fmt.Errorf("WAL entry of unknown kind 0x%02x (written by a newer version?)", k)
	}
}

func encodeWALRecord(rec arrow.Record) ([]byte, error) {
	// Sized up front: growing a buffer by doubling allocates up to twice a
	// big record's size on the way (an estimate too small only grows it).
	buf := bytes.NewBuffer(make([]byte, 0, ipcSizeHint(rec)))
	w := ipc.NewWriter(buf, ipc.WithSchema(rec.Schema()))
	if err := w.Write(rec); err != nil {
		return nil, fmt.Errorf("engine: encode WAL entry: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("engine: encode WAL entry: %w", err)
	}
	return buf.Bytes(), nil
}

// ipcSizeHint estimates the bytes of rec's IPC stream: its buffers, each
// padded to 8 bytes, and room for the schema and record messages
// (dictionaries are left out: the buffer grows for them).
func ipcSizeHint(rec arrow.Record) int {
	n := 4096
	var add func(d arrow.ArrayData)
	add = func(d arrow.ArrayData) {
		for _, b := range d.Buffers() {
			if b != nil {
				n += (b.Len() + 7) &^ 7
			}
			n += 64 // its metadata
		}
		for _, c := range d.Children() {
			add(c)
		}
	}
	for _, col := range rec.Columns() {
		add(col.Data())
	}
	return n
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
