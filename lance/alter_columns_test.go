package lance

import (
	"encoding/json"
	"errors"
	"math"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

var narrowSchema = arrow.NewSchema([]arrow.Field{
	{Name: "a", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "b", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
	{Name: "c", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// narrowValue is row i of the narrow test table (nil: null).
func narrowValue(i int64, col int) any {
	if (i+int64(col))%6 == 0 {
		return nil
	}
	switch col {
	case 0:
		if i%2 == 0 {
			return int32(math.MinInt32 + i)
		}
		return int32(math.MaxInt32 - i)
	case 1:
		return float32(i) / 3
	case 2:
		return int32(i * -77)
	}
	return "s" + strconv.FormatInt(i, 10)
}

func makeNarrowRecord(start, n int64) arrow.Record {
	b := array.NewRecordBuilder(memory.DefaultAllocator, narrowSchema)
	defer b.Release()
	for i := start; i < start+n; i++ {
		for c := 0; c < 4; c++ {
			v := narrowValue(i, c)
			if v == nil {
				b.Field(c).AppendNull()
				continue
			}
			switch x := v.(type) {
			case int32:
				b.Field(c).(*array.Int32Builder).Append(x)
			case float32:
				b.Field(c).(*array.Float32Builder).Append(x)
			case string:
				b.Field(c).(*array.StringBuilder).Append(x)
			}
		}
	}
	return b.NewRecord()
}

// narrowRowsJSON renders narrow rows with the widened types (pylance format).
func narrowRowsJSON(start, n int64) string {
	cols := []pyColumn{{Name: "a", Type: "int64"}, {Name: "b", Type: "float64"}, {Name: "c", Type: "float64"}, {Name: "s", Type: "string"}}
	for i := start; i < start+n; i++ {
		for c := range cols {
			v := narrowValue(i, c)
			var raw []byte
			switch x := v.(type) {
			case nil:
				raw = []byte("null")
			case int32:
				if c == 0 {
					raw = []byte(strconv.FormatInt(int64(x), 10))
				} else {
					raw, _ = json.Marshal(strconv.FormatFloat(float64(x), 'x', -1, 64))
				}
			case float32:
				raw, _ = json.Marshal(strconv.FormatFloat(float64(x), 'x', -1, 64))
			case string:
				raw, _ = json.Marshal(x)
			}
			cols[c].Values = append(cols[c].Values, raw)
			cols[c].Nullable = true
		}
	}
	b, _ := json.Marshal(map[string]any{"columns": cols})
	return string(b)
}

// checkWidened checks that recs hold narrow rows rows[k] with a as int64 and
// b, c as float64, values exactly converted.
func checkWidened(t *testing.T, recs []arrow.Record, rows []int64) {
	t.Helper()
	k := 0
	for _, rec := range recs {
		a := rec.Column(0).(*array.Int64)
		b := rec.Column(1).(*array.Float64)
		c := rec.Column(2).(*array.Float64)
		for j := 0; j < int(rec.NumRows()); j, k = j+1, k+1 {
			i := rows[k]
			check := func(arr arrow.Array, col int, got func() float64) {
				want := narrowValue(i, col)
				if (want == nil) != arr.IsNull(j) {
					t.Fatalf("row %d col %d: null %v, want %v", i, col, arr.IsNull(j), want)
				}
				if want == nil {
					return
				}
				var w float64
				switch x := want.(type) {
				case int32:
					w = float64(x)
				case float32:
					w = float64(x)
				}
				if got() != w {
					t.Fatalf("row %d col %d: %v, want %v", i, col, got(), w)
				}
			}
			check(a, 0, func() float64 { return float64(a.Value(j)) })
			check(b, 1, func() float64 { return b.Value(j) })
			check(c, 2, func() float64 { return c.Value(j) })
		}
	}
	if k != len(rows) {
		t.Fatalf("%d rows, want %d", k, len(rows))
	}
}

func TestWidenColumns(t *testing.T) {
	root := filepath.Join(t.TempDir(), "ds")
	for _, r := range [][2]int64{{0, 10}, {10, 5}} {
		rec := makeNarrowRecord(r[0], r[1])
		if _, err := Write(root, []arrow.Record{rec}, WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	addDeletionFile(t, root, 0, DeletionBitmap, []uint32{1, 2}, true)
	if _, err := AddColumns(root, arrow.NewSchema([]arrow.Field{{Name: "late", Type: arrow.PrimitiveTypes.Int32, Nullable: true}}, nil)); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		types map[string]arrow.DataType
		want  error
	}{
		{"narrowing", map[string]arrow.DataType{"a": arrow.PrimitiveTypes.Int16}, ErrUnsupported},
		{"to string", map[string]arrow.DataType{"a": arrow.BinaryTypes.String}, ErrUnsupported},
		{"unknown field", map[string]arrow.DataType{"zz": arrow.PrimitiveTypes.Int64}, ErrSchemaMismatch},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := WidenColumns(root, tt.types); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	ds, err := WidenColumns(root, map[string]arrow.DataType{
		"a": arrow.PrimitiveTypes.Int64, "b": arrow.PrimitiveTypes.Float64, "c": arrow.PrimitiveTypes.Float64,
		"late": arrow.PrimitiveTypes.Int64, // in no data file: stays null, no file written for it
	})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Version() != 4 || ds.Schema().Field(0).Type.ID() != arrow.INT64 || ds.Schema().Field(2).Type.ID() != arrow.FLOAT64 || ds.Schema().Field(4).Type.ID() != arrow.INT64 {
		t.Fatalf("version %d schema %v", ds.Version(), ds.Schema())
	}
	if ids := ds.Fields(); ids[0].ID != 5 || ids[1].ID != 6 || ids[2].ID != 7 || ids[3].ID != 3 || ids[4].ID != 8 {
		t.Fatalf("field ids %+v", ids)
	}
	rows := liveRows([]int64{10, 5}, map[int][]uint32{0: {1, 2}})
	recs, err := ds.Read(0, -1, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	checkWidened(t, recs, rows)
	for _, r := range recs {
		if r.Column(4).NullN() != r.Column(4).Len() {
			t.Fatal("late column not null")
		}
	}
	releaseAll(recs)
	old, err := OpenVersion(root, 3)
	if err != nil || old.Schema().Field(0).Type.ID() != arrow.INT32 {
		t.Fatalf("version 3: %v", err)
	}
	recs, err = old.Read(0, -1, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	releaseAll(recs)
	// Values without an exact float64 are refused.
	root2 := filepath.Join(t.TempDir(), "ds")
	bld := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil))
	bld.Field(0).(*array.Int64Builder).Append(1<<53 + 1)
	rec := bld.NewRecord()
	bld.Release()
	if _, err := Write(root2, []arrow.Record{rec}, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	rec.Release()
	if _, err := WidenColumns(root2, map[string]arrow.DataType{"x": arrow.PrimitiveTypes.Float64}); !errors.Is(err, ErrSchemaMismatch) {
		t.Fatalf("inexact: %v", err)
	}
	if names := dirNames(t, filepath.Join(root2, dataDir)); len(names) != 1 {
		t.Fatalf("refused widening left files: %v", names)
	}
}

// TestInteropWidenColumns: pylance reads our widened columns (and the
// Merge transaction) and appends with the new types; we read pylance's own
// alter_columns cast.
func TestInteropWidenColumns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	rec := makeNarrowRecord(0, 20)
	if _, err := Write(path, []arrow.Record{rec}, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	rec.Release()
	runPylance(t, "delete", path, "s = 's4'")
	if _, err := WidenColumns(path, map[string]arrow.DataType{
		"a": arrow.PrimitiveTypes.Int64, "b": arrow.PrimitiveTypes.Float64, "c": arrow.PrimitiveTypes.Float64}); err != nil {
		t.Fatal(err)
	}
	var txn struct {
		Operation string `json:"operation"`
	}
	json.Unmarshal(runPylance(t, "txn", path, "3"), &txn)
	if txn.Operation != "Merge" {
		t.Fatalf("pylance reads our transaction as %+v", txn)
	}
	runPylance(t, "write", path, "append", narrowRowsJSON(20, 4))
	tbl := pylanceRead(t, path)
	if tbl.Columns[0].Type != "int64" || tbl.Columns[1].Type != "float64" || tbl.Columns[2].Type != "float64" || tbl.CountRows != 23 {
		t.Fatalf("pylance: %d rows, types %s %s %s", tbl.CountRows, tbl.Columns[0].Type, tbl.Columns[1].Type, tbl.Columns[2].Type)
	}
	ds, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := ds.Read(0, -1, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	checkSameAsPylance(t, recs, tbl, 0, -1)
	checkWidened(t, recs, liveRows([]int64{24}, map[int][]uint32{0: {4}}))
	releaseAll(recs)

	// pylance casts; we read it.
	path2 := filepath.Join(t.TempDir(), "ds")
	runPylance(t, "write", path2, "create", testRowsJSON(0, 30), `{"data_storage_version": "2.0"}`)
	runPylance(t, "alter-type", path2, "score", "float32")
	runPylance(t, "alter-type", path2, "score", "float64")
	tbl = pylanceRead(t, path2)
	ds, err = Open(path2)
	if err != nil {
		t.Fatal(err)
	}
	recs, err = ds.Read(0, -1, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	checkSameAsPylance(t, recs, tbl, 0, -1)
	releaseAll(recs)
}

// TestWidenNullColumn: a column of type null (pylance writes one for a
// column of only None) takes any type, nested ones too, without a file
// written: its values are all null in the new type, for us and for pylance.
func TestWidenNullColumn(t *testing.T) {
	for _, to := range []struct {
		t       arrow.DataType
		pyarrow string
	}{
		{arrow.BinaryTypes.String, "string"},
		{arrow.ListOf(arrow.PrimitiveTypes.Int64), "list<int64>"},
		{arrow.StructOf(arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
			arrow.Field{Name: "b", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true}),
			"struct<a: int64, b: list<item: string>>"},
	} {
		for _, ver := range []string{"2.0", "2.1", "2.2"} {
			if ver == "2.0" && to.t.ID() == arrow.STRUCT {
				continue // a 2.0 dataset holds no structs written here (docs/lance.md)
			}
			t.Run(ver+" "+to.pyarrow, func(t *testing.T) { widenNullColumn(t, ver, to.t, to.pyarrow) })
		}
	}
}

func widenNullColumn(t *testing.T, ver string, to arrow.DataType, pyarrowType string) {
	root := filepath.Join(t.TempDir(), "ds")
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "n", Type: arrow.Null, Nullable: true},
		{Name: "z", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	for k := 0; k < 2; k++ {
		b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
		for i := 0; i < 5; i++ {
			b.Field(0).(*array.Int64Builder).Append(int64(5*k + i))
			b.Field(1).AppendNull()
			b.Field(2).(*array.Int64Builder).Append(int64(-i))
		}
		rec := b.NewRecord()
		b.Release()
		if _, err := Write(root, []arrow.Record{rec}, WriteOptions{DataStorageVersion: ver}); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	files := dirNames(t, filepath.Join(root, dataDir))
	ds, err := WidenColumns(root, map[string]arrow.DataType{"n": to})
	if err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, filepath.Join(root, dataDir)); len(got) != len(files) {
		t.Fatalf("data files %v, before %v: a null column needs none", got, files)
	}
	recs, err := ds.Read(0, -1, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, r := range recs {
		if !arrow.TypeEqual(r.Column(1).DataType(), to) || r.Column(1).NullN() != r.Column(1).Len() {
			t.Fatalf("n read as %v", r.Column(1))
		}
		if z := r.Column(2).(*array.Int64); z.Value(1) != -1 {
			t.Fatalf("z read as %v", z)
		}
		rows += int(r.NumRows())
	}
	releaseAll(recs)
	tbl := pylanceRead(t, root)
	if rows != 10 || tbl.CountRows != 10 || tbl.Columns[1].Type != pyarrowType {
		t.Fatalf("%d rows; pylance: %d rows, n of type %s", rows, tbl.CountRows, tbl.Columns[1].Type)
	}
}
