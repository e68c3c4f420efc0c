package file

import "math"

// Byte-stream split of mini-block values, as pylance 14 writes it under a
// general codec (zstd, lz4) for 32- and 64-bit numbers: each chunk's values
// are stored byte position by byte position (byte 0 of every value, then
// byte 1, ...), which the codec compresses better when some positions
// repeat (exponents, high bytes). pylance picks it when the byte positions'
// average entropy, over the page's first values, is below 4 bits; so does
// the writer.

// bssMaxEntropy is the average byte-position entropy, in bits, below which
// a page is split.
const bssMaxEntropy = 4.0

// bssWidthOK reports whether values of w bytes are byte-stream split.
func bssWidthOK(w int) bool { return w == 4 || w == 8 }

// bssSample is how many leading values of a page byteEntropy looks at (as
// pylance's statistic does).
const bssSample = 64

// byteEntropy is the average, over the w byte positions, of the Shannon
// entropy (bits) of the bytes at that position in the first bssSample
// values of the chunks.
func byteEntropy(bufs [][][]byte, w int) float64 {
	var counts [8][256]uint8
	n := 0
	for _, b := range bufs {
		for vals := b[0]; len(vals) >= w && n < bssSample; vals = vals[w:] {
			for j := 0; j < w; j++ {
				counts[j][vals[j]]++
			}
			n++
		}
		if n == bssSample {
			break
		}
	}
	if n == 0 {
		return 0
	}
	var sum float64
	for j := 0; j < w; j++ {
		for _, c := range counts[j] {
			if c > 0 {
				p := float64(c) / float64(n)
				sum -= p * math.Log2(p)
			}
		}
	}
	return sum / float64(w)
}

// splitBytes appends the byte-stream split form of the w-byte values in raw
// to dst.
func splitBytes(dst, raw []byte, w int) []byte {
	n := len(raw) / w
	at := len(dst)
	dst = growZero(dst, n*w)
	out := dst[at:]
	for i := 0; i < n; i++ {
		for j := 0; j < w; j++ {
			out[j*n+i] = raw[i*w+j]
		}
	}
	return dst
}

// encBss21 is CompressiveEncoding{byte_stream_split{values: Flat{bits}}}.
func encBss21(bits int) []byte {
	return encCompressive(compByteStreamSplit, pbBytes(nil, 1, encFlat21(uint64(bits))))
}
