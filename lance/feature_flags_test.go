package lance

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestFeatureFlags: what pylance 14 refuses we refuse with the flag's Lance
// name; the two bits it accepts whose handling we lack say so.
func TestFeatureFlags(t *testing.T) {
	tests := []struct {
		reader, writer    uint64
		readErr, writeErr bool
		wantInMessage     string
	}{
		{0, 0, false, false, ""},
		{FlagDeletionFiles, FlagDeletionFiles | FlagTableConfig, false, false, ""},
		{FlagStableRowIDs, FlagStableRowIDs, false, true, "2 (stable row ids); this implementation does not support"},
		{FlagBasePaths, FlagBasePaths, false, false, ""},
		{0, FlagDisableTransactionFile, false, false, ""},
		{FlagCoveredIndexMetadata, FlagCoveredIndexMetadata, false, false, ""},
		{FlagMixedDataFileVersions, FlagMixedDataFileVersions, false, false, ""},
		{FlagFragmentReuseIndex, FlagFragmentReuseIndex, false, false, ""},
		{FlagDataOverlayFiles, FlagDataOverlayFiles, true, true, "64 (data overlay files); pylance 14 and this implementation refuse"},
		{FlagFragReuseWithStableRowIDs, FlagFragReuseWithStableRowIDs, true, true, "512 (fragment reuse with stable row ids); pylance 14"},
		{FlagSemanticTypes, FlagSemanticTypes, true, true, "2048 (semantic types); this implementation"},
		{1 << 12, 0, true, true, "4096 (unknown); pylance 14"},
		{0, 1 << 40, false, true, "writer feature flag 1099511627776 (unknown)"},
		// Paired bits set on one side only: undefined, refused as corrupt.
		{FlagMixedDataFileVersions, 0, true, true, "only one of the reader and writer feature flags 256 (mixed data file versions)"},
	}
	for _, tt := range tests {
		m := &Manifest{ReaderFlags: tt.reader, WriterFlags: tt.writer}
		rerr, werr := m.checkReadable(), m.checkWritable()
		if (rerr != nil) != tt.readErr || (werr != nil) != tt.writeErr {
			t.Errorf("flags %d/%d: read err %v, write err %v", tt.reader, tt.writer, rerr, werr)
		}
		for _, err := range []error{rerr, werr} {
			if err != nil && !strings.Contains(err.Error(), tt.wantInMessage) {
				t.Errorf("flags %d/%d: error %q does not name %q", tt.reader, tt.writer, err, tt.wantInMessage)
			}
		}
	}
}

// TestApplyFeatureFlagsKeepsStickyBits: a commit recomputes the flags from
// the content but keeps mixed versions and covered index metadata.
func TestApplyFeatureFlagsKeepsStickyBits(t *testing.T) {
	m := &Manifest{
		ReaderFlags: FlagMixedDataFileVersions | FlagCoveredIndexMetadata | FlagDeletionFiles,
		WriterFlags: FlagMixedDataFileVersions | FlagCoveredIndexMetadata | FlagTableConfig,
		BasePaths:   [][]byte{{}},
	}
	m.applyFeatureFlags()
	want := FlagMixedDataFileVersions | FlagCoveredIndexMetadata | FlagBasePaths
	if m.ReaderFlags != want || m.WriterFlags != want {
		t.Fatalf("flags %d/%d, want %d", m.ReaderFlags, m.WriterFlags, want)
	}
}

// TestInteropMixedDataFileVersions: pylance creates a dataset at 2.1 and
// appends a 2.2 file to it (setting flag 256). We read every row, append
// (at the dataset's 2.1, as pylance does without an explicit version),
// keep the flag, and pylance reads the result.
func TestInteropMixedDataFileVersions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	runPylance(t, "write", path, "create", testRowsJSON(0, 100), `{"data_storage_version": "2.1"}`)
	runPylance(t, "write", path, "append", testRowsJSON(100, 50), `{"data_storage_version": "2.2"}`)
	ds, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if ds.manifest.ReaderFlags&FlagMixedDataFileVersions == 0 || ds.DataStorageVersion() != "2.1" {
		t.Fatalf("pylance made flags %d version %s", ds.manifest.ReaderFlags, ds.DataStorageVersion())
	}
	recs, err := ds.Read(0, -1, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, recs, 0, 150)
	releaseAll(recs)

	rec := makeRecord(memory.DefaultAllocator, 150, 7)
	ds, err = Write(path, []arrow.Record{rec}, WriteOptions{})
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	m := ds.manifest
	if m.ReaderFlags&FlagMixedDataFileVersions == 0 || m.WriterFlags&FlagMixedDataFileVersions == 0 {
		t.Fatalf("append dropped flag 256: %d/%d", m.ReaderFlags, m.WriterFlags)
	}
	last := m.Fragments[len(m.Fragments)-1].Files[0]
	if last.MajorVersion != 2 || last.MinorVersion != 1 {
		t.Fatalf("appended file version %d.%d, want the dataset's 2.1", last.MajorVersion, last.MinorVersion)
	}
	tbl := pylanceRead(t, path)
	if tbl.CountRows != 157 {
		t.Fatalf("pylance reads %d rows", tbl.CountRows)
	}
	checkPyRows(t, tbl, 0, 157)
}

// TestMixedVersionsRefusedWithoutFlag: data files of another version in a
// dataset without flag 256 are still refused for appends.
func TestMixedVersionsRefusedWithoutFlag(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	ds := writeFragments(t, path, []int64{2})
	m := *ds.manifest
	m.Fragments = append([]Fragment{}, m.Fragments...)
	f := m.Fragments[0]
	f.Files = append([]DataFile{}, f.Files...)
	f.Files[0].MinorVersion = 1
	m.Fragments[0] = f
	m.DataFormat = &DataStorageFormat{FileFormat: "lance", Version: "2.2"}
	d2 := &Dataset{root: path, manifest: &m}
	if err := checkAppendable(d2); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("err = %v", err)
	}
	mixed := m // a Dataset's manifest never changes (checkAppendable memoizes)
	mixed.ReaderFlags |= FlagMixedDataFileVersions
	mixed.WriterFlags |= FlagMixedDataFileVersions
	if err := checkAppendable(&Dataset{root: path, manifest: &mixed}); err != nil {
		t.Fatalf("with flag 256: %v", err)
	}
}
