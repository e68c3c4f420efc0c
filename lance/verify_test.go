package lance

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/file"
)

func TestVerifyFindsTheDamagedPage(t *testing.T) {
	for _, version := range []string{"2.1", "2.2"} {
		t.Run(version, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "ds")
			rec := makeRecord(memory.DefaultAllocator, 0, 5000)
			_, err := Write(root, []arrow.Record{rec}, WriteOptions{DataStorageVersion: version, Compression: "zstd"})
			rec.Release()
			if err != nil {
				t.Fatal(err)
			}
			alloc := memory.NewCheckedAllocator(memory.DefaultAllocator)
			intact, err := Verify(root, alloc)
			if err != nil || len(intact.Problems) != 0 || intact.DataFiles != 1 || intact.Pages == 0 || intact.Versions != 1 {
				t.Fatalf("intact dataset: %+v, %v", intact, err)
			}
			alloc.AssertSize(t, 0)

			des, err := os.ReadDir(filepath.Join(root, dataDir))
			if err != nil || len(des) != 1 {
				t.Fatalf("data files: %v, %v", des, err)
			}
			p := filepath.Join(root, dataDir, des[0].Name())
			r, err := file.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			page := r.Pages(0)[0] // column "id": its first mini-block chunk header
			r.Close()
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			data[page.Offset] ^= 0xff
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}

			res, err := Verify(root, alloc)
			if err != nil {
				t.Fatal(err)
			}
			alloc.AssertSize(t, 0)
			if len(res.Problems) != 1 {
				t.Fatalf("problems %+v, want one", res.Problems)
			}
			got := res.Problems[0]
			if got.File != path.Join(dataDir, des[0].Name()) || got.Offset != int64(page.Offset) ||
				!strings.Contains(got.Message, `column "id"`) || !strings.Contains(got.Message, "page 0") {
				t.Fatalf("problem %+v, want data file %s, offset %d, column id page 0", got, des[0].Name(), page.Offset)
			}
		})
	}
}

// TestVerifyFindsFragmentIDsOutOfOrder: a version whose fragment ids are not
// ascending (what compaction wrote before it reused the replaced ids) is a
// problem, as pylance's validate says; the versions before it are not.
func TestVerifyFindsFragmentIDsOutOfOrder(t *testing.T) {
	root := filepath.Join(t.TempDir(), "ds")
	writeFragments(t, root, []int64{3, 4, 5})
	m, scheme, err := loadLatestManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	m.Fragments[0], m.Fragments[1] = m.Fragments[1], m.Fragments[0]
	m.fragsEnc = encodedFragments{}
	m.Version++
	data, err := encodeManifestFile(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := publishManifest(root, scheme, m.Version, data); err != nil {
		t.Fatal(err)
	}
	res, err := Verify(root, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) != 1 || !strings.Contains(res.Problems[0].Message, "fragment id 0 after 1") ||
		res.Problems[0].File != path.Join(versionsDir, ManifestName(scheme, m.Version)) {
		t.Fatalf("problems %+v, want fragment id 0 after 1 in version %d", res.Problems, m.Version)
	}
}
