package lance

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/file"
	"github.com/persisting/persisting/lance/internal/arrowtest"
)

// compressibleRecord builds n rows of log-like data: repetitive JSON text
// (short values in mini-block pages, long ones in full-zip pages), small
// integers, few distinct floats and, with nested, a list column.
func compressibleRecord(n int, nested bool) arrow.Record {
	fields := []arrow.Field{
		arrowtest.Nullable("msg", arrow.BinaryTypes.String),
		arrowtest.Nullable("body", arrow.BinaryTypes.LargeString),
		arrowtest.Nullable("code", arrow.PrimitiveTypes.Int64),
		arrowtest.Nullable("lat", arrow.PrimitiveTypes.Float64),
	}
	if nested {
		fields = append(fields, arrowtest.Nullable("tags", arrow.ListOf(arrow.PrimitiveTypes.Int32)))
	}
	sch := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	for i := 0; i < n; i++ {
		if i%97 == 5 {
			for c := range fields {
				b.Field(c).AppendNull()
			}
			continue
		}
		b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf(`{"level":"info","service":"api-%d","path":"/v1/items/%d","status":200}`, i%5, i%100))
		b.Field(1).(*array.LargeStringBuilder).Append(strings.Repeat(fmt.Sprintf("line %d of the request log é; ", i%13), 12))
		b.Field(2).(*array.Int64Builder).Append(int64(200 + i%7))
		b.Field(3).(*array.Float64Builder).Append(float64(i%10) * 0.25)
		if nested {
			lb := b.Field(4).(*array.ListBuilder)
			lb.Append(true)
			for k := 0; k < i%4; k++ {
				lb.ValueBuilder().(*array.Int32Builder).Append(int32(k))
			}
		}
	}
	return b.NewRecord()
}

func dataBytes(t testing.TB, root string) int64 {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, dataDir))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

// TestInteropCompression: WriteOptions.Compression "zstd" and "lz4" shrink a
// compressible workload on disk in 2.2 (every column) and 2.0 (string
// pages only, as pylance compresses 2.0 files), and pylance reads every
// dataset back exactly. Run with -v to see the sizes.
func TestInteropCompression(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	type run struct {
		version, comp string
		nested        bool
		size          int64
		want          []arrow.Array
		sch           *arrow.Schema
	}
	var runs []*run
	for _, v := range []string{"2.2", "2.0"} {
		for _, c := range []string{"", "zstd", "lz4"} {
			runs = append(runs, &run{version: v, comp: c, nested: v != "2.0"})
		}
	}
	var ops []pyOp
	for _, r := range runs {
		path := filepath.Join(dir, r.version+"-"+r.comp)
		rec := compressibleRecord(12000, r.nested)
		r.sch = rec.Schema()
		r.want = arrowtest.ConcatColumns(t, r.sch, []arrow.Record{rec})
		ds, err := Write(path, []arrow.Record{rec}, WriteOptions{DataStorageVersion: r.version, Compression: r.comp})
		rec.Release()
		if err != nil {
			t.Fatalf("%s %s: %v", r.version, r.comp, err)
		}
		checkDatasetEquals(t, ds, r.want, 3)
		r.size = dataBytes(t, path)
		ops = append(ops, pyOp{"op": "read", "path": path, "ipc": path + ".arrow"})
	}
	defer func() {
		for _, r := range runs {
			releaseArrays(r.want)
		}
	}()
	res := runPyArrow(t, ops...)
	for i, r := range runs {
		if res[i].DataStorageVersion != r.version || res[i].Rows != 12000 {
			t.Fatalf("pylance: %+v", res[i])
		}
		_, theirs := arrowtest.ReadIPCColumns(t, filepath.Join(dir, r.version+"-"+r.comp+".arrow"))
		d := diffColumnSets(r.want, theirs, r.sch)
		releaseArrays(theirs)
		if d != "" {
			t.Fatalf("%s %q: pylance reads %s", r.version, r.comp, d)
		}
	}
	for i := 0; i < len(runs); i += 3 {
		plain, zstd, lz4 := runs[i], runs[i+1], runs[i+2]
		t.Logf("data storage version %s: %d bytes uncompressed, zstd %d (%.1f%%), lz4 %d (%.1f%%)",
			plain.version, plain.size, zstd.size, 100*float64(zstd.size)/float64(plain.size),
			lz4.size, 100*float64(lz4.size)/float64(plain.size))
		if zstd.size*2 > plain.size || lz4.size*10 > plain.size*7 {
			t.Errorf("version %s: compression saves too little: %d -> zstd %d, lz4 %d", plain.version, plain.size, zstd.size, lz4.size)
		}
	}
}

// TestCompressionErrors: Lance has no snappy codec; asking for it (or an
// unknown codec) is a clear error and writes nothing.
func TestCompressionErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	rec := makeRecord(memory.DefaultAllocator, 0, 3)
	defer rec.Release()
	for _, c := range []string{"snappy", "gzip"} {
		_, err := Write(path, []arrow.Record{rec}, WriteOptions{Compression: c})
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), c) {
			t.Fatalf("%s: %v", c, err)
		}
	}
	if err := func() error { _, err := Open(path); return err }(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("refused writes left a dataset: %v", err)
	}
}

// TestInteropCompressionRecorded: the codec a dataset is created with is
// kept in its schema's field metadata, as Lance keeps it, so later appends
// compress alike: pylance's (which never name a codec here) and ours
// (with Compression left empty).
func TestInteropCompressionRecorded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	appended := map[string][2]int64{} // codec -> bytes of pylance's append, of ours
	for _, comp := range []string{"", "zstd"} {
		path := filepath.Join(dir, "ds-"+comp)
		rec := compressibleRecord(4000, true)
		sch := rec.Schema()
		ds, err := Write(path, []arrow.Record{rec}, WriteOptions{DataStorageVersion: "2.2", Compression: comp})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range ds.Schema().Fields() {
			got, _ := f.Metadata.GetValue(file.CompressionMetadataKey)
			if got != comp {
				t.Fatalf("%q: field %s records compression %q", comp, f.Name, got)
			}
		}
		ipc := filepath.Join(dir, comp+".arrow")
		arrowtest.WriteIPCFile(t, ipc, sch, []arrow.Record{rec})
		before := dataBytes(t, path)
		res := runPyArrow(t, pyOp{"op": "write", "path": path, "ipc": ipc, "mode": "append"})
		if res[0].Version != 2 {
			t.Fatalf("pylance append: %+v", res[0])
		}
		theirs := dataBytes(t, path) - before
		before += theirs
		if _, err := Write(path, []arrow.Record{rec}, WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		rec.Release()
		appended[comp] = [2]int64{theirs, dataBytes(t, path) - before}
	}
	plain, zstd := appended[""], appended["zstd"]
	t.Logf("appended bytes, plain vs zstd dataset: pylance %d / %d, ours %d / %d", plain[0], zstd[0], plain[1], zstd[1])
	if zstd[0]*4 > plain[0]*3 || zstd[1]*2 > plain[1] {
		t.Fatalf("appends to a zstd dataset are not compressed: pylance %d vs %d, ours %d vs %d", zstd[0], plain[0], zstd[1], plain[1])
	}
}
