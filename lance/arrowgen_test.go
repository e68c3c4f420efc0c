package lance

// Helpers for the typed interop tests: Arrow IPC files and one python
// process per batch of pylance operations (testdata/pylance_arrow.py). The
// data generator and the exact comparison live in internal/arrowtest.

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/internal/arrowtest"
)

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
	Error              string   `json:"error"` // write with known_bugs: a pylance bug was hit
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
		t.Fatalf("pylance (pip install pylance==14.0.3 pyarrow): %v\n%s", err, stderr.String())
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
		d := arrowtest.DiffRecords(recs, want, r[0], r[1])
		releaseAll(recs)
		if d != "" {
			t.Fatalf("Read(%d, %d): %s", r[0], r[1], d)
		}
	}
}
