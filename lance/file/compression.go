package file

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// 2.0 writers compress the bytes buffer of a string/binary page when the
// field's metadata asks for it ("lance-encoding:compression" = zstd | lz4);
// Flat.compression.scheme names the codec. Framing, as pylance writes it:
//
//	zstd: u64 LE uncompressed length, then one zstd frame
//	      (a bare frame starting with the zstd magic is accepted too)
//	lz4:  u32 LE uncompressed length, then one LZ4 block (not the frame format)
//
// The whole buffer must be decompressed to read any row of the page.

// maxDecompressed caps the size a page buffer may claim, so a corrupt
// length cannot trigger a huge allocation.
const maxDecompressed = 1 << 30

var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

var zstdEncoder = sync.OnceValues(func() (*zstd.Encoder, error) {
	// SpeedDefault is zstd level 3, what Lance uses for level 0 (the
	// library default).
	return zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
})

// compress appends src compressed with scheme to dst in Lance's framing
// (see the file comment) and returns the result.
func compress(scheme string, dst, src []byte) ([]byte, error) {
	switch scheme {
	case CompressionZstd:
		e, err := zstdEncoder()
		if err != nil {
			return nil, err
		}
		dst = binary.LittleEndian.AppendUint64(dst, uint64(len(src)))
		return e.EncodeAll(src, dst), nil
	case CompressionLZ4:
		if uint64(len(src)) > 1<<31 {
			return nil, fmt.Errorf("lz4: buffer of %d bytes too large", len(src))
		}
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(src)))
		if len(src) == 0 {
			return append(dst, 0), nil // the LZ4 block of no input: one empty token
		}
		start := len(dst)
		dst = append(dst, make([]byte, lz4.CompressBlockBound(len(src)))...)
		var c lz4.Compressor
		n, err := c.CompressBlock(src, dst[start:])
		if err != nil {
			return nil, fmt.Errorf("lz4: %w", err)
		}
		if n == 0 && len(src) > 0 {
			return nil, fmt.Errorf("lz4: block compression produced no output")
		}
		return dst[:start+n], nil
	}
	return nil, fmt.Errorf("unsupported compression scheme %q", scheme)
}

var zstdDecoder = sync.OnceValues(func() (*zstd.Decoder, error) {
	return zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxDecompressed))
})

// checkClaimed refuses a decompressed size a buffer of compressed bytes
// cannot hold, so a corrupt length cannot trigger a huge allocation. lz4's
// block format reaches at most ~255:1 (the cap allows 1024:1); zstd has no
// such bound (a page of one repeated byte compresses over 10,000:1), so a
// zstd claim is only held to maxDecompressed and to the bytes the frame
// really yields.
func checkClaimed(scheme string, n uint64, compressed int) error {
	if n > maxDecompressed || (scheme == "lz4" && n > uint64(compressed)*1024+1<<20) {
		return fmt.Errorf("compressed buffer claims implausible size %d", n)
	}
	return nil
}

func decompress(scheme string, src []byte) ([]byte, error) {
	switch scheme {
	case "zstd":
		d, err := zstdDecoder()
		if err != nil {
			return nil, err
		}
		var dst []byte
		claimed := int64(-1) // the length prefix, when the buffer has one
		body := src
		if len(src) >= 12 && string(src[8:12]) == string(zstdMagic) {
			n := binary.LittleEndian.Uint64(src)
			if err := checkClaimed(scheme, n, len(src)); err != nil {
				return nil, err
			}
			claimed = int64(n)
			// Capacity up to what the frame can plausibly hold; DecodeAll grows it.
			dst = make([]byte, 0, min(n, uint64(len(src))*64+1<<20))
			body = src[8:]
		} else if len(src) < 4 || string(src[:4]) != string(zstdMagic) {
			return nil, fmt.Errorf("zstd buffer without a zstd frame")
		}
		out, err := d.DecodeAll(body, dst)
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		if claimed >= 0 && int64(len(out)) != claimed {
			return nil, fmt.Errorf("zstd: got %d bytes, header says %d", len(out), claimed)
		}
		return out, nil
	case "lz4":
		if len(src) < 4 {
			return nil, fmt.Errorf("lz4 buffer too short")
		}
		n := uint64(binary.LittleEndian.Uint32(src))
		if err := checkClaimed(scheme, n, len(src)); err != nil {
			return nil, err
		}
		dst := make([]byte, n)
		m, err := lz4.UncompressBlock(src[4:], dst)
		if err != nil {
			return nil, fmt.Errorf("lz4: %w", err)
		}
		if uint64(m) != n {
			return nil, fmt.Errorf("lz4: got %d bytes, header says %d", m, n)
		}
		return dst, nil
	}
	return nil, fmt.Errorf("unsupported compression scheme %q", scheme)
}

// readCompressed loads a whole compressed flat buffer and decompresses it.
func (r *Reader) readCompressed(p *pageInfo, e *arrayEncoding) ([]byte, error) {
	plain := *e
	plain.compression = ""
	off, size, err := pageBuffer(p, &plain)
	if err != nil {
		return nil, err
	}
	if size > maxMetadataBytes {
		return nil, fmt.Errorf("compressed buffer of %d bytes too large", size)
	}
	src := make([]byte, size)
	if _, err := r.f.ReadAt(src, int64(off)); err != nil {
		return nil, err
	}
	return decompress(e.compression, src)
}
