package lance

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestErrCorrupt: datasets whose metadata does not decode fail with an error
// wrapping ErrCorrupt (the C API maps it to PERSISTING_ECORRUPT), distinct
// from ErrUnsupported.
func TestErrCorrupt(t *testing.T) {
	latestManifest := func(root string) string {
		l, err := listVersions(root)
		if err != nil {
			t.Fatal(err)
		}
		return filepath.Join(root, versionsDir, ManifestName(l.scheme, l.latest))
	}
	for _, tt := range []struct {
		name   string
		break_ func(t *testing.T, root string)
		op     func(root string) error
	}{
		{"truncated manifest", func(t *testing.T, root string) {
			p := latestManifest(root)
			data, _ := os.ReadFile(p)
			os.WriteFile(p, data[:len(data)/2], 0o644)
		}, openOnly},
		{"bad magic", func(t *testing.T, root string) {
			p := latestManifest(root)
			data, _ := os.ReadFile(p)
			copy(data[len(data)-4:], "XXXX")
			os.WriteFile(p, data, 0o644)
		}, openOnly},
		{"manifest body garbage", func(t *testing.T, root string) {
			p := latestManifest(root)
			data, _ := os.ReadFile(p)
			for i := 4; i < len(data)-manifestTrailerLen; i++ {
				data[i] = 0xff
			}
			os.WriteFile(p, data, 0o644)
		}, openOnly},
		{"latest manifest replaced by a directory", func(t *testing.T, root string) {
			p := latestManifest(root)
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}, func(root string) error { // not the version before it, silently
			_, err := Open(root)
			if err != nil && !strings.Contains(err.Error(), "is a directory, not a manifest") {
				return fmt.Errorf("error does not say what is wrong: %w", err)
			}
			return err
		}},
		{"manifest of another version", func(t *testing.T, root string) {
			v1, _ := os.ReadFile(filepath.Join(root, versionsDir, ManifestName(NamingV2, 1)))
			os.WriteFile(latestManifest(root), v1, 0o644)
		}, openOnly},
		{"transaction garbage", func(t *testing.T, root string) {
			m, _, err := loadLatestManifest(root)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(root, transactionsDir, m.TransactionFile), []byte{0xff, 0xff, 0xff}, 0o644)
		}, func(root string) error {
			ds, err := Open(root)
			if err != nil {
				return err
			}
			_, err = ds.TransactionProperties()
			return err
		}},
		{"deleted more rows than the fragment has", func(t *testing.T, root string) {
			rewriteLatest(t, root, func(m *Manifest) {
				m.Fragments[0].DeletionFile = &DeletionFile{ID: 1, NumDeletedRows: 1000}
			})
		}, openOnly},
		{"deletion file garbage", func(t *testing.T, root string) {
			rewriteLatest(t, root, func(m *Manifest) {
				m.Fragments[0].DeletionFile = &DeletionFile{ID: 7, ReadVersion: 2, NumDeletedRows: 1}
			})
			os.MkdirAll(filepath.Join(root, deletionsDir), 0o755)
			os.WriteFile(filepath.Join(root, deletionsDir, "0-2-7.arrow"), []byte("ARROW1\x00\x00garbage"), 0o644)
		}, readAll},
		{"bitmap deletion file garbage", func(t *testing.T, root string) {
			rewriteLatest(t, root, func(m *Manifest) {
				m.Fragments[0].DeletionFile = &DeletionFile{FileType: 1, ID: 7, ReadVersion: 2, NumDeletedRows: 1}
			})
			os.MkdirAll(filepath.Join(root, deletionsDir), 0o755)
			os.WriteFile(filepath.Join(root, deletionsDir, "0-2-7.bin"), []byte{1, 2, 3}, 0o644)
		}, readAll},
		{"invalid data file path", func(t *testing.T, root string) {
			rewriteLatest(t, root, func(m *Manifest) { m.Fragments[0].Files[0].Path = "../../etc/passwd" })
		}, readAll},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "ds")
			writeFragments(t, root, []int64{5, 7})
			tt.break_(t, root)
			err := tt.op(root)
			if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnsupported) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
		})
	}
}

func openOnly(root string) error {
	_, err := Open(root)
	return err
}

func readAll(root string) error {
	ds, err := Open(root)
	if err != nil {
		return err
	}
	recs, err := ds.Read(0, -1, memory.DefaultAllocator)
	releaseAll(recs)
	return err
}

// rewriteLatest edits the latest manifest in place (tests only).
func rewriteLatest(t *testing.T, root string, edit func(m *Manifest)) {
	t.Helper()
	l, err := listVersions(root)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, versionsDir, ManifestName(l.scheme, l.latest))
	m, err := readManifestFile(p)
	if err != nil {
		t.Fatal(err)
	}
	edit(m)
	m.applyFeatureFlags()
	data, err := encodeManifestFile(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
