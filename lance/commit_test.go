package lance

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

func fakeFragment(name string, rows uint64) *Fragment {
	return &Fragment{PhysicalRows: rows, Files: []DataFile{{Path: name, Fields: []int32{0}, ColumnIndices: []int32{0}, MajorVersion: 2, FileSizeBytes: 1}}}
}

// layoutForTest creates root's dataset directories and waits until they are durable.
func layoutForTest(t *testing.T, root string) {
	t.Helper()
	wait, err := ensureLayout(root)
	if err == nil && wait != nil {
		err = wait()
	}
	if err != nil {
		t.Fatal(err)
	}
}

func createForTest(t *testing.T, root string) *Manifest {
	t.Helper()
	layoutDurable, err := ensureLayout(root)
	if err != nil {
		t.Fatal(err)
	}
	m, s, err := commit(commitRequest{root: root, fields: [][]byte{{0x12, 0x01, 'a'}}, fragments: []Fragment{*fakeFragment("f0.lance", 1)}, dataDurable: layoutDurable})
	if err != nil {
		t.Fatal(err)
	}
	if s != NamingV2 || m.Version != 1 {
		t.Fatalf("created version %d scheme %v", m.Version, s)
	}
	return m
}

func TestCommitCreateAndAppend(t *testing.T) {
	root := t.TempDir()
	m1 := createForTest(t, root)
	m2, s, err := commit(commitRequest{root: root, base: m1, scheme: NamingV2, fragments: []Fragment{*fakeFragment("f1.lance", 2)},
		properties: map[string]string{"wal": "9"}, config: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	if m2.Version != 2 || s != NamingV2 || len(m2.Fragments) != 2 || m2.Fragments[1].ID != 1 || *m2.MaxFragmentID != 1 {
		t.Fatalf("append manifest: %+v", m2)
	}
	if m2.Config["k"] != "v" || m2.WriterFlags != FlagTableConfig {
		t.Fatalf("config %v flags %d", m2.Config, m2.WriterFlags)
	}
	got, _, err := loadLatestManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || got.Fragments[1].Files[0].Path != "f1.lance" {
		t.Fatalf("latest: %+v", got)
	}
	txn, err := loadTransaction(root, got)
	if err != nil {
		t.Fatal(err)
	}
	if txn.Op != OpAppend || txn.ReadVersion != 1 || txn.Properties["wal"] != "9" || txn.Fragments[0].ID != 0 {
		t.Fatalf("txn %+v", txn)
	}
	txn1, err := loadTransaction(root, m1)
	if err != nil || txn1.Op != OpOverwrite || len(txn1.Schema) != 1 {
		t.Fatalf("txn1 %+v err %v", txn1, err)
	}
	// No staging files remain.
	entries, _ := os.ReadDir(filepath.Join(root, versionsDir))
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), manifestSuffix) {
			t.Fatalf("leftover %s", e.Name())
		}
	}
}

// TestCommitConcurrent races many committers on the same base: every commit
// must land in a distinct version and no fragment may be lost.
func TestCommitConcurrent(t *testing.T) {
	for _, scheme := range []NamingScheme{NamingV1, NamingV2} {
		t.Run(scheme.String(), func(t *testing.T) {
			root := t.TempDir()
			layoutForTest(t, root)
			first, _, err := commit(commitRequest{root: root, scheme: scheme, fields: [][]byte{{0x12, 0x01, 'a'}}, fragments: []Fragment{*fakeFragment("f0.lance", 1)}})
			if err != nil {
				t.Fatal(err)
			}
			const writers = 8
			var wg sync.WaitGroup
			versions := make([]uint64, writers)
			errs := make([]error, writers)
			for i := 0; i < writers; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					m, s, err := commit(commitRequest{root: root, base: first, scheme: scheme, fragments: []Fragment{*fakeFragment(fmt.Sprintf("w%d.lance", i), uint64(i+1))}})
					if err == nil && s != scheme {
						err = fmt.Errorf("scheme changed to %v", s)
					}
					errs[i] = err
					if m != nil {
						versions[i] = m.Version
					}
				}(i)
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("writer %d: %v", i, err)
				}
			}
			sort.Slice(versions, func(i, j int) bool { return versions[i] < versions[j] })
			for i, v := range versions {
				if v != uint64(i+2) {
					t.Fatalf("versions %v, want 2..%d", versions, writers+1)
				}
			}
			latest, s, err := loadLatestManifest(root)
			if err != nil {
				t.Fatal(err)
			}
			if s != scheme || latest.Version != writers+1 || len(latest.Fragments) != writers+1 {
				t.Fatalf("latest version %d with %d fragments (scheme %v)", latest.Version, len(latest.Fragments), s)
			}
			paths := map[string]bool{}
			ids := map[uint64]bool{}
			for _, f := range latest.Fragments {
				paths[f.Files[0].Path] = true
				ids[f.ID] = true
			}
			for i := 0; i < writers; i++ {
				if !paths[fmt.Sprintf("w%d.lance", i)] {
					t.Fatalf("fragment of writer %d lost", i)
				}
			}
			if len(ids) != writers+1 {
				t.Fatalf("fragment ids not distinct: %v", ids)
			}
			// One transaction file per version: losers' files were removed.
			txns, _ := os.ReadDir(filepath.Join(root, transactionsDir))
			if len(txns) != writers+1 {
				t.Fatalf("%d transaction files, want %d", len(txns), writers+1)
			}
		})
	}
}

// TestCommitConflictWithOverwrite: an Append must not be rebuilt on top of a
// concurrent Overwrite.
func TestCommitConflictWithOverwrite(t *testing.T) {
	root := t.TempDir()
	m1 := createForTest(t, root)
	// A concurrent overwrite lands as version 2.
	ow := &Transaction{ReadVersion: 1, UUID: newUUID(), Op: OpOverwrite}
	name, err := writeTransactionFile(root, ow)
	if err != nil {
		t.Fatal(err)
	}
	m2 := &Manifest{Version: 2, Fields: m1.Fields, TransactionFile: name}
	data, _ := encodeManifestFile(m2)
	if err := publishManifest(root, NamingV2, 2, data); err != nil {
		t.Fatal(err)
	}
	_, _, err = commit(commitRequest{root: root, base: m1, scheme: NamingV2, fragments: []Fragment{*fakeFragment("x.lance", 1)}})
	if !errors.Is(err, ErrCommitConflict) {
		t.Fatalf("err = %v, want ErrCommitConflict", err)
	}
}

func TestPublishManifestExclusive(t *testing.T) {
	root := t.TempDir()
	layoutForTest(t, root)
	if err := publishManifest(root, NamingV2, 1, []byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := publishManifest(root, NamingV2, 1, []byte("b")); !errors.Is(err, errCommitConflict) {
		t.Fatalf("second publish: %v", err)
	}
	got, _ := os.ReadFile(filepath.Join(root, versionsDir, ManifestName(NamingV2, 1)))
	if string(got) != "a" {
		t.Fatalf("manifest overwritten: %q", got)
	}
}

func TestRefuseUnknownWriterFlags(t *testing.T) {
	root := t.TempDir()
	m1 := createForTest(t, root)
	m1.WriterFlags |= FlagStableRowIDs
	_, _, err := commit(commitRequest{root: root, base: m1, scheme: NamingV2, fragments: []Fragment{*fakeFragment("x.lance", 1)}})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "stable row ids") {
		t.Fatalf("err = %v", err)
	}
}
