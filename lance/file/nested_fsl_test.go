package file

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/internal/arrowtest"
)

// nestedFSLShapes are fixed_size_lists of fixed_size_lists (matrices,
// lists of matrices, ...) as pylance 14 writes them, with nulls at every
// level. pageLayout is the layout pylance gives their pages (2.1 and 2.2).
var nestedFSLShapes = []struct {
	name       string
	dt         arrow.DataType
	pageLayout string
}{
	{"fsl_fsl_f32", arrow.FixedSizeListOfField(2, arrowtest.Nullable("item", arrowtest.VecType(3))), "MiniBlockLayout[FixedSizeList(FixedSizeList(Flat))]"},
	{"fsl_fsl_i16", arrow.FixedSizeListOfField(3, arrowtest.Nullable("item", arrow.FixedSizeListOfField(2, arrowtest.Nullable("item", arrow.PrimitiveTypes.Int16)))), ""},
	{"fsl_fsl_fsl", arrow.FixedSizeListOfField(2, arrowtest.Nullable("item", arrow.FixedSizeListOfField(2, arrowtest.Nullable("item", arrow.FixedSizeListOfField(2, arrowtest.Nullable("item", arrow.PrimitiveTypes.Int32)))))), "MiniBlockLayout[FixedSizeList(FixedSizeList(FixedSizeList(Flat)))]"},
	{"fsl_fsl_wide", arrow.FixedSizeListOfField(4, arrowtest.Nullable("item", arrowtest.VecType(64))), "FullZipLayout[FixedSizeList(FixedSizeList(Flat))]"},
	{"list_fsl_fsl", arrow.ListOfField(arrowtest.Nullable("item", arrow.FixedSizeListOfField(2, arrowtest.Nullable("item", arrowtest.VecType(2))))), ""},
	{"struct_fsl_fsl", arrow.StructOf(arrowtest.Nullable("m", arrow.FixedSizeListOfField(3, arrowtest.Nullable("item", arrowtest.VecType(2)))), arrowtest.Nullable("id", arrow.PrimitiveTypes.Int64)), ""},
	{"fsl_fsl_bool", arrow.FixedSizeListOfField(2, arrowtest.Nullable("item", arrow.FixedSizeListOfField(5, arrowtest.Nullable("item", arrow.FixedWidthTypes.Boolean)))), "MiniBlockLayout[FixedSizeList(FixedSizeList(Flat))]"},
	{"list_fsl_fsl_wide", arrow.LargeListOfField(arrowtest.Nullable("item", arrow.FixedSizeListOfField(2, arrowtest.Nullable("item", arrow.FixedSizeListOfField(32, arrowtest.Nullable("item", arrow.PrimitiveTypes.Float64)))))), ""},
}

// nestedFSLRecord is rows random rows of one column of type dt; gen's
// nulls reach every level (rows, inner vectors, items).
func nestedFSLRecord(t testing.TB, dt arrow.DataType, rows int, seed int64) arrow.Record {
	sch := arrow.NewSchema([]arrow.Field{arrowtest.Nullable("c", dt)}, nil)
	rec := arrowtest.GenRecord(rand.New(rand.NewSource(seed)), sch, rows, arrowtest.DefaultGen)
	t.Cleanup(rec.Release)
	return rec
}

// TestReadPylanceNestedFixedSizeLists: pylance writes the shapes at 2.0,
// 2.1 and 2.2 in several pages; our reader reads them back exactly. Before,
// every page of a fixed_size_list of fixed_size_lists was refused ("nested
// FixedSizeList(FixedSizeList(Flat)) not supported"; 2.0: "reading 2.0
// fixed-size lists of fixed_size_list<...> is not supported").
func TestReadPylanceNestedFixedSizeLists(t *testing.T) {
	for i, c := range nestedFSLShapes {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			rec := nestedFSLRecord(t, c.dt, 11000, int64(i))
			for _, ver := range append([]string{"2.0"}, versions21...) {
				if ver == "2.0" && c.dt.ID() == arrow.STRUCT {
					continue // pylance stores no struct validity at 2.0
				}
				dir := t.TempDir()
				in, py := filepath.Join(dir, "in.arrow"), filepath.Join(dir, "py.lance")
				arrowtest.WriteIPCFile(t, in, rec.Schema(), []arrow.Record{rec})
				runPylance(t, "writever", in, py, ver, "16384")
				r, err := Open(py)
				if err != nil {
					t.Fatal(err)
				}
				pages := r.pageDescriptions(0)
				r.Close()
				if len(pages) < 2 {
					t.Fatalf("%s: pylance wrote %d page(s), the test wants several", ver, len(pages))
				}
				if lay, _, _ := strings.Cut(pages[0], " "); ver != "2.0" && c.pageLayout != "" && lay != c.pageLayout {
					t.Errorf("%s: pylance wrote %s, the test expects %s", ver, pages[0], c.pageLayout)
				}
				got := readAllColumns(t, py, rec.Schema(), mem)
				diffColumns(t, "our reader of pylance "+ver, rec.Schema(), rec.Columns(), got)
				releaseAll2(got)
			}
		})
	}
}

// TestWriteNestedFixedSizeListsLikePylance: our writer stores the shapes
// (one column each, 3000 rows, nulls at every level, and a column whose
// inner vectors and items have no null) in the layout pylance 14 gives
// them at 2.1 and 2.2, and our reader and pylance read them back exactly.
// Before, the writer refused them ("fixed_size_list of fixed_size_list<...>
// is not supported by the writer").
func TestWriteNestedFixedSizeListsLikePylance(t *testing.T) {
	var fields []arrow.Field
	var cols []arrow.Array
	var wants []map[string]string
	for i, c := range nestedFSLShapes {
		rec := nestedFSLRecord(t, c.dt, 3000, int64(100+i))
		fields = append(fields, arrowtest.Nullable(c.name, c.dt))
		cols = append(cols, rec.Column(0))
		for range leafCount(c.dt) {
			wants = append(wants, nil)
		}
		if c.pageLayout != "" {
			wants[len(wants)-1] = both(c.pageLayout)
		}
	}
	dense := arrow.FixedSizeListOf(4, arrow.FixedSizeListOf(2, arrow.PrimitiveTypes.Float32))
	noNulls := arrowtest.DefaultGen
	noNulls.NullRate, noNulls.ItemNulls = 0, false
	drec := arrowtest.GenRecord(rand.New(rand.NewSource(9)), arrow.NewSchema([]arrow.Field{arrowtest.Nullable("c", dense)}, nil), 3000, noNulls)
	defer drec.Release()
	fields = append(fields, arrowtest.Nullable("dense", dense))
	cols = append(cols, drec.Column(0))
	wants = append(wants, both("MiniBlockLayout[FixedSizeList(FixedSizeList(Flat))]"))
	rec := array.NewRecord(arrow.NewSchema(fields, nil), cols, 3000)
	defer rec.Release()
	checkRecordLikePylance(t, rec, wants, nil)
}

// TestWriteNestedFixedSizeListsPages: matrices appended in several batches
// from sliced arrays, cut into small pages, compressed, in a list, at 2.0
// too (pylance's 2.0 layout: a FixedSizeList page whose items are the
// nullable inner FixedSizeLists): our reader and pylance read back exactly
// what was written.
func TestWriteNestedFixedSizeListsPages(t *testing.T) {
	cases := []struct {
		name  string
		shape int // index in nestedFSLShapes
		opts  WriteOptions
	}{
		{"small-pages-2.1", 0, WriteOptions{Version: V2_1, MaxPageBytes: 2 << 10}},
		{"small-pages-2.2", 2, WriteOptions{Version: V2_2, MaxPageBytes: 2 << 10}},
		{"zstd", 1, WriteOptions{Version: V2_2, Compression: CompressionZstd}},
		{"lz4-2.1", 0, WriteOptions{Version: V2_1, Compression: CompressionLZ4}},
		{"wide-small-pages", 3, WriteOptions{Version: V2_2, MaxPageBytes: 16 << 10}},
		{"in-list-small-pages", 4, WriteOptions{Version: V2_1, MaxPageBytes: 1 << 10}},
		{"in-struct", 5, WriteOptions{Version: V2_2}},
		{"wide-in-large-list", 7, WriteOptions{Version: V2_1}},
		{"bool-small-pages", 6, WriteOptions{Version: V2_1, MaxPageBytes: 1 << 10}},
		{"bool-zstd", 6, WriteOptions{Version: V2_2, Compression: CompressionZstd}},
		{"2.0-small-pages", 0, WriteOptions{Version: V2_0, MaxPageBytes: 2 << 10}},
		{"2.0-three-layers", 2, WriteOptions{Version: V2_0}},
		{"2.0-wide", 3, WriteOptions{Version: V2_0, MaxPageBytes: 64 << 10}},
		{"2.0-in-list", 4, WriteOptions{Version: V2_0, MaxPageBytes: 1 << 10}},
		{"2.0-bool", 6, WriteOptions{Version: V2_0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			whole := nestedFSLRecord(t, nestedFSLShapes[tc.shape].dt, 4000, int64(200+tc.shape))
			var recs []arrow.Record
			for _, r := range [][2]int64{{3, 1500}, {1500, 1501}, {1501, 3990}} {
				recs = append(recs, whole.NewSlice(r[0], r[1]))
			}
			defer releaseAll(recs)
			want := arrowtest.ConcatColumns(t, whole.Schema(), recs)
			defer releaseAll2(want)
			p := filepath.Join(t.TempDir(), "m.lance")
			if _, err := WriteFileWithOptions(p, mustFields(t, whole.Schema()), recs, tc.opts); err != nil {
				t.Fatal(err)
			}
			checkBothReaders(t, p, whole.Schema(), want, mem)
		})
	}
}

// TestReadPylanceMatricesOfNullVectors: when every inner vector of a page
// is null (its rows valid), pylance stores the matrix as FixedSizeList of
// Constant: one layer and its validity, nothing below. Our reader failed
// on it with "index out of range" (an internal error). Rows of all-null
// items and all-equal items are read too.
func TestReadPylanceMatricesOfNullVectors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var fields []arrow.Field
	var cols []arrow.Array
	for _, inner := range []int32{2, 64} {
		dt := arrow.FixedSizeListOfField(3, arrowtest.Nullable("item", arrowtest.VecType(inner)))
		for _, kind := range []string{"null-vectors", "null-items", "equal-items"} {
			b := array.NewFixedSizeListBuilder(mem, 3, arrowtest.VecType(inner))
			vb := b.ValueBuilder().(*array.FixedSizeListBuilder)
			ib := vb.ValueBuilder().(*array.Float32Builder)
			for i := 0; i < 700; i++ {
				if i%10 == 9 {
					b.AppendNull()
					continue
				}
				b.Append(true)
				for k := 0; k < 3; k++ {
					if kind == "null-vectors" {
						vb.AppendNull()
						continue
					}
					vb.Append(true)
					for j := int32(0); j < inner; j++ {
						if kind == "null-items" {
							ib.AppendNull()
						} else {
							ib.Append(1.5)
						}
					}
				}
			}
			cols = append(cols, b.NewArray())
			b.Release()
			fields = append(fields, arrowtest.Nullable(fmt.Sprintf("%s-%d", kind, inner), dt))
		}
	}
	defer releaseAll2(cols)
	sch := arrow.NewSchema(fields, nil)
	rec := array.NewRecord(sch, cols, 700)
	defer rec.Release()
	for _, ver := range append([]string{"2.0"}, versions21...) {
		dir := t.TempDir()
		in, py := filepath.Join(dir, "in.arrow"), filepath.Join(dir, "py.lance")
		arrowtest.WriteIPCFile(t, in, sch, []arrow.Record{rec})
		runPylance(t, "writever", in, py, ver)
		got := readAllColumns(t, py, sch, mem)
		diffColumns(t, "our reader of pylance "+ver, sch, rec.Columns(), got)
		releaseAll2(got)
		p := filepath.Join(dir, "ours.lance")
		v, _ := ParseVersion(ver)
		if _, err := WriteFileWithOptions(p, mustFields(t, sch), []arrow.Record{rec}, WriteOptions{Version: v}); err != nil {
			t.Fatal(err)
		}
		checkBothReaders(t, p, sch, rec.Columns(), mem)
	}
}
