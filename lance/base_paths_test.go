package lance

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestDataFilesUnderAnotherBasePathAreNamed: pylance 14 writes a dataset's
// data files under another base path (write_dataset's initial_bases and
// target_bases) with the data file's base_id set. This package reads only
// the dataset's own data/ directory, so the read is refused - and the error
// says why (the base path, its name and where it is), where it used to say
// only that the data file "uses fields this reader does not understand".
func TestDataFilesUnderAnotherBasePathAreNamed(t *testing.T) {
	runPylance(t, "check") // pylance 14 is there
	root := t.TempDir()
	path := filepath.Join(root, "data.lance")
	other := filepath.Join(root, "other")
	const script = `
import sys, lance, pyarrow as pa
path, other = sys.argv[1], sys.argv[2]
lance.write_dataset(pa.table({"id": [1, 2, 3]}), path,
                    initial_bases=[lance.DatasetBasePath(other, name="elsewhere")], target_bases=["elsewhere"])
`
	if out, err := exec.Command(pythonBin(), "-c", script, path, other).CombinedOutput(); err != nil {
		t.Fatalf("pylance: %v\n%s", err, out)
	}
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Read(0, -1, memory.DefaultAllocator)
	if err == nil {
		t.Fatal("a data file under another base path was read")
	}
	for _, want := range []string{"base path 1", `"elsewhere"`, other, "initial_bases", "not read here"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
