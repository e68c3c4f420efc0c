package lance

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/persisting/persisting/lance/schema"
)

func sampleManifest() *Manifest {
	pre := "beta.1"
	branch := "main"
	return &Manifest{
		Fields:         [][]byte{{0x12, 0x01, 'a'}, {0x12, 0x01, 'b'}},
		SchemaMetadata: map[string][]byte{"k": []byte("v"), "empty": {}},
		Fragments: []Fragment{
			{ID: 0, PhysicalRows: 3, Files: []DataFile{{Path: "a.lance", Fields: []int32{0, 1}, ColumnIndices: []int32{0, 1}, MajorVersion: 2, FileSizeBytes: 647}}},
			{ID: 7, PhysicalRows: 1 << 33, Files: []DataFile{{Path: "b.lance", Fields: []int32{0, -2}, ColumnIndices: []int32{-1, 5}, MajorVersion: 2, MinorVersion: 2, Extra: []byte{0x38, 0x03}}},
				DeletionFile: &DeletionFile{FileType: 1, ReadVersion: 4, ID: 99, NumDeletedRows: 2},
				Extra:        []byte{0x2a, 0x02, 0x01, 0x02}},
		},
		Version:         12,
		Timestamp:       time.Date(2026, 1, 2, 3, 4, 5, 6789, time.UTC),
		ReaderFlags:     FlagDeletionFiles,
		WriterFlags:     FlagDeletionFiles | FlagTableConfig,
		MaxFragmentID:   uint32p(7),
		TransactionFile: "11-0f8fad5b-d9cb-469f-a165-70867728950e.txn",
		WriterVersion:   &WriterVersion{Library: "lance-go", Version: "0.1.0", Prerelease: &pre},
		NextRowID:       0,
		DataFormat:      &DataStorageFormat{FileFormat: "lance", Version: "2.0"},
		Config:          map[string]string{"x": "1"},
		TableMetadata:   map[string]string{"t": "m"},
		BasePaths:       [][]byte{{0x08, 0x01}},
		Branch:          &branch,
		IndexSection:    []byte{0x0a, 0x00},
	}
}

func TestManifestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		m    *Manifest
	}{
		{"full", sampleManifest()},
		{"minimal", &Manifest{Version: 1}},
		{"max fragment id zero", &Manifest{Version: 1, MaxFragmentID: uint32p(0), Fragments: []Fragment{{PhysicalRows: 1}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := encodeManifestFile(tt.m)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeManifestFile(data)
			if err != nil {
				t.Fatal(err)
			}
			got.indexSectionPos, got.txnSectionPos = nil, nil
			if !reflect.DeepEqual(got, tt.m) {
				t.Fatalf("round trip mismatch:\n got %+v\nwant %+v", got, tt.m)
			}
			again, _ := encodeManifestFile(got)
			if !bytes.Equal(again, data) {
				t.Fatal("re-encoding is not byte-identical")
			}
		})
	}
}

// TestManifestDropsDictionaryPositions: a dictionary field's position in
// its manifest file (pylance 0.20 writes one) is not carried into the
// manifests written after it; the rest of the field is kept as it was.
func TestManifestDropsDictionaryPositions(t *testing.T) {
	dict := schema.Field{ID: 1, ParentID: -1, Name: "x", LogicalType: "dict:string:int32:false", Nullable: true,
		Encoding: schema.EncodingDictionary, HasDictionary: true, Metadata: map[string][]byte{"k": []byte("v")}}
	positioned := dict
	positioned.DictionaryOffset, positioned.DictionaryLength = 10, 5
	plain := schema.Field{ID: 0, ParentID: -1, Name: "id", LogicalType: "int64"}
	for _, tt := range []struct {
		name     string
		in, want schema.Field
	}{
		{"position dropped", positioned, dict},
		{"no position", dict, dict},
		{"no dictionary", plain, plain},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data, err := encodeManifestFile(&Manifest{Version: 1, Fields: [][]byte{schema.MarshalField(tt.in)}})
			if err != nil {
				t.Fatal(err)
			}
			m, err := decodeManifestFile(data)
			if err != nil {
				t.Fatal(err)
			}
			if want := schema.MarshalField(tt.want); !bytes.Equal(m.Fields[0], want) {
				got, _ := schema.UnmarshalField(m.Fields[0])
				t.Fatalf("field %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestDecodePylanceManifests decodes manifests and transactions written by
// pylance 14.0.2 (see testdata/manifests).
func TestDecodePylanceManifests(t *testing.T) {
	tests := []struct {
		file        string
		version     uint64
		fragments   int
		minor       uint32
		format      string
		inlineTxnOp Operation
	}{
		{"pylance14_create_file20.manifest", 1, 1, 0, "2.0", OpOverwrite},
		{"pylance14_create_file22.manifest", 1, 1, 2, "2.2", OpOverwrite},
		{"pylance14_append_file20.manifest", 2, 2, 0, "2.0", OpAppend},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m, err := readManifestFile(filepath.Join("testdata", "manifests", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if m.Version != tt.version || len(m.Fragments) != tt.fragments {
				t.Fatalf("version %d fragments %d", m.Version, len(m.Fragments))
			}
			if len(m.Fields) != 2 || m.DataFormat == nil || m.DataFormat.Version != tt.format {
				t.Fatalf("fields %d format %+v", len(m.Fields), m.DataFormat)
			}
			if m.WriterVersion == nil || m.WriterVersion.Library != "lance" {
				t.Fatalf("writer version %+v", m.WriterVersion)
			}
			for i, f := range m.Fragments {
				if f.ID != uint64(i) || f.PhysicalRows != 3 || len(f.Files) != 1 {
					t.Fatalf("fragment %d: %+v", i, f)
				}
				df := f.Files[0]
				if df.MajorVersion != 2 || df.MinorVersion != tt.minor || !strings.HasSuffix(df.Path, ".lance") ||
					!reflect.DeepEqual(df.Fields, []int32{0, 1}) || df.FileSizeBytes == 0 {
					t.Fatalf("data file %+v", df)
				}
			}
			if m.MaxFragmentID == nil || *m.MaxFragmentID != uint32(tt.fragments-1) {
				t.Fatalf("max fragment id %v", m.MaxFragmentID)
			}
			if m.Timestamp.Year() < 2020 {
				t.Fatalf("timestamp %v", m.Timestamp)
			}
			if err := m.checkReadable(); err != nil {
				t.Fatal(err)
			}
			if m.InlineTransaction == nil {
				t.Fatal("pylance 14 writes an inline transaction")
			}
			txn, err := decodeTransaction(m.InlineTransaction)
			if err != nil {
				t.Fatal(err)
			}
			if txn.Op != tt.inlineTxnOp || txn.ReadVersion != tt.version-1 || m.TransactionFile != txn.FileName() {
				t.Fatalf("inline txn %+v (file %q)", txn, m.TransactionFile)
			}
		})
	}
}

func TestTransactionRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		txn  *Transaction
	}{
		{"append", &Transaction{ReadVersion: 3, UUID: newUUID(), Properties: map[string]string{"wal": "17"}, Op: OpAppend,
			Fragments: []Fragment{{PhysicalRows: 5, Files: []DataFile{{Path: "x.lance", Fields: []int32{0}, ColumnIndices: []int32{0}, MajorVersion: 2}}}}}},
		{"overwrite", &Transaction{UUID: newUUID(), Op: OpOverwrite, Schema: [][]byte{{0x12, 0x01, 'a'}},
			SchemaMetadata: map[string][]byte{"m": []byte("1")}, ConfigUpsert: map[string]string{"c": "2"},
			Fragments: []Fragment{{PhysicalRows: 1}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeTransaction(encodeTransaction(tt.txn))
			if err != nil {
				t.Fatal(err)
			}
			got.OpBody = nil
			if !reflect.DeepEqual(got, tt.txn) {
				t.Fatalf("got %+v\nwant %+v", got, tt.txn)
			}
		})
	}
	for _, f := range []string{"pylance14_append.txn", "pylance14_overwrite.txn"} {
		data, err := os.ReadFile(filepath.Join("testdata", "manifests", f))
		if err != nil {
			t.Fatal(err)
		}
		txn, err := decodeTransaction(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(txn.Fragments) != 1 || txn.Fragments[0].ID != 0 || len(txn.UUID) != 36 {
			t.Fatalf("%s: %+v", f, txn)
		}
		if txn.Op == OpOverwrite && len(txn.Schema) != 2 {
			t.Fatalf("%s: schema %d fields", f, len(txn.Schema))
		}
	}
}

// TestDecodeCorruptManifest checks that every truncation and many byte flips
// of valid manifest files are reported as errors or decode, never panic.
func TestDecodeCorruptManifest(t *testing.T) {
	good, _ := encodeManifestFile(sampleManifest())
	py, _ := os.ReadFile(filepath.Join("testdata", "manifests", "pylance14_append_file20.manifest"))
	for _, data := range [][]byte{good, py} {
		for n := 0; n < len(data); n++ {
			if _, err := decodeManifestFile(data[:n]); err == nil {
				t.Fatalf("truncated to %d bytes: no error", n)
			}
		}
		for i := 0; i < len(data); i++ {
			for _, x := range []byte{0x01, 0x80, 0xff} {
				c := append([]byte{}, data...)
				c[i] ^= x
				decodeManifestFile(c) // must not panic
			}
		}
	}
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"magic only", []byte("LANC")},
		{"bad magic", append(make([]byte, 20), "LANX"...)},
		{"position past end", append([]byte{0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0}, "LANC"...)},
	} {
		if _, err := decodeManifestFile(tt.data); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

func TestNewDataFileName(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		n := newDataFileName()
		if len(n) != 56 || !strings.HasSuffix(n, ".lance") || strings.Trim(n[:24], "01") != "" {
			t.Fatalf("bad name %q", n)
		}
		if seen[n] {
			t.Fatalf("duplicate %q", n)
		}
		seen[n] = true
	}
}
