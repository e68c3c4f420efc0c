package lance

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

var extraFields = arrow.NewSchema([]arrow.Field{
	{Name: "tag", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "weight", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
}, nil)

// makeWideRecord is makeRecord plus the extra fields: tag "t<i>" (null when
// i%5 == 0) and weight i/4.
func makeWideRecord(alloc memory.Allocator, start, n int64) arrow.Record {
	base := makeRecord(alloc, start, n)
	defer base.Release()
	tb := array.NewStringBuilder(alloc)
	wb := array.NewFloat64Builder(alloc)
	defer tb.Release()
	defer wb.Release()
	for i := start; i < start+n; i++ {
		if i%5 == 0 {
			tb.AppendNull()
		} else {
			tb.Append("t" + strconv.FormatInt(i, 10))
		}
		wb.Append(float64(i) / 4)
	}
	tags, weights := tb.NewArray(), wb.NewArray()
	defer tags.Release()
	defer weights.Release()
	fields := append(append([]arrow.Field(nil), testSchema.Fields()...), extraFields.Fields()...)
	cols := append(append([]arrow.Array(nil), base.Columns()...), tags, weights)
	return array.NewRecord(arrow.NewSchema(fields, nil), cols, n)
}

// wideRowsJSON is testRowsJSON with the extra fields (pylance's format).
func wideRowsJSON(t *testing.T, start, n int64) string {
	var spec struct {
		Columns []pyColumn `json:"columns"`
	}
	if err := json.Unmarshal([]byte(testRowsJSON(start, n)), &spec); err != nil {
		t.Fatal(err)
	}
	tag := pyColumn{Name: "tag", Type: "string", Nullable: true}
	weight := pyColumn{Name: "weight", Type: "float64", Nullable: true}
	for i := start; i < start+n; i++ {
		if i%5 == 0 {
			tag.Values = append(tag.Values, json.RawMessage("null"))
		} else {
			tag.Values = append(tag.Values, json.RawMessage(strconv.Quote("t"+strconv.FormatInt(i, 10))))
		}
		weight.Values = append(weight.Values, json.RawMessage(strconv.Quote(strconv.FormatFloat(float64(i)/4, 'x', -1, 64))))
	}
	spec.Columns = append(spec.Columns, tag, weight)
	b, _ := json.Marshal(spec)
	return string(b)
}

// checkWideRows checks rows [start, start+n) of a dataset with the extra
// fields: the first four columns are the test rows; the extra ones are null
// for rows below nullBelow (written before AddColumns) and makeWideRecord's
// values otherwise.
func checkWideRows(t *testing.T, recs []arrow.Record, start, n, nullBelow int64) {
	t.Helper()
	var narrow []arrow.Record
	i := start
	for _, rec := range recs {
		if rec.NumCols() != 6 || rec.Schema().Field(4).Name != "tag" || rec.Schema().Field(5).Name != "weight" {
			t.Fatalf("schema %v", rec.Schema())
		}
		tags := rec.Column(4).(*array.String)
		weights := rec.Column(5).(*array.Float64)
		for j := 0; j < int(rec.NumRows()); j, i = j+1, i+1 {
			if i < nullBelow {
				if tags.IsValid(j) || weights.IsValid(j) {
					t.Fatalf("row %d (written before the columns existed): tag %q weight %v", i, tags.ValueStr(j), weights.ValueStr(j))
				}
				continue
			}
			if (i%5 == 0) != tags.IsNull(j) || (i%5 != 0 && tags.Value(j) != "t"+strconv.FormatInt(i, 10)) || weights.IsNull(j) || weights.Value(j) != float64(i)/4 {
				t.Fatalf("row %d: tag %q weight %v", i, tags.ValueStr(j), weights.ValueStr(j))
			}
		}
		narrow = append(narrow, array.NewRecord(testSchema, rec.Columns()[:4], rec.NumRows()))
	}
	checkRows(t, narrow, start, n)
	releaseAll(narrow)
}

func TestAddColumnsRefuses(t *testing.T) {
	root := filepath.Join(t.TempDir(), "ds")
	writeFragments(t, root, []int64{3})
	for _, tt := range []struct {
		name   string
		fields []arrow.Field
	}{
		{"existing name", []arrow.Field{{Name: "score", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}},
		{"duplicate new names", []arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, {Name: "a", Type: arrow.PrimitiveTypes.Int32, Nullable: true}}},
		{"not nullable", []arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64}}},
		{"dotted", []arrow.Field{{Name: "a.b", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}},
		{"empty name", []arrow.Field{{Name: "", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := AddColumns(root, arrow.NewSchema(tt.fields, nil))
			if !errors.Is(err, ErrSchemaMismatch) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	if _, err := AddColumns(root, arrow.NewSchema(nil, nil)); err == nil {
		t.Fatal("no fields: no error")
	}
	if _, err := AddColumns(filepath.Join(t.TempDir(), "none"), extraFields); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing dataset: %v", err)
	}
	if ds, _ := Open(root); ds.Version() != 1 {
		t.Fatalf("a refused AddColumns committed version %d", ds.Version())
	}
}

// TestAddColumns: old fragments read the new fields as nulls, new writes
// must supply them, old versions keep the old schema.
func TestAddColumns(t *testing.T) {
	root := filepath.Join(t.TempDir(), "ds")
	writeFragments(t, root, []int64{5, 7})
	ds, err := AddColumns(root, extraFields)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Version() != 3 || ds.Schema().NumFields() != 6 || ds.CountRows() != 12 {
		t.Fatalf("version %d fields %d rows %d", ds.Version(), ds.Schema().NumFields(), ds.CountRows())
	}
	if f := ds.Fields(); f[4].ID != 4 || f[5].ID != 5 || f[4].ParentID != -1 {
		t.Fatalf("new field ids: %+v", f[4:])
	}
	txn, err := loadTransaction(root, ds.manifest)
	if err != nil || txn.Op != OpMerge || txn.ReadVersion != 2 {
		t.Fatalf("transaction %+v %v", txn, err)
	}
	// The old schema no longer accepted, the new one is.
	old := makeRecord(memory.DefaultAllocator, 12, 1)
	_, err = Write(root, []arrow.Record{old}, WriteOptions{})
	old.Release()
	if !errors.Is(err, ErrSchemaMismatch) {
		t.Fatalf("write with the old schema: %v", err)
	}
	rec := makeWideRecord(memory.DefaultAllocator, 12, 4)
	ds, err = Write(root, []arrow.Record{rec}, WriteOptions{})
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	for _, r := range [][2]int64{{0, -1}, {3, 3}, {11, 2}, {12, 4}} {
		recs, err := ds.Read(r[0], r[1], alloc)
		if err != nil {
			t.Fatal(err)
		}
		n := min(r[1], 16-r[0])
		if r[1] < 0 {
			n = 16 - r[0]
		}
		checkWideRows(t, recs, r[0], n, 12)
		releaseAll(recs)
	}
	v2, err := OpenVersion(root, 2)
	if err != nil || v2.Schema().NumFields() != 4 {
		t.Fatalf("version 2: %v", err)
	}
}

// TestInteropAddColumns: pylance reads our schema change (nulls for old
// rows), decodes its Merge transaction and appends after it; and we read
// pylance's own add_columns output (fragments with two data files, and
// fields no data file has).
func TestInteropAddColumns(t *testing.T) {
	t.Run("go-adds", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "ds")
		writeFragments(t, path, []int64{5, 7})
		if _, err := AddColumns(path, extraFields); err != nil {
			t.Fatal(err)
		}
		var txn struct {
			Operation   string `json:"operation"`
			ReadVersion uint64 `json:"read_version"`
		}
		json.Unmarshal(runPylance(t, "txn", path, "3"), &txn)
		if txn.Operation != "Merge" || txn.ReadVersion != 2 {
			t.Fatalf("pylance reads our transaction as %+v", txn)
		}
		runPylance(t, "write", path, "append", wideRowsJSON(t, 12, 3))
		rec := makeWideRecord(memory.DefaultAllocator, 15, 2)
		_, err := Write(path, []arrow.Record{rec}, WriteOptions{})
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
		tbl := pylanceRead(t, path)
		if tbl.Version != 5 || tbl.CountRows != 17 || len(tbl.Columns) != 6 {
			t.Fatalf("pylance: version %d rows %d columns %d", tbl.Version, tbl.CountRows, len(tbl.Columns))
		}
		ds, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := ds.Read(0, -1, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		checkWideRows(t, recs, 0, 17, 12)
		checkSameAsPylance(t, recs, tbl, 0, -1)
		releaseAll(recs)
	})
	t.Run("pylance-adds", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "ds")
		runPylance(t, "write", path, "create", testRowsJSON(0, 30), `{"data_storage_version": "2.0"}`)
		runPylance(t, "write", path, "append", testRowsJSON(30, 20))
		runPylance(t, "delete", path, "id < 0")
		// A computed column: a second data file in every fragment.
		runPylance(t, "add-columns", path, `{"tag": "CAST(id AS STRING)"}`)
		// A schema-only column: in no data file.
		runPylance(t, "add-null-columns", path, `[{"name": "weight", "type": "float64"}]`)
		compare := func(step string) {
			t.Helper()
			tbl := pylanceRead(t, path)
			ds, err := Open(path)
			if err != nil {
				t.Fatal(step, err)
			}
			if ds.CountRows() != tbl.CountRows || ds.Version() != tbl.Version {
				t.Fatalf("%s: rows %d version %d, pylance %d %d", step, ds.CountRows(), ds.Version(), tbl.CountRows, tbl.Version)
			}
			for _, r := range [][2]int64{{0, -1}, {2, 30}, {tbl.CountRows - 3, 3}} {
				recs, err := ds.Read(r[0], r[1], memory.DefaultAllocator)
				if err != nil {
					t.Fatal(step, err)
				}
				checkSameAsPylance(t, recs, tbl, r[0], r[1])
				releaseAll(recs)
			}
		}
		compare("pylance add_columns")
		ds, _ := Open(path)
		if n := len(ds.manifest.Fragments[0].Files); n != 2 {
			t.Fatalf("fragment 0 has %d data files, want 2", n)
		}
		rec := makeWideRecord(memory.DefaultAllocator, 50, 5)
		_, err := Write(path, []arrow.Record{rec}, WriteOptions{})
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
		compare("Go append")
	})
}

// TestInteropNewFieldAfterPylanceDrop: pylance's drop_columns removes a field
// from the schema only; its data files still hold the column under the old
// field id. A field we add or rewrite afterwards must take an id no data
// file uses: it took the highest schema id + 1 before, which is the dropped
// field's, so pylance decoded the dropped column as the new field (a bool as
// an int64: "Need at least 80 bytes in buffers[0]") or read its values.
func TestInteropNewFieldAfterPylanceDrop(t *testing.T) {
	cases := []struct {
		name   string
		setup  []string // pylance commands after creating testRowsJSON(0, 10) at 2.1
		change func(path string) (*Dataset, error)
		column string
		want   func(tbl pyTable, i int) string // the column's value in row i, as pylance's JSON
	}{
		{
			name:  "add-after-drop",
			setup: []string{"drop-columns", `["ok", "name"]`},
			change: func(path string) (*Dataset, error) {
				return AddColumns(path, arrow.NewSchema([]arrow.Field{{Name: "name", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil))
			},
			column: "name",
			want:   func(pyTable, int) string { return "null" },
		},
		{
			name:  "widen-after-drop",
			setup: []string{"add-columns", `{"n": "CAST(id AS INT)", "z": "CAST(id * 2 + 1 AS INT)"}`, "drop-columns", `["z"]`},
			change: func(path string) (*Dataset, error) {
				return WidenColumns(path, map[string]arrow.DataType{"n": arrow.PrimitiveTypes.Int64})
			},
			column: "n",
			want:   func(tbl pyTable, i int) string { return string(tbl.Columns[0].Values[i]) }, // = id
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ds")
			runPylance(t, "write", path, "create", testRowsJSON(0, 10), `{"data_storage_version": "2.1"}`)
			for i := 0; i < len(c.setup); i += 2 {
				runPylance(t, c.setup[i], path, c.setup[i+1])
			}
			if _, err := c.change(path); err != nil {
				t.Fatal(err)
			}
			tbl := pylanceRead(t, path)
			var col *pyColumn
			for i := range tbl.Columns {
				if tbl.Columns[i].Name == c.column {
					col = &tbl.Columns[i]
				}
			}
			if col == nil || tbl.CountRows != 10 || len(col.Values) != 10 {
				t.Fatalf("pylance reads %d rows, columns %+v", tbl.CountRows, tbl.Columns)
			}
			for i, v := range col.Values {
				if string(v) != c.want(tbl, i) {
					t.Fatalf("pylance reads %s[%d] = %s, want %s", c.column, i, v, c.want(tbl, i))
				}
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
			releaseAll(recs)
		})
	}
}
