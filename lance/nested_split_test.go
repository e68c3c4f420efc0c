package lance

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestNestedFieldPylanceSplitIsNamed: pylance's drop_columns of a field
// inside a struct leaves its column between the struct's other leaves in
// the data file, and alter_columns retyping one moves it into a data file
// of its own. This reader assembles a struct only from consecutive leaf
// columns of one file, so it refuses such fragments - naming the leaf, the
// cause and the way out, where it used to say only "leaf 1 of 2 missing or
// out of order" - and reads them once pylance's compact_files rewrote them.
func TestNestedFieldPylanceSplitIsNamed(t *testing.T) {
	runPylance(t, "check")
	const script = `
import sys, lance, pyarrow as pa
path, op, compact = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
st = pa.struct([("a", pa.int64()), ("b", pa.string()), ("c", pa.int32())])
lance.write_dataset(pa.table({"id": list(range(100)), "st": pa.array([{"a": i, "b": str(i), "c": i} for i in range(100)], st)}),
                    path, max_rows_per_file=40, data_storage_version="2.1")
ds = lance.dataset(path)
if op == "drop":
    ds.drop_columns(["st.b"])
else:
    ds.alter_columns({"path": "st.a", "data_type": pa.int32()})
if compact:
    lance.dataset(path).optimize.compact_files()
`
	tests := []struct {
		op   string
		leaf string
	}{
		{"drop", `"st.c"`},
		{"cast", `"st.`},
	}
	for _, tt := range tests {
		for _, compact := range []string{"0", "1"} {
			t.Run(tt.op+"-compacted-"+compact, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "data.lance")
				if out, err := exec.Command(pythonBin(), "-c", script, path, tt.op, compact).CombinedOutput(); err != nil {
					t.Fatalf("pylance: %v\n%s", err, out)
				}
				d, err := Open(path)
				if err != nil {
					t.Fatal(err)
				}
				recs, err := d.Read(0, -1, memory.DefaultAllocator)
				var n int64
				for _, r := range recs {
					n += r.NumRows()
					r.Release()
				}
				if compact == "1" {
					if err != nil || n != 100 {
						t.Fatalf("after compact_files: %d rows, %v", n, err)
					}
					return
				}
				if err == nil {
					t.Fatalf("read %d rows of a split struct", n)
				}
				for _, want := range []string{`field "st"`, tt.leaf, "drop_columns", "alter_columns", "compact_files"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not say %q", err, want)
					}
				}
			})
		}
	}
}
