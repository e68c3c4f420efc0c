package engine

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// nestingProbe, run by python3: pyarrow imports a schema through Arrow's C
// interface only up to a depth; the script reports the deepest struct nesting
// it imports, and reads the dataset at argv[1] with pylance.
const nestingProbe = `
import sys
import lance
import pyarrow as pa
from pyarrow.cffi import ffi

def imports(structs):
    t = pa.int64()
    for i in range(structs):
        t = pa.struct([pa.field(f"l{i}", t)])
    c = ffi.new("struct ArrowSchema*")
    ptr = int(ffi.cast("uintptr_t", c))
    pa.schema([pa.field("deep", t)])._export_to_c(ptr)
    try:
        pa.Schema._import_from_c(ptr)
        return True
    except pa.ArrowInvalid as e:
        assert "Recursion level" in str(e), e
        return False

deepest = max(n for n in range(1, 100) if imports(n))
rows = lance.dataset(sys.argv[1]).to_table().to_pylist()
depth, v = 0, rows[0]["deep"]
while isinstance(v, dict):
    depth, v = depth + 1, next(iter(v.values()))
print(deepest, len(rows), depth, v)
`

// TestNestingLimitIsBelowArrows: the deepest record the rules take (a field
// of maxNesting levels: maxNesting-1 dicts around a value) is one struct
// level below the deepest schema pyarrow imports through Arrow's C interface,
// and pylance reads the bucket holding it.
func TestNestingLimitIsBelowArrows(t *testing.T) {
	python := os.Getenv("PYTHON")
	if python == "" {
		python = "python3"
	}
	dir := t.TempDir()
	b, err := Open(Options{Path: dir, FlushThreshold: 100, Logger: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	appendRecords(t, b, rec("deep", nestedDict(maxNesting-1)))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, "-c", nestingProbe, b.DatasetPath()).CombinedOutput()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	got := strings.Fields(string(out))
	if len(got) != 4 {
		t.Fatalf("probe printed %q", out)
	}
	deepest, _ := strconv.Atoi(got[0])
	// structs in the deepest field the rules take: maxNesting levels, the
	// last one the int
	if ours := maxNesting - 1; ours != deepest-1 {
		t.Fatalf("the rules take %d nested structs, pyarrow imports up to %d: the limit must be one below", ours, deepest)
	}
	if got[1] != "1" || got[2] != strconv.Itoa(maxNesting-1) || got[3] != "1" {
		t.Fatalf("pylance read %q, want 1 row, %d dicts deep, around 1", out, maxNesting-1)
	}
}

// TestHostileInputLeavesABucketPylanceReads: after every hostile key and a
// too-deep value were refused (first record and later, strict and evolving,
// with the WAL), the bucket reopens with exactly the good records, and
// pylance reads it.
func TestHostileInputLeavesABucketPylanceReads(t *testing.T) {
	python := os.Getenv("PYTHON")
	if python == "" {
		python = "python3"
	}
	for _, evolve := range []bool{false, true} {
		t.Run("evolve="+strconv.FormatBool(evolve), func(t *testing.T) {
			dir := t.TempDir()
			open := func() *Bucket {
				b, err := Open(Options{Path: dir, FlushThreshold: 1000, SchemaEvolution: evolve,
					WAL: WALOptions{Enabled: true}, Logger: t.Logf})
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			hostile := []pyDict{rec("deep", nestedDict(maxNesting)), rec("l", []any{nestedDict(maxListNesting - 1)})}
			for _, k := range hostileKeys {
				hostile = append(hostile, rec("x", 9, k.key, 1), rec("s", rec(k.key, 1)), rec("l", []any{rec(k.key, 1)}))
			}
			b := open()
			refuseAll := func() {
				for _, h := range hostile {
					if _, err := b.AppendRecords(pyMarshal(t, h)); err == nil {
						t.Fatalf("%v was taken", h)
					}
				}
			}
			refuseAll() // as the first records
			appendRecords(t, b, rec("x", 1, "s", rec("ok", 1), "l", []any{rec("ok", 2)}))
			refuseAll() // after others, buffered
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
			refuseAll() // after others, stored
			appendRecords(t, b, rec("x", 2))
			crash(t, b) // the WAL holds the second record
			b = open()
			refuseAll()
			if got := rowsOf(t, b); len(got) != 2 {
				t.Fatalf("after reopening: %q", got)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(python, "-c", `import sys, lance
t = lance.dataset(sys.argv[1]).to_table()
print(t.num_rows, ",".join(t.schema.names), t.column("x").to_pylist())`, filepath.Join(dir, "data.lance")).CombinedOutput()
			if err != nil {
				t.Fatalf("pylance: %v\n%s", err, out)
			}
			if got := strings.TrimSpace(string(out)); got != "2 x,s,l [1, 2]" {
				t.Fatalf("pylance read %q", got)
			}
		})
	}
}
