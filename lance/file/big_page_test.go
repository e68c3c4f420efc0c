package file

import (
	"strings"
	"testing"
)

// zeros is a file of size bytes of zeros that stores nothing: ReadAt leaves
// the caller's buffer as it is (fresh, zero), so reading a gigabyte of it
// touches no memory.
type zeros struct{ size int64 }

func (z zeros) ReadAt(b []byte, off int64) (int, error) { return len(b), nil }

// TestReadPartTakesPagesPastAGigabyte: a page buffer is bounded by the file,
// not by the 1 GiB that bounds the footer's metadata. A string of 1.5 GB is
// one full-zip page buffer: persisting wrote it and then refused to read it
// ("page buffer region of 1610612736 bytes too large"), where pylance reads
// it. A region past the end of the file is still refused.
func TestReadPartTakesPagesPastAGigabyte(t *testing.T) {
	const big = 3 << 29 // 1.5 GiB
	cases := []struct {
		name      string
		file      int64
		off, size uint64
		err       string
	}{
		{"1.5 GiB page", big + 100, 100, big, ""},
		{"past the end", big + 100, 101, big, "runs past the end of the file"},
		{"offset past the end", 10, 1 << 62, 1, "runs past the end of the file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &Reader{f: zeros{c.file}, size: c.file}
			p := &pageInfo{bufOffsets: []uint64{c.off}, bufSizes: []uint64{c.size}}
			b, err := r.readPart(p, 0, 0, int64(c.size))
			switch {
			case c.err == "" && (err != nil || len(b) != int(c.size)):
				t.Fatalf("read %d bytes, %v; want %d", len(b), err, c.size)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Fatalf("err = %v, want %q", err, c.err)
			}
		})
	}
}
