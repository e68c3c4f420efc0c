package lance

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/internal/arrowtest"
)

// TestCheckWritableVersion: the answer is precise per data storage
// version: 2.0 takes flat types only, 2.1 and 2.2 every type of issue #3;
// unknown versions and unsupported types are ErrUnsupported naming the
// field; CheckWritable answers for the default version (2.2).
func TestCheckWritableVersion(t *testing.T) {
	flat := arrow.NewSchema(arrowtest.FlatTypes(), nil)
	all := arrowtest.AllTypesSchema()
	for _, v := range []string{"2.0", "2.1", "2.2", ""} {
		if err := CheckWritableVersion(flat, v); err != nil {
			t.Errorf("flat types, version %q: %v", v, err)
		}
	}
	for _, v := range []string{"2.1", "2.2", ""} {
		if err := CheckWritableVersion(all, v); err != nil {
			t.Errorf("all types, version %q: %v", v, err)
		}
	}
	if err := CheckWritable(all); err != nil {
		t.Errorf("CheckWritable: %v", err)
	}
	for _, f := range arrowtest.NestedTypes() { // 2.0 takes lists and vectors, not structs
		err := CheckWritableVersion(arrow.NewSchema([]arrow.Field{f}, nil), "2.0")
		if !strings.Contains(f.Type.String(), "struct") {
			if err != nil {
				t.Errorf("%s in 2.0: %v", f.Name, err)
			}
			continue
		}
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), f.Name) || !strings.Contains(err.Error(), "2.1") {
			t.Errorf("%s in 2.0: %v", f.Name, err)
		}
	}
	fixedBytes := arrow.NewSchema([]arrow.Field{ // as pylance writes them, at every version
		{Name: "dec", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
		{Name: "dec256", Type: &arrow.Decimal256Type{Precision: 40, Scale: 2}, Nullable: true},
		{Name: "fsb", Type: &arrow.FixedSizeBinaryType{ByteWidth: 16}, Nullable: true},
		{Name: "null", Type: arrow.Null, Nullable: true},
	}, nil)
	for _, v := range []string{"2.0", "2.1", "2.2"} {
		if err := CheckWritableVersion(fixedBytes, v); err != nil {
			t.Errorf("decimal, fixed_size_binary, null, version %q: %v", v, err)
		}
	}
	bad := []arrow.Field{
		{Name: "fsl_str", Type: arrow.FixedSizeListOf(2, arrow.BinaryTypes.String), Nullable: true},
		{Name: "empty", Type: arrow.StructOf(), Nullable: true},
		{Name: "fsb0", Type: &arrow.FixedSizeBinaryType{ByteWidth: 0}, Nullable: true},
	}
	for _, f := range bad {
		err := CheckWritableVersion(arrow.NewSchema([]arrow.Field{f}, nil), "2.2")
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), f.Name) {
			t.Errorf("%s: %v", f.Name, err)
		}
	}
	if err := CheckWritableVersion(flat, "2.3"); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "2.3") {
		t.Errorf("2.3: %v", err)
	}
}

// TestWriteOptionsErrors: bad options fail before anything is written.
func TestWriteOptionsErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	rec := makeRecord(memory.DefaultAllocator, 0, 3)
	defer rec.Release()
	_, err := Write(path, []arrow.Record{rec}, WriteOptions{Compression: "snappy"})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "no snappy") {
		t.Fatalf("snappy: %v", err)
	}
	_, err = Write(path, []arrow.Record{rec}, WriteOptions{DataStorageVersion: "2.3"})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "2.3") {
		t.Fatalf("2.3: %v", err)
	}
	st := arrow.NewSchema([]arrow.Field{arrowtest.Nullable("st", arrow.StructOf(arrowtest.Nullable("a", arrow.PrimitiveTypes.Int32)))}, nil)
	nested := arrowtest.GenRecord(nil, st, 0, arrowtest.DefaultGen)
	defer nested.Release()
	_, err = Write(path, []arrow.Record{nested}, WriteOptions{DataStorageVersion: "2.0"})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), `"st"`) {
		t.Fatalf("struct in 2.0: %v", err)
	}
	if _, err := Open(path); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a refused write left a dataset: %v", err)
	}
}
