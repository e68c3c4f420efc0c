package lance

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecodeManifestFile feeds arbitrary bytes to the manifest decoder: it
// must return an error or a manifest, never panic, and whatever it decodes
// must re-encode and decode again.
func FuzzDecodeManifestFile(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "manifests", "*.manifest"))
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	if data, err := encodeManifestFile(sampleManifest()); err == nil {
		f.Add(data)
	}
	f.Add([]byte("LANC"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeManifestFile(data)
		if err != nil {
			return
		}
		again, err := encodeManifestFile(m)
		if err != nil {
			return
		}
		if _, err := decodeManifestFile(again); err != nil {
			t.Fatalf("re-encoded manifest does not decode: %v", err)
		}
		m.checkReadable()
		if m.InlineTransaction != nil {
			decodeTransaction(m.InlineTransaction)
		}
	})
}

// FuzzDecodeTransaction does the same for transaction files.
func FuzzDecodeTransaction(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "manifests", "*.txn"))
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		txn, err := decodeTransaction(data)
		if err != nil {
			return
		}
		if _, err := decodeTransaction(encodeTransaction(txn)); err != nil {
			t.Fatalf("re-encoded transaction does not decode: %v", err)
		}
	})
}
