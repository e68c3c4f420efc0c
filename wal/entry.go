package wal

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Entry framing (see the package comment for the full on-disk format).
//
//	offset 0  format byte, formatV1
//	offset 1  payload length, uint32 little endian
//	offset 5  CRC-32C (Castagnoli) of the payload, uint32 little endian
//	offset 9  payload
const (
	formatV1   = 0x01
	headerSize = 9

	// MaxPayloadSize is the largest payload Write and WriteBatch accept:
	// what the header's uint32 length holds (a put of records takes up to
	// 2 GiB - 1 bytes, and its entry one byte more).
	MaxPayloadSize = 1<<32 - 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendEntry appends the framed payload, its parts one after the other, to
// dst.
func appendEntry(dst []byte, parts ...[]byte) []byte {
	h := entryHeader(parts)
	dst = append(dst, h[:]...)
	for _, p := range parts {
		dst = append(dst, p...)
	}
	return dst
}

// entryHeader is the header of the entry whose payload is parts one after
// the other.
func entryHeader(parts [][]byte) [headerSize]byte {
	var h [headerSize]byte
	n, crc := 0, uint32(0)
	for _, p := range parts {
		n += len(p)
		crc = crc32.Update(crc, castagnoli, p)
	}
	h[0] = formatV1
	binary.LittleEndian.PutUint32(h[1:5], uint32(n))
	binary.LittleEndian.PutUint32(h[5:9], crc)
	return h
}

// decodeEntry checks a frame and returns its payload, a sub-slice of frame.
// The error text says what is wrong; it is used as CorruptError.Reason.
func decodeEntry(frame []byte) ([]byte, error) {
	if len(frame) < headerSize {
		return nil, fmt.Errorf("entry of %d bytes is shorter than its %d-byte header", len(frame), headerSize)
	}
	if frame[0] != formatV1 {
		return nil, fmt.Errorf("unknown format byte 0x%02x", frame[0])
	}
	n := binary.LittleEndian.Uint32(frame[1:5])
	if uint64(n) != uint64(len(frame)-headerSize) {
		return nil, fmt.Errorf("length field says %d payload bytes, entry holds %d", n, len(frame)-headerSize)
	}
	payload := frame[headerSize:]
	want := binary.LittleEndian.Uint32(frame[5:9])
	if got := crc32.Checksum(payload, castagnoli); got != want {
		return nil, fmt.Errorf("checksum mismatch: stored %08x, computed %08x", want, got)
	}
	return payload, nil
}

// recordSize is the number of bytes an entry with a payload of n bytes takes
// in a segment file: tidwall/wal's uvarint length prefix plus the frame.
func recordSize(n int) int64 {
	frame := uint64(headerSize + n)
	var buf [binary.MaxVarintLen64]byte
	return int64(binary.PutUvarint(buf[:], frame)) + int64(frame)
}

// nextRecord splits the first tidwall/wal binary record (uvarint length, then
// that many bytes) off data. It returns the frame and the record's total size.
func nextRecord(data []byte) (frame []byte, size int, err error) {
	n, k := binary.Uvarint(data)
	if k <= 0 {
		return nil, 0, fmt.Errorf("unreadable record length prefix")
	}
	if n > uint64(len(data)-k) {
		return nil, 0, fmt.Errorf("record of %d bytes runs past the end of the segment (%d bytes left)", n, len(data)-k)
	}
	return data[k : k+int(n)], k + int(n), nil
}
