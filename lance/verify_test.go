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
	m, scheme := publishEditedManifest(t, root, func(m *Manifest) {
		m.Fragments[0], m.Fragments[1] = m.Fragments[1], m.Fragments[0]
	})
	res, err := Verify(root, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) != 1 || !strings.Contains(res.Problems[0].Message, "fragment id 0 after 1") ||
		res.Problems[0].File != path.Join(versionsDir, ManifestName(scheme, m.Version)) {
		t.Fatalf("problems %+v, want fragment id 0 after 1 in version %d", res.Problems, m.Version)
	}
}

// TestVerifyChecksAFileAsEveryVersionRecordsIt: a newer manifest whose
// record of an older data file is damaged (its size, an unknown field) is a
// problem of that version, though the file itself was checked under the
// version that added it; reads of the newer version fail on it.
func TestVerifyChecksAFileAsEveryVersionRecordsIt(t *testing.T) {
	cases := []struct {
		name   string
		damage func(df *DataFile)
		want   string
	}{
		{"recorded size", func(df *DataFile) { df.FileSizeBytes++ }, "the manifest records"},
		// base_id 1 (field 7) without a base path of that id in the manifest
		{"unknown field", func(df *DataFile) { df.Extra = []byte{7 << 3, 1} }, "base path 1, which the manifest does not list"},
		{"unknown field 9", func(df *DataFile) { df.Extra = []byte{9 << 3, 1} }, "fields this reader does not understand"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "ds")
			writeFragments(t, root, []int64{3, 4})
			publishEditedManifest(t, root, func(m *Manifest) { tc.damage(&m.Fragments[0].Files[0]) })
			res, err := Verify(root, memory.DefaultAllocator)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Problems) != 1 || !strings.Contains(res.Problems[0].Message, tc.want) || res.DataFiles != 2 {
				t.Fatalf("problems %+v (%d data files), want one: %s", res.Problems, res.DataFiles, tc.want)
			}
			ds, err := Open(root)
			if err != nil {
				t.Fatal(err)
			}
			recs, err := ds.Read(0, -1, memory.DefaultAllocator)
			releaseAll(recs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("read: %v, want %s", err, tc.want)
			}
		})
	}
}

// TestVerifyFindsADamagedIndexFile: an index file that keeps its size but
// does not decode (zeroed, its footer or its metadata flipped) is a problem
// naming the file and the index, as a lookup through the index fails on it;
// before, verify only checked that index files exist with their size.
func TestVerifyFindsADamagedIndexFile(t *testing.T) {
	cases := []struct {
		name   string
		kind   string
		file   string
		damage func(t *testing.T, p string)
	}{
		{"intact", "btree", "", nil},
		{"btree pages zeroed", "btree", "page_data.lance", zeroFile},
		{"btree lookup footer flipped", "btree", "page_lookup.lance", func(t *testing.T, p string) { flipFileByte(t, p, -1) }},
		{"btree lookup metadata flipped", "btree", "page_lookup.lance", func(t *testing.T, p string) { flipFileByte(t, p, -41) }},
		{"bitmap zeroed", IndexBitmap, "bitmap_page_lookup.lance", zeroFile},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "ds")
			writeIndexRows(t, root, 0, 300)
			ds, err := CreateScalarIndex(root, "k", tc.kind, IndexOptions{Name: "k_idx"})
			if err != nil {
				t.Fatal(err)
			}
			infos, err := ds.Indices()
			if err != nil || len(infos) != 1 {
				t.Fatalf("indices %+v, %v", infos, err)
			}
			rel := path.Join(indicesDir, infos[0].UUID, tc.file)
			if tc.damage != nil {
				tc.damage(t, filepath.Join(root, filepath.FromSlash(rel)))
			}
			res, err := Verify(root, memory.DefaultAllocator)
			if err != nil {
				t.Fatal(err)
			}
			if tc.damage == nil {
				if len(res.Problems) != 0 || res.IndexFiles == 0 {
					t.Fatalf("intact: %+v", res)
				}
				return
			}
			if len(res.Problems) != 1 || res.Problems[0].File != rel || !strings.Contains(res.Problems[0].Message, `index "k_idx"`) {
				t.Fatalf("problems %+v, want one naming %s and index k_idx", res.Problems, rel)
			}
			if _, _, err := ds.Lookup("k", CondEqual(1), nil); err == nil || !strings.Contains(err.Error(), tc.file) {
				t.Fatalf("lookup through the damaged index: %v, want an error naming %s", err, tc.file)
			}
		})
	}
}

func zeroFile(t *testing.T, p string) {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, make([]byte, st.Size()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// flipFileByte flips the byte at offset at of p (negative: from the end).
func flipFileByte(t *testing.T, p string, at int64) {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if at < 0 {
		at += int64(len(data))
	}
	data[at] ^= 0xff
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyFindsADamagedTransactionFile: a transaction file that does not
// decode (pylance's get_transactions fails on it, and conflict checks skip
// it) is a problem; before, verify only checked that it exists.
func TestVerifyFindsADamagedTransactionFile(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, p string)
	}{
		{"intact", nil},
		{"cut in half", func(t *testing.T, p string) {
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(p, st.Size()/2); err != nil {
				t.Fatal(err)
			}
		}},
		{"zeroed", zeroFile},
		{"emptied", func(t *testing.T, p string) {
			if err := os.Truncate(p, 0); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "ds")
			writeFragments(t, root, []int64{3, 4})
			m, _, err := loadLatestManifest(root)
			if err != nil {
				t.Fatal(err)
			}
			rel := path.Join(transactionsDir, m.TransactionFile)
			if tc.damage != nil {
				tc.damage(t, filepath.Join(root, filepath.FromSlash(rel)))
			}
			res, err := Verify(root, memory.DefaultAllocator)
			if err != nil {
				t.Fatal(err)
			}
			if tc.damage == nil {
				if len(res.Problems) != 0 {
					t.Fatalf("intact: %+v", res.Problems)
				}
				return
			}
			if len(res.Problems) != 1 || res.Problems[0].File != rel || !strings.Contains(res.Problems[0].Message, "does not decode") {
				t.Fatalf("problems %+v, want one: %s does not decode", res.Problems, rel)
			}
		})
	}
}

// publishEditedManifest publishes, as the next version, the latest manifest
// of root changed by edit (a damage the test plants), and returns it.
func publishEditedManifest(t *testing.T, root string, edit func(*Manifest)) (*Manifest, NamingScheme) {
	t.Helper()
	m, scheme, err := loadLatestManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	edit(m)
	m.fragsEnc = encodedFragments{}
	m.Version++
	data, err := encodeManifestFile(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := publishManifest(root, scheme, m.Version, data); err != nil {
		t.Fatal(err)
	}
	return m, scheme
}
