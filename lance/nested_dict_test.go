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

// TestNestedDictionaryPylance: pylance writes a dictionary-typed list item
// or struct child from dictionary-typed input and reads it back as that
// dictionary type. This reader refused such columns ("reading arrow type
// dictionary<...> is not supported"); it now reads them, of the same type,
// with the same values, nulls at every level, at each file version.
func TestNestedDictionaryPylance(t *testing.T) {
	runPylance(t, "check")
	const script = `
import sys, json, lance, pyarrow as pa
path, version = sys.argv[1], sys.argv[2]
n = 60
words = pa.array([["red", "green", None, "blue"][i % 4] for i in range(3 * n)]).dictionary_encode()
offs = [0]
for i in range(n):
    offs.append(offs[-1] + i % 4)
valid = pa.array([i % 9 != 4 for i in range(n)])
ld = pa.ListArray.from_arrays(pa.array(offs, pa.int32()), words.slice(0, offs[-1]), mask=pa.compute.invert(valid))
sd = pa.StructArray.from_arrays([words.slice(0, n), pa.array(range(n))], names=["c", "n"],
                                mask=None if version == "2.0" else pa.array([i % 7 == 3 for i in range(n)]))
t = pa.table({"id": pa.array(range(n)), "ld": ld, "sd": sd})
lance.write_dataset(t, path, data_storage_version=version, max_rows_per_file=25, max_rows_per_group=8)
got = lance.dataset(path).to_table()
print(json.dumps({"types": [str(f.type) for f in got.schema], "rows": got.to_pylist()}))
`
	for _, v := range []string{"2.0", "2.1", "2.2"} {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "data.lance")
			out, err := exec.Command(pythonBin(), "-c", script, path, v).Output()
			if err != nil {
				t.Fatalf("pylance: %v\n%s", err, exitStderr(err))
			}
			var want struct {
				Types []string         `json:"types"`
				Rows  []map[string]any `json:"rows"`
			}
			if err := json.Unmarshal(out, &want); err != nil {
				t.Fatal(err)
			}
			d, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range [][2]int64{{0, -1}, {10, 30}} {
				recs, err := d.Read(r[0], r[1], memory.DefaultAllocator)
				if err != nil {
					t.Fatalf("read %v: %v", r, err)
				}
				for _, rec := range recs {
					for c, col := range rec.Columns() {
						if !arrow.TypeEqual(col.DataType(), d.Schema().Field(c).Type) {
							t.Fatalf("column %d read as %s, the schema says %s (pylance: %s)", c, col.DataType(), d.Schema().Field(c).Type, want.Types[c])
						}
					}
				}
				got := recordsJSON(t, recs)
				releaseAll(recs)
				end := int64(len(want.Rows))
				if r[1] >= 0 {
					end = r[0] + r[1]
				}
				if !reflect.DeepEqual(got, want.Rows[r[0]:end]) {
					t.Fatalf("read %v:\n got %v\nwant %v", r, got, want.Rows[r[0]:end])
				}
			}
			if res, err := Verify(path, memory.DefaultAllocator); err != nil || len(res.Problems) > 0 {
				t.Fatalf("verify: %v %+v", err, res.Problems)
			}
		})
	}
}
