package lance

// Helpers for the typed interop tests: a seeded generator of Arrow data for
// every type of issue #3 (nulls at every level, empty values, non-ASCII
// strings), an exact value-by-value comparison, Arrow IPC files, and one
// python process per batch of pylance operations (testdata/pylance_arrow.py).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// genOptions shape generated data.
type genOptions struct {
	nullRate  float64 // probability of a null at every nullable level
	itemNulls bool    // nulls inside fixed_size_list values
	maxList   int     // list lengths are 0..maxList
	longRate  float64 // probability of a long (300..2000 bytes) string/binary value
}

var defaultGen = genOptions{nullRate: 0.15, itemNulls: true, maxList: 4, longRate: 0.02}

var genRunes = []string{"a", "b", "z", "0", " ", "é", "ß", "✓", "日本", "🙂", "\x00", "Ω"}

func genString(rng *rand.Rand, o genOptions) string {
	n := rng.Intn(12)
	if rng.Float64() < o.longRate {
		n = 300 + rng.Intn(1700)
	}
	var sb strings.Builder
	for sb.Len() < n {
		sb.WriteString(genRunes[rng.Intn(len(genRunes))])
	}
	return sb.String()
}

func genBytes(rng *rand.Rand, o genOptions) []byte {
	n := rng.Intn(16)
	if rng.Float64() < o.longRate {
		n = 300 + rng.Intn(1700)
	}
	b := make([]byte, n)
	rng.Read(b)
	return b
}

func genFloat(rng *rand.Rand) float64 {
	switch rng.Intn(20) {
	case 0:
		return math.Inf(1)
	case 1:
		return math.Copysign(0, -1)
	case 2:
		return 0
	case 3:
		return math.MaxFloat32
	}
	return rng.NormFloat64() * 1000
}

// genInt returns a random integer, often small, sometimes extreme.
func genInt(rng *rand.Rand) uint64 {
	switch rng.Intn(8) {
	case 0:
		return rng.Uint64()
	case 1:
		return uint64(rng.Intn(3))
	}
	return uint64(rng.Int63n(2000) - 1000)
}

// appendNullDeep appends a null, and nulls to every child of a struct (so
// a null struct hides no child values: Lance stores none under it).
func appendNullDeep(b array.Builder) {
	b.AppendNull()
	if sb, ok := b.(*array.StructBuilder); ok {
		for i := 0; i < sb.NumField(); i++ {
			appendNullDeep(sb.FieldBuilder(i))
		}
	}
}

// genValue appends one random value of type dt to b.
func genValue(rng *rand.Rand, b array.Builder, dt arrow.DataType, nullable bool, o genOptions) {
	if nullable && rng.Float64() < o.nullRate {
		appendNullDeep(b)
		return
	}
	switch dt.ID() {
	case arrow.INT8:
		b.(*array.Int8Builder).Append(int8(genInt(rng)))
	case arrow.INT16:
		b.(*array.Int16Builder).Append(int16(genInt(rng)))
	case arrow.INT32:
		b.(*array.Int32Builder).Append(int32(genInt(rng)))
	case arrow.INT64:
		b.(*array.Int64Builder).Append(int64(genInt(rng)))
	case arrow.UINT8:
		b.(*array.Uint8Builder).Append(uint8(genInt(rng)))
	case arrow.UINT16:
		b.(*array.Uint16Builder).Append(uint16(genInt(rng)))
	case arrow.UINT32:
		b.(*array.Uint32Builder).Append(uint32(genInt(rng)))
	case arrow.UINT64:
		b.(*array.Uint64Builder).Append(genInt(rng))
	case arrow.FLOAT32:
		b.(*array.Float32Builder).Append(float32(genFloat(rng)))
	case arrow.FLOAT64:
		b.(*array.Float64Builder).Append(genFloat(rng))
	case arrow.BOOL:
		b.(*array.BooleanBuilder).Append(rng.Intn(2) == 0)
	case arrow.STRING:
		b.(*array.StringBuilder).Append(genString(rng, o))
	case arrow.LARGE_STRING:
		b.(*array.LargeStringBuilder).Append(genString(rng, o))
	case arrow.BINARY, arrow.LARGE_BINARY:
		b.(*array.BinaryBuilder).Append(genBytes(rng, o))
	case arrow.TIMESTAMP:
		b.(*array.TimestampBuilder).Append(arrow.Timestamp(rng.Int63n(4e12) - 2e12))
	case arrow.DATE32:
		b.(*array.Date32Builder).Append(arrow.Date32(rng.Int31n(200000) - 100000))
	case arrow.FIXED_SIZE_LIST:
		t := dt.(*arrow.FixedSizeListType)
		lb := b.(*array.FixedSizeListBuilder)
		lb.Append(true)
		for k := 0; k < int(t.Len()); k++ {
			genValue(rng, lb.ValueBuilder(), t.Elem(), o.itemNulls && t.ElemField().Nullable, o)
		}
	case arrow.LIST, arrow.LARGE_LIST:
		ef := dt.(arrow.ListLikeType).ElemField()
		lb := b.(array.ListLikeBuilder)
		lb.Append(true)
		for k, n := 0, rng.Intn(o.maxList+1); k < n; k++ {
			genValue(rng, lb.ValueBuilder(), ef.Type, ef.Nullable, o)
		}
	case arrow.STRUCT:
		t := dt.(*arrow.StructType)
		sb := b.(*array.StructBuilder)
		sb.Append(true)
		for i, f := range t.Fields() {
			genValue(rng, sb.FieldBuilder(i), f.Type, f.Nullable, o)
		}
	default:
		panic("genValue: type " + dt.String())
	}
}

// genRecord builds n random rows of sch.
func genRecord(rng *rand.Rand, sch *arrow.Schema, n int, o genOptions) arrow.Record {
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	for i, f := range sch.Fields() {
		fb := b.Field(i)
		for r := 0; r < n; r++ {
			genValue(rng, fb, f.Type, f.Nullable, o)
		}
	}
	return b.NewRecord()
}

// diffArrays compares two arrays exactly: type, length, nulls, values
// (floats by their text form, which is exact and tells -0 from 0; struct
// children only where the struct is valid). It returns "" when they are
// equal, otherwise where they first differ.
func diffArrays(want, got arrow.Array) string {
	if !arrow.TypeEqual(want.DataType(), got.DataType()) {
		return fmt.Sprintf("type %s, want %s", got.DataType(), want.DataType())
	}
	if want.Len() != got.Len() {
		return fmt.Sprintf("%d rows, want %d", got.Len(), want.Len())
	}
	for i := 0; i < want.Len(); i++ {
		if d := diffValue(want, got, i, i); d != "" {
			return fmt.Sprintf("row %d: %s", i, d)
		}
	}
	return ""
}

func diffValue(want, got arrow.Array, i, j int) string {
	if want.IsNull(i) != got.IsNull(j) {
		return fmt.Sprintf("null %v, want null %v (want %s)", got.IsNull(j), want.IsNull(i), short(want.ValueStr(i)))
	}
	if want.IsNull(i) {
		return ""
	}
	switch w := want.(type) {
	case *array.Struct:
		g := got.(*array.Struct)
		for f := 0; f < w.NumField(); f++ {
			if d := diffValue(w.Field(f), g.Field(f), i, j); d != "" {
				return fmt.Sprintf("field %d: %s", f, d)
			}
		}
		return ""
	case array.ListLike:
		g := got.(array.ListLike)
		ws, we := w.ValueOffsets(i)
		gs, ge := g.ValueOffsets(j)
		if we-ws != ge-gs {
			return fmt.Sprintf("list of %d items, want %d", ge-gs, we-ws)
		}
		for k := int64(0); k < we-ws; k++ {
			if d := diffValue(w.ListValues(), g.ListValues(), int(ws+k), int(gs+k)); d != "" {
				return fmt.Sprintf("item %d: %s", k, d)
			}
		}
		return ""
	}
	if ws, gs := want.ValueStr(i), got.ValueStr(j); ws != gs {
		return fmt.Sprintf("%s, want %s", short(gs), short(ws))
	}
	return ""
}

func short(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// diffRecords compares recs (in order) with rows [from, from+n) of the
// columns want.
func diffRecords(recs []arrow.Record, want []arrow.Array, from, n int64) string {
	var total int64
	for _, r := range recs {
		total += r.NumRows()
	}
	if total != n {
		return fmt.Sprintf("%d rows, want %d", total, n)
	}
	row := from
	for _, r := range recs {
		if int(r.NumCols()) != len(want) {
			return fmt.Sprintf("%d columns, want %d", r.NumCols(), len(want))
		}
		for c := range want {
			exp := array.NewSlice(want[c], row, row+r.NumRows())
			d := diffArrays(exp, r.Column(c))
			exp.Release()
			if d != "" {
				return fmt.Sprintf("column %q, rows from %d: %s", r.Schema().Field(c).Name, row, d)
			}
		}
		row += r.NumRows()
	}
	return ""
}

func writeIPCFile(t testing.TB, path string, sch *arrow.Schema, recs []arrow.Record) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(sch))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// readIPCColumns returns the schema of an IPC file and each of its columns
// concatenated into one array.
func readIPCColumns(t testing.TB, path string) (*arrow.Schema, []arrow.Array) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sch := r.Schema()
	parts := make([][]arrow.Array, sch.NumFields())
	for i := 0; i < r.NumRecords(); i++ {
		rec, err := r.Record(i)
		if err != nil {
			t.Fatal(err)
		}
		for c := range parts {
			col := rec.Column(c)
			col.Retain()
			parts[c] = append(parts[c], col)
		}
	}
	return sch, concatParts(t, sch, parts)
}

func concatParts(t testing.TB, sch *arrow.Schema, parts [][]arrow.Array) []arrow.Array {
	t.Helper()
	out := make([]arrow.Array, len(parts))
	for c, p := range parts {
		if len(p) == 0 {
			out[c] = array.MakeArrayOfNull(memory.DefaultAllocator, sch.Field(c).Type, 0)
			continue
		}
		a, err := array.Concatenate(p, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range p {
			x.Release()
		}
		out[c] = a
	}
	return out
}

// recordColumns concatenates the columns of recs.
func recordColumns(t testing.TB, sch *arrow.Schema, recs []arrow.Record) []arrow.Array {
	t.Helper()
	parts := make([][]arrow.Array, sch.NumFields())
	for _, r := range recs {
		for c := range parts {
			col := r.Column(c)
			col.Retain()
			parts[c] = append(parts[c], col)
		}
	}
	return concatParts(t, sch, parts)
}

func releaseArrays(as []arrow.Array) {
	for _, a := range as {
		a.Release()
	}
}

// pyResult is one operation's result from pylance_arrow.py.
type pyResult struct {
	Version            uint64   `json:"version"`
	Rows               int64    `json:"rows"`
	DataStorageVersion string   `json:"data_storage_version"`
	Files              [][2]int `json:"files"`
	Fragments          []int64  `json:"fragments"`
}

// pyOp is one operation of pylance_arrow.py.
type pyOp map[string]any

// runPyArrow runs ops in one python process and returns their results.
// It fails the test (never skips) when pylance is missing.
func runPyArrow(t testing.TB, ops ...pyOp) []pyResult {
	t.Helper()
	b, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "ops.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(pythonBin(), filepath.Join("testdata", "pylance_arrow.py"), p)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pylance (pip install pylance==14.0.2 pyarrow): %v\n%s", err, stderr.String())
	}
	var res []pyResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("pylance output %q: %v", out, err)
	}
	if len(res) != len(ops) {
		t.Fatalf("pylance returned %d results for %d operations", len(res), len(ops))
	}
	return res
}

// readAllDataset reads every row of ds, failing the test on error.
func readRange(t testing.TB, ds *Dataset, off, lim int64, alloc memory.Allocator) []arrow.Record {
	t.Helper()
	recs, err := ds.Read(off, lim, alloc)
	if err != nil {
		t.Fatalf("Read(%d, %d): %v", off, lim, err)
	}
	return recs
}

// checkDatasetEquals reads ds in full and in ranges (crossing fragment
// boundaries) and compares with want, the columns of every row.
func checkDatasetEquals(t testing.TB, ds *Dataset, want []arrow.Array, seed int64) {
	t.Helper()
	n := ds.CountRows()
	if len(want) > 0 && int64(want[0].Len()) != n {
		t.Fatalf("dataset has %d rows, want %d", n, want[0].Len())
	}
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	ranges := [][2]int64{{0, n}}
	if n > 0 {
		ranges = append(ranges, [2]int64{n - 1, 1}, [2]int64{0, 1})
		rng := rand.New(rand.NewSource(seed))
		for i := 0; i < 6; i++ {
			off := rng.Int63n(n)
			ranges = append(ranges, [2]int64{off, 1 + rng.Int63n(n-off)})
		}
	}
	for _, r := range ranges {
		recs := readRange(t, ds, r[0], r[1], alloc)
		d := diffRecords(recs, want, r[0], r[1])
		releaseAll(recs)
		if d != "" {
			t.Fatalf("Read(%d, %d): %s", r[0], r[1], d)
		}
	}
}
