package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance"
)

// dataBytes is the size of the dataset's data files.
func dataBytes(t *testing.T, b *Bucket) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(filepath.Join(b.DatasetPath(), "data"), func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		n += info.Size()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCompressionShrinksDataFiles(t *testing.T) {
	sizes := map[string]int64{}
	for _, codec := range []string{"", "zstd", "lz4"} {
		b, err := Open(Options{Path: t.TempDir(), Compression: codec})
		if err != nil {
			t.Fatal(err)
		}
		s := arrow.NewSchema([]arrow.Field{{Name: "msg", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
		bld := array.NewRecordBuilder(memory.DefaultAllocator, s)
		// Each row repeats a random token: no dictionary and little FSST gain
		// (the writer's own encodings), but an LZ codec finds the repeats.
		rng := rand.New(rand.NewPCG(1, 2))
		for i := 0; i < 20_000; i++ {
			token := fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64())
			bld.Field(0).(*array.StringBuilder).Append(strings.Repeat(token, 8))
		}
		rec := bld.NewRecord()
		bld.Release()
		if err := b.Append(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
		sizes[codec] = dataBytes(t, b)
		b.Close()
	}
	t.Logf("data file bytes: none %d, zstd %d, lz4 %d", sizes[""], sizes["zstd"], sizes["lz4"])
	if sizes["zstd"]*3 > sizes[""] || sizes["lz4"]*2 > sizes[""] {
		t.Fatalf("compression did not shrink a column of repeated random tokens: %v", sizes)
	}
}

func TestStorageOptionsValidated(t *testing.T) {
	for _, o := range []Options{{Compression: "snappy"}, {Compression: "gzip"}, {DataStorageVersion: "3.0"}} {
		o.Path = t.TempDir()
		if _, err := Open(o); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("Open(%+v) = %v, want ErrInvalidArgument", o, err)
		}
	}
}

// TestNestedTypesNeedA2xDataset: a struct column is refused by a 2.0 bucket
// at append, and stored by a bucket of the default version.
func TestNestedTypesNeedA2xDataset(t *testing.T) {
	st := arrow.StructOf(arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Int64, Nullable: true})
	s := arrow.NewSchema([]arrow.Field{{Name: "s", Type: st, Nullable: true}}, nil)
	bld := array.NewRecordBuilder(memory.DefaultAllocator, s)
	defer bld.Release()
	sb := bld.Field(0).(*array.StructBuilder)
	sb.Append(true)
	sb.FieldBuilder(0).(*array.Int64Builder).Append(7)
	rec := bld.NewRecord()
	defer rec.Release()

	old, err := Open(Options{Path: t.TempDir(), DataStorageVersion: "2.0"})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := old.Append(rec); !errors.Is(err, lance.ErrUnsupported) {
		t.Fatalf("struct into a 2.0 bucket: %v", err)
	}

	b := openBucket(t, t.TempDir(), 1000)
	if err := b.Append(rec); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = openBucket(t, b.Path(), 1000)
	defer b.Close()
	if got := rowsOf(t, b); len(got) != 1 || got[0] != `s={"x":7} ` {
		t.Fatalf("rows: %q", got)
	}
}

// TestStatsSayWhyABucketIsReadOnly: when appends to the dataset are
// impossible, appends fail with the reason and stats carry it.
func TestStatsSayWhyABucketIsReadOnly(t *testing.T) {
	b := openBucket(t, t.TempDir(), 1000)
	defer b.Close()
	appendRows(t, b, 0, 5)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if s, _ := b.Stats(); s.ReadOnly != "" {
		t.Fatalf("a writable bucket reports read_only %q", s.ReadOnly)
	}
	// As if the dataset were one this writer cannot append to.
	b.mu.Lock()
	b.checkedDataset, b.appendable = b.dataset, fmt.Errorf("%w: data file version 9.9", lance.ErrUnsupported)
	b.mu.Unlock()
	rec := makeRows(t, memory.DefaultAllocator, 5, 1)
	defer rec.Release()
	if err := b.Append(rec); !errors.Is(err, lance.ErrUnsupported) {
		t.Fatalf("append to a read-only bucket: %v", err)
	}
	if s, _ := b.Stats(); !strings.Contains(s.ReadOnly, "9.9") {
		t.Fatalf("stats read_only = %q", s.ReadOnly)
	}
}
