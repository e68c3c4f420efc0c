package lance

import (
	"math/rand"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

func nf(name string, dt arrow.DataType) arrow.Field {
	return arrow.Field{Name: name, Type: dt, Nullable: true}
}

func vecType(dim int32) arrow.DataType {
	return arrow.FixedSizeListOfField(dim, nf("item", arrow.PrimitiveTypes.Float32))
}

// flatTypes are the non-nested column types of issue #3.
func flatTypes() []arrow.Field {
	return []arrow.Field{
		nf("i8", arrow.PrimitiveTypes.Int8), nf("i16", arrow.PrimitiveTypes.Int16),
		nf("i32", arrow.PrimitiveTypes.Int32), nf("i64", arrow.PrimitiveTypes.Int64),
		nf("u8", arrow.PrimitiveTypes.Uint8), nf("u16", arrow.PrimitiveTypes.Uint16),
		nf("u32", arrow.PrimitiveTypes.Uint32), nf("u64", arrow.PrimitiveTypes.Uint64),
		nf("f32", arrow.PrimitiveTypes.Float32), nf("f64", arrow.PrimitiveTypes.Float64),
		nf("b", arrow.FixedWidthTypes.Boolean),
		nf("s", arrow.BinaryTypes.String), nf("ls", arrow.BinaryTypes.LargeString),
		nf("bin", arrow.BinaryTypes.Binary), nf("lbin", arrow.BinaryTypes.LargeBinary),
		nf("ts_s", &arrow.TimestampType{Unit: arrow.Second}),
		nf("ts_ms", &arrow.TimestampType{Unit: arrow.Millisecond}),
		nf("ts_us", &arrow.TimestampType{Unit: arrow.Microsecond}),
		nf("ts_ns", &arrow.TimestampType{Unit: arrow.Nanosecond}),
		nf("ts_s_tz", &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}),
		nf("ts_ms_tz", &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "Europe/Paris"}),
		nf("ts_us_tz", &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}),
		nf("ts_ns_tz", &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "America/New_York"}),
		nf("d32", arrow.FixedWidthTypes.Date32),
	}
}

// nestedTypes are the nested column types of issue #3.
func nestedTypes() []arrow.Field {
	return []arrow.Field{
		nf("vec4", vecType(4)),
		nf("vec768", vecType(768)),
		nf("l_i64", arrow.ListOfField(nf("item", arrow.PrimitiveTypes.Int64))),
		nf("l_str", arrow.ListOfField(nf("item", arrow.BinaryTypes.String))),
		nf("ll_i32", arrow.LargeListOfField(nf("item", arrow.PrimitiveTypes.Int32))),
		nf("ll_str", arrow.LargeListOfField(nf("item", arrow.BinaryTypes.LargeString))),
		nf("st", arrow.StructOf(
			nf("a", arrow.PrimitiveTypes.Int32),
			nf("b", arrow.BinaryTypes.String),
			nf("c", arrow.StructOf(nf("d", arrow.PrimitiveTypes.Float64), nf("e", arrow.ListOfField(nf("item", arrow.PrimitiveTypes.Int32))))),
		)),
		nf("l_st", arrow.ListOfField(nf("item", arrow.StructOf(nf("p", arrow.PrimitiveTypes.Int16), nf("q", arrow.BinaryTypes.String))))),
	}
}

func allTypesSchema() *arrow.Schema {
	return arrow.NewSchema(append(flatTypes(), nestedTypes()...), nil)
}

// TestInteropReadPylanceTypes: datasets pylance writes (its default 2.2,
// and 2.1) holding every type of issue #3, with nulls at every level, in
// several fragments (two writes, max_rows_per_file) read back by Dataset.Read
// exactly as pylance's to_table() returns them, in full and in ranges that
// cross fragments.
func TestInteropReadPylanceTypes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sch := allTypesSchema()
	rng := rand.New(rand.NewSource(3))
	r1 := genRecord(rng, sch, 1500, defaultGen)
	r2 := genRecord(rng, sch, 700, defaultGen)
	defer r1.Release()
	defer r2.Release()
	in1, in2 := filepath.Join(dir, "in1.arrow"), filepath.Join(dir, "in2.arrow")
	writeIPCFile(t, in1, sch, []arrow.Record{r1})
	writeIPCFile(t, in2, sch, []arrow.Record{r2})
	mine := recordColumns(t, sch, []arrow.Record{r1, r2})
	defer releaseArrays(mine)

	versions := []string{"", "2.1"} // "": pylance's default
	var ops []pyOp
	for _, v := range versions {
		p := filepath.Join(dir, "ds"+v)
		opts := map[string]any{"max_rows_per_file": 1000}
		if v != "" {
			opts["data_storage_version"] = v
		}
		ops = append(ops,
			pyOp{"op": "write", "path": p, "ipc": in1, "mode": "create", "options": opts},
			pyOp{"op": "write", "path": p, "ipc": in2, "mode": "append"},
			pyOp{"op": "read", "path": p, "ipc": filepath.Join(dir, "out"+v+".arrow")})
	}
	res := runPyArrow(t, ops...)
	for i, v := range versions {
		v := v
		r := res[3*i+2]
		t.Run("v"+r.DataStorageVersion, func(t *testing.T) {
			if v == "" && r.DataStorageVersion != "2.2" {
				t.Errorf("pylance's default data storage version is %s, the tests assume 2.2", r.DataStorageVersion)
			}
			if len(r.Fragments) != 3 || r.Rows != 2200 {
				t.Fatalf("pylance wrote fragments %v (%d rows)", r.Fragments, r.Rows)
			}
			_, theirs := readIPCColumns(t, filepath.Join(dir, "out"+v+".arrow"))
			defer releaseArrays(theirs)
			// pylance itself reads back what we generated.
			for c := range mine {
				if d := diffArrays(mine[c], theirs[c]); d != "" {
					t.Fatalf("pylance's own read of column %q: %s", sch.Field(c).Name, d)
				}
			}
			ds, err := Open(filepath.Join(dir, "ds"+v))
			if err != nil {
				t.Fatal(err)
			}
			if !ds.Schema().Equal(sch) {
				t.Fatalf("schema\n%v\nwant\n%v", ds.Schema(), sch)
			}
			checkDatasetEquals(t, ds, theirs, 7)
		})
	}
}
