package lance

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestDataFilesUnderOtherBasePaths: pylance 14 writes data files under
// another base path (write_dataset's initial_bases and target_bases), the
// data file's base_id naming it: at <base>/<file>, or <base>/data/<file>
// for a base that is a dataset root. They used to be refused ("uses fields
// this reader does not understand"); an absolute base is read now, as
// pylance reads it, and a relative one (relative to the writer's working
// directory) is refused naming the base.
func TestDataFilesUnderOtherBasePaths(t *testing.T) {
	runPylance(t, "check") // pylance 14 is there
	const script = `
import json, os, sys, lance, pyarrow as pa
path, base, root = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
os.chdir(os.path.dirname(path))
bases = [lance.DatasetBasePath(base, name="elsewhere", is_dataset_root=root)]
lance.write_dataset(pa.table({"id": [1, 2, 3, 4]}), path, initial_bases=bases, target_bases=["elsewhere"], max_rows_per_file=3)
lance.dataset(path).delete("id = 2")
lance.write_dataset(pa.table({"id": [5]}), path, mode="append")                             # the dataset's own data/
lance.write_dataset(pa.table({"id": [6]}), path, mode="append", target_bases=["elsewhere"])
print(json.dumps(lance.dataset(path).to_table()["id"].to_pylist()))
`
	tests := []struct {
		name, base string // base: relative to the test's directory, or "ABS/..." for an absolute path
		root       bool
		refused    []string
	}{
		{"absolute", "ABS/other", false, nil},
		{"absolute-dataset-root", "ABS/other", true, nil},
		{"file-url", "file://ABS/other", false, nil},
		{"relative", "other", false, []string{`base path 1 ("elsewhere", other)`, "initial_bases", "absolute local path"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "data.lance")
			root := "0"
			if tt.root {
				root = "1"
			}
			out, err := exec.Command(pythonBin(), "-c", script, path, strings.ReplaceAll(tt.base, "ABS", dir), root).Output()
			if err != nil {
				t.Fatalf("pylance: %v\n%s", err, err.(*exec.ExitError).Stderr)
			}
			var want []int64
			if err := json.Unmarshal(out, &want); err != nil {
				t.Fatal(err)
			}
			d, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			recs, err := d.Read(0, -1, memory.DefaultAllocator)
			var got []int64
			for _, r := range recs {
				got = append(got, r.Column(0).(*array.Int64).Int64Values()...)
				r.Release()
			}
			if tt.refused == nil {
				if err != nil || !slices.Equal(got, want) {
					t.Fatalf("read %v, %v; pylance reads %v", got, err, want)
				}
				for _, st := range d.FragmentStats() { // retention by age stats these files
					for _, p := range st.DataFiles {
						if _, err := os.Stat(p); err != nil {
							t.Errorf("fragment %d: data file path %s: %v", st.ID, p, err)
						}
					}
				}
				return
			}
			if err == nil {
				t.Fatalf("a data file under a relative base path was read: %v", got)
			}
			for _, w := range tt.refused {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
