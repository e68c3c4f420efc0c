package wal

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

func TestDecodeEntry(t *testing.T) {
	valid := appendEntry(nil, []byte("hello"))
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(valid)) }
	tests := []struct {
		name   string
		frame  []byte
		want   []byte // payload, nil if an error is wanted
		reason string // part of the error
	}{
		{"valid", valid, []byte("hello"), ""},
		{"empty payload", appendEntry(nil, nil), []byte{}, ""},
		{"empty frame", nil, nil, "shorter than"},
		{"header only, short", valid[:headerSize-1], nil, "shorter than"},
		{"cut payload", valid[:len(valid)-1], nil, "length field"},
		{"extra byte", append(bytes.Clone(valid), 0), nil, "length field"},
		{"format byte", mod(func(b []byte) []byte { b[0] = 2; return b }), nil, "format byte"},
		{"zeros", make([]byte, 20), nil, "format byte"},
		{"length field", mod(func(b []byte) []byte { b[1]++; return b }), nil, "length field"},
		{"checksum", mod(func(b []byte) []byte { b[5] ^= 1; return b }), nil, "checksum"},
		{"payload", mod(func(b []byte) []byte { b[headerSize] ^= 0x80; return b }), nil, "checksum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeEntry(tt.frame)
			if tt.want != nil {
				if err != nil || !bytes.Equal(got, tt.want) {
					t.Fatalf("decodeEntry = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("decodeEntry error %v, want one about %q", err, tt.reason)
			}
		})
	}
}

// The CRC is CRC-32C (Castagnoli): "123456789" checks to e3069283.
func TestEntryChecksumIsCastagnoli(t *testing.T) {
	frame := appendEntry(nil, []byte("123456789"))
	if got := binary.LittleEndian.Uint32(frame[5:9]); got != 0xe3069283 {
		t.Fatalf("checksum %08x, want e3069283", got)
	}
	if frame[0] != formatV1 || binary.LittleEndian.Uint32(frame[1:5]) != 9 {
		t.Fatalf("header %x", frame[:headerSize])
	}
}

func TestRecordSize(t *testing.T) {
	for _, n := range []int{0, 1, 118, 119, 120, 1000, 16383 - headerSize, 16384 - headerSize, 1 << 20} {
		var rec []byte
		rec = binary.AppendUvarint(rec, uint64(headerSize+n))
		if got, want := recordSize(n), int64(len(rec)+headerSize+n); got != want {
			t.Errorf("recordSize(%d) = %d, want %d", n, got, want)
		}
	}
}

// FuzzDecodeEntry feeds arbitrary bytes to the decoders. decodeEntry must
// not panic and must accept exactly the frames appendEntry makes; the
// record and segment scanners must not panic and must agree with it.
func FuzzDecodeEntry(f *testing.F) {
	// More seeds are in testdata/fuzz/FuzzDecodeEntry.
	f.Add(appendEntry(nil, []byte("seed")))
	f.Fuzz(func(t *testing.T, data []byte) {
		payload, err := decodeEntry(data)
		if err == nil {
			if again := appendEntry(nil, payload); !bytes.Equal(again, data) {
				t.Fatalf("decodeEntry accepted %x, which appendEntry writes as %x", data, again)
			}
		}
		frame, size, rerr := nextRecord(data)
		if rerr == nil {
			if size > len(data) || len(frame) > size {
				t.Fatalf("nextRecord: frame %d bytes, size %d, of %d", len(frame), size, len(data))
			}
			_, ferr := decodeEntry(frame)
			if got := isValidRecord(data); got != (ferr == nil) {
				t.Fatalf("isValidRecord = %v, decodeEntry error %v", got, ferr)
			}
		} else if isValidRecord(data) {
			t.Fatal("isValidRecord accepted what nextRecord rejects")
		}
		var n uint64
		sc, _ := scanSegment(data, func(i uint64, p []byte) error {
			if i != n {
				t.Fatalf("scanSegment gave entry %d after %d", i, n)
			}
			n++
			return nil
		})
		if sc.entries != n || sc.end > int64(len(data)) || sc.bad != (sc.end < int64(len(data))) {
			t.Fatalf("scanSegment: %+v after %d entries of %d bytes", sc, n, len(data))
		}
	})
}
