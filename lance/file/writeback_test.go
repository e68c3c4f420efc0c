package file

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestWritebackFilePassesBytes: writes through writebackFile reach the file
// unchanged and in order whatever their sizes (the background writeback
// requests never alter data), and stop may be called twice.
func TestWritebackFilePassesBytes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sizes []int
	}{
		{"nothing", nil},
		{"one small", []int{5}},
		{"many blocks", []int{1 << 20, 1 << 20, 3, 1<<20 + 7, 100}},
		{"more writes than queued ranges", func() []int {
			s := make([]int, 200)
			for i := range s {
				s[i] = 4096 + i
			}
			return s
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "f")
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			w := newWritebackFile(f)
			var want []byte
			for i, n := range tc.sizes {
				b := bytes.Repeat([]byte{byte(i + 1)}, n)
				want = append(want, b...)
				if k, err := w.Write(b); err != nil || k != n {
					t.Fatalf("Write(%d bytes) = %d, %v", n, k, err)
				}
			}
			w.stop()
			w.stop()
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("file holds %d bytes, want %d (or they differ)", len(got), len(want))
			}
		})
	}
}
