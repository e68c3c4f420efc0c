package lance

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestNestedFieldPylanceSplitIsRead: pylance's drop_columns of a field
// inside a struct leaves its column between the struct's other leaves in
// the data file, and alter_columns retyping one moves it into a data file
// of its own. Such fragments read as pylance reads them (they used to be
// refused until compact_files rewrote them): with nulls at every level, at
// each file version, in nested structs and in lists of structs, and after
// compact_files too.
func TestNestedFieldPylanceSplitIsRead(t *testing.T) {
	runPylance(t, "check")
	const script = `
import sys, json, lance, pyarrow as pa
path, version, op, compact = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
inner = pa.struct([("x", pa.int32()), ("y", pa.string())])
st = pa.struct([("a", pa.int64()), ("b", pa.string()), ("c", pa.list_(pa.int32())), ("d", inner)])
los = pa.list_(pa.struct([("k", pa.string()), ("v", pa.float64())]))
nulls = version != "2.0"  # 2.0 files cannot store a struct's nulls
def row(i):
    if nulls and i % 7 == 3:
        return None
    return {"a": None if i % 5 == 1 else i, "b": str(i), "c": [i, None] if i % 4 else None,
            "d": None if nulls and i % 6 == 2 else {"x": i, "y": None if i % 3 == 0 else "y%d" % i}}
n = 90
t = pa.table({"id": pa.array(range(n), pa.int64()), "st": pa.array([row(i) for i in range(n)], st)})
if version != "2.0":
    t = t.append_column("los", pa.array([None if i % 8 == 5 else [{"k": "k%d" % i, "v": None if i % 2 else i / 2}] * (i % 3)
                                         for i in range(n)], los))
lance.write_dataset(t, path, max_rows_per_file=40, max_rows_per_group=16, data_storage_version=version)
ops = {
    "drop": [lambda ds: ds.drop_columns(["st.b"])],
    "drop-first": [lambda ds: ds.drop_columns(["st.a"])],
    "drop-nested": [lambda ds: ds.drop_columns(["st.d.x"])],
    "drop-in-list": [lambda ds: ds.drop_columns(["los.item.k"])],
    "cast": [lambda ds: ds.alter_columns({"path": "st.a", "data_type": pa.int32()})],
    "cast-nested": [lambda ds: ds.alter_columns({"path": "st.d.x", "data_type": pa.int64()})],
    "cast-in-list": [lambda ds: ds.alter_columns({"path": "los.item.v", "data_type": pa.float32()})],
    "drop-then-cast": [lambda ds: ds.drop_columns(["st.b"]), lambda ds: ds.alter_columns({"path": "st.c", "data_type": pa.list_(pa.int64())})],
    "upsert-partial": [lambda ds: ds.merge_insert("id").when_matched_update_all().execute(pa.table({
        "id": pa.array([2, 3, 7, 50], pa.int64()),
        "st": pa.array([{"a": 100, "d": {"x": 1}}, None, {"a": None, "d": None}, {"a": 5, "d": {"x": 5}}],
                       pa.struct([("a", pa.int64()), ("d", pa.struct([("x", pa.int32())]))]))}))],
    "cast-twice": [lambda ds: ds.alter_columns({"path": "st.a", "data_type": pa.int32()}),
                   lambda ds: ds.alter_columns({"path": "st.d.x", "data_type": pa.int64()})],
}
for f in ops[op]:
    f(lance.dataset(path))
lance.dataset(path).delete("id % 11 = 4")
if compact:
    lance.dataset(path).optimize.compact_files()
print(json.dumps(lance.dataset(path).to_table().to_pylist()))
`
	ops := []struct {
		op       string
		versions []string
	}{
		{"drop", []string{"2.0", "2.1", "2.2"}},
		{"drop-first", []string{"2.0", "2.1", "2.2"}},
		{"drop-nested", []string{"2.1", "2.2"}},
		{"drop-in-list", []string{"2.1", "2.2"}},
		{"cast", []string{"2.1", "2.2"}}, // pylance 14 cannot read its own cast of a 2.0 struct child
		{"cast-nested", []string{"2.1", "2.2"}},
		{"cast-in-list", []string{"2.1", "2.2"}},
		{"drop-then-cast", []string{"2.1", "2.2"}},
		{"cast-twice", []string{"2.1", "2.2"}},
		{"upsert-partial", []string{"2.1", "2.2"}}, // a source with some of a struct's children
	}
	for _, tt := range ops {
		for _, v := range tt.versions {
			for _, compact := range []string{"0", "1"} {
				t.Run(tt.op+"-"+v+"-compacted-"+compact, func(t *testing.T) {
					t.Parallel()
					path := filepath.Join(t.TempDir(), "data.lance")
					out, err := exec.Command(pythonBin(), "-c", script, path, v, tt.op, compact).Output()
					if err != nil {
						t.Fatalf("pylance: %v\n%s", err, exitStderr(err))
					}
					var want []map[string]any
					if err := json.Unmarshal(out, &want); err != nil {
						t.Fatal(err)
					}
					d, err := Open(path)
					if err != nil {
						t.Fatal(err)
					}
					if res, err := Verify(path, memory.DefaultAllocator); err != nil || len(res.Problems) > 0 {
						t.Fatalf("verify: %v %+v", err, res.Problems)
					}
					// whole, and in ranges that start and end inside fragments
					for _, r := range [][2]int64{{0, -1}, {7, 50}, {33, 1}} {
						recs, err := d.Read(r[0], r[1], memory.DefaultAllocator)
						if err != nil {
							t.Fatalf("read %v: %v", r, err)
						}
						got := recordsJSON(t, recs)
						releaseAll(recs)
						end := int64(len(want))
						if r[1] >= 0 {
							end = r[0] + r[1]
						}
						if !reflect.DeepEqual(got, want[r[0]:end]) {
							t.Fatalf("read %v:\n got %v\nwant %v", r, got, want[r[0]:end])
						}
					}
					if compact == "1" || v == "2.0" { // this writer writes no 2.0 structs
						return
					}
					// this package's compaction rewrites the split fragments whole,
					// and pylance reads what it wrote
					if _, err := Compact(path, CompactOptions{}); err != nil {
						t.Fatalf("compact: %v", err)
					}
					out, err = exec.Command(pythonBin(), "-c", pylanceRows, path).Output()
					if err != nil {
						t.Fatalf("pylance after Compact: %v\n%s", err, exitStderr(err))
					}
					var after []map[string]any
					if err := json.Unmarshal(out, &after); err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(after, want) {
						t.Fatalf("after Compact pylance reads\n%v\nwant %v", after, want)
					}
				})
			}
		}
	}
}

const pylanceRows = `import sys, json, lance; print(json.dumps(lance.dataset(sys.argv[1]).to_table().to_pylist()))`

func exitStderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// recordsJSON is the rows of recs as JSON objects decode (what pylance's
// to_pylist dumps to).
func recordsJSON(t *testing.T, recs []arrow.Record) []map[string]any {
	t.Helper()
	out := []map[string]any{}
	for _, rec := range recs {
		for i := 0; i < int(rec.NumRows()); i++ {
			row := map[string]any{}
			for c, col := range rec.Columns() {
				row[rec.ColumnName(c)] = col.GetOneForMarshal(i)
			}
			b, err := json.Marshal(row)
			if err != nil {
				t.Fatal(err)
			}
			var back map[string]any
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			out = append(out, back)
		}
	}
	return out
}
