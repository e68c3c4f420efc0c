package lance

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/internal/arrowtest"
)

// TestInteropReadPylanceTypes: datasets pylance writes (its default 2.2,
// and 2.1) holding every type of issue #3, with nulls at every level, in
// several fragments (two writes, max_rows_per_file) read back by Dataset.Read
// exactly as pylance's to_table() returns them, in full and in ranges that
// cross fragments.
func TestInteropReadPylanceTypes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sch := arrowtest.AllTypesSchema()
	rng := rand.New(rand.NewSource(3))
	r1 := arrowtest.GenRecord(rng, sch, 700, arrowtest.DefaultGen)
	r2 := arrowtest.GenRecord(rng, sch, 300, arrowtest.DefaultGen)
	defer r1.Release()
	defer r2.Release()
	in1, in2 := filepath.Join(dir, "in1.arrow"), filepath.Join(dir, "in2.arrow")
	arrowtest.WriteIPCFile(t, in1, sch, []arrow.Record{r1})
	arrowtest.WriteIPCFile(t, in2, sch, []arrow.Record{r2})
	mine := arrowtest.ConcatColumns(t, sch, []arrow.Record{r1, r2})
	defer releaseArrays(mine)

	versions := []string{"", "2.1"} // "": pylance's default
	var ops []pyOp
	for _, v := range versions {
		p := filepath.Join(dir, "ds"+v)
		opts := map[string]any{"max_rows_per_file": 450}
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
			if len(r.Fragments) != 3 || r.Rows != 1000 {
				t.Fatalf("pylance wrote fragments %v (%d rows)", r.Fragments, r.Rows)
			}
			_, theirs := arrowtest.ReadIPCColumns(t, filepath.Join(dir, "out"+v+".arrow"))
			defer releaseArrays(theirs)
			// pylance itself reads back what we generated.
			for c := range mine {
				if d := arrowtest.DiffArrays(mine[c], theirs[c]); d != "" {
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

// takeColumns returns rows idx of cols, in order.
func takeColumns(t testing.TB, cols []arrow.Array, idx []int64) []arrow.Array {
	t.Helper()
	out := make([]arrow.Array, len(cols))
	for c, col := range cols {
		parts := make([]arrow.Array, len(idx))
		for k, i := range idx {
			parts[k] = array.NewSlice(col, i, i+1)
		}
		a, err := array.Concatenate(parts, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		releaseArrays(parts)
		out[c] = a
	}
	return out
}

func diffColumnSets(want, got []arrow.Array, sch *arrow.Schema) string {
	if len(want) != len(got) {
		return fmt.Sprintf("%d columns, want %d", len(got), len(want))
	}
	for c := range want {
		if d := arrowtest.DiffArrays(want[c], got[c]); d != "" {
			return fmt.Sprintf("column %q: %s", sch.Field(c).Name, d)
		}
	}
	return ""
}

// TestInteropAppendTypes: appends in both directions with every type of
// issue #3 (nulls at every level).
//
//   - pylance creates a dataset with its defaults (2.2), we append, pylance
//     appends after us;
//   - the same with a 2.1 dataset, which we also compact (its two
//     fragments become one) before pylance appends;
//   - we create a dataset (our default, 2.2) in two writes, pylance appends;
//   - we create a 2.0 dataset (flat types only), pylance appends.
//
// Each time pylance reads every row exactly (to_table and take of random
// rows) and so do we, in full and in ranges.
func TestInteropAppendTypes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	all := arrowtest.AllTypesSchema()
	flat := arrow.NewSchema(arrowtest.FlatTypes(), nil)
	rng := rand.New(rand.NewSource(11))
	type dsCase struct {
		name, pyVersion string // pyVersion: pylance creates ("" = default); "go" / "go2.0": we create
		sch             *arrow.Schema
		recs            []arrow.Record // in commit order
		wantVersion     string
	}
	gen := func(sch *arrow.Schema, sizes ...int) []arrow.Record {
		var out []arrow.Record
		for _, n := range sizes {
			out = append(out, arrowtest.GenRecord(rng, sch, n, arrowtest.DefaultGen))
		}
		return out
	}
	cases := []*dsCase{
		{name: "pylance-default", pyVersion: "", sch: all, recs: gen(all, 400, 500, 150), wantVersion: "2.2"},
		{name: "pylance-2.1", pyVersion: "2.1", sch: all, recs: gen(all, 250, 300, 100), wantVersion: "2.1"},
		{name: "go-default", pyVersion: "go", sch: all, recs: gen(all, 400, 1, 200), wantVersion: DefaultDataStorageVersion},
		{name: "go-2.0", pyVersion: "go2.0", sch: flat, recs: gen(flat, 300, 400, 100), wantVersion: "2.0"},
	}
	defer func() {
		for _, c := range cases {
			releaseAll(c.recs)
		}
	}()
	ipcOf := func(c *dsCase, i int) string {
		p := filepath.Join(dir, fmt.Sprintf("%s-%d.arrow", c.name, i))
		if _, err := os.Stat(p); err != nil {
			arrowtest.WriteIPCFile(t, p, c.sch, c.recs[i:i+1])
		}
		return p
	}
	path := func(c *dsCase) string { return filepath.Join(dir, c.name) }
	goWrite := func(c *dsCase, i int, opts WriteOptions) {
		t.Helper()
		if _, err := Write(path(c), c.recs[i:i+1], opts); err != nil {
			t.Fatalf("%s: Write %d: %v", c.name, i, err)
		}
	}
	// 1. pylance creates its datasets.
	var ops []pyOp
	for _, c := range cases {
		if c.pyVersion == "go" || c.pyVersion == "go2.0" {
			continue
		}
		opts := map[string]any{}
		if c.pyVersion != "" {
			opts["data_storage_version"] = c.pyVersion
		}
		ops = append(ops, pyOp{"op": "write", "path": path(c), "ipc": ipcOf(c, 0), "mode": "create", "options": opts})
	}
	runPyArrow(t, ops...)
	// 2. We append to them, and create ours (two writes).
	for _, c := range cases {
		switch c.pyVersion {
		case "go":
			goWrite(c, 0, WriteOptions{})
			goWrite(c, 1, WriteOptions{DataStorageVersion: "2.0"}) // ignored: appends keep the dataset's version
		case "go2.0":
			goWrite(c, 0, WriteOptions{DataStorageVersion: "2.0"})
			goWrite(c, 1, WriteOptions{})
		default:
			goWrite(c, 1, WriteOptions{})
		}
	}
	if _, err := Compact(path(cases[1]), CompactOptions{}); err != nil {
		t.Fatalf("compact: %v", err)
	}
	// 3. pylance appends after us, then reads everything and random rows.
	ops = nil
	takes := map[string][]int64{}
	for _, c := range cases {
		total := 0
		for _, r := range c.recs {
			total += int(r.NumRows())
		}
		var idx []int64
		for k := 0; k < 25; k++ {
			idx = append(idx, rng.Int63n(int64(total)))
		}
		takes[c.name] = idx
		ops = append(ops,
			pyOp{"op": "write", "path": path(c), "ipc": ipcOf(c, 2), "mode": "append"},
			pyOp{"op": "read", "path": path(c), "ipc": filepath.Join(dir, c.name+"-out.arrow")},
			pyOp{"op": "take", "path": path(c), "ipc": filepath.Join(dir, c.name+"-take.arrow"), "indices": idx})
	}
	res := runPyArrow(t, ops...)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := res[3*i+1]
			wantVersion, wantFrags := uint64(3), 3
			if c == cases[1] {
				wantVersion, wantFrags = 4, 2 // compacted
			}
			if r.DataStorageVersion != c.wantVersion || r.Version != wantVersion || len(r.Fragments) != wantFrags {
				t.Fatalf("pylance: version %d storage %s fragments %v", r.Version, r.DataStorageVersion, r.Fragments)
			}
			for _, f := range r.Files {
				if fmt.Sprintf("%d.%d", f[0], f[1]) != c.wantVersion {
					t.Fatalf("data file versions %v", r.Files)
				}
			}
			want := arrowtest.ConcatColumns(t, c.sch, c.recs)
			defer releaseArrays(want)
			_, theirs := arrowtest.ReadIPCColumns(t, filepath.Join(dir, c.name+"-out.arrow"))
			defer releaseArrays(theirs)
			if d := diffColumnSets(want, theirs, c.sch); d != "" {
				t.Fatalf("pylance to_table: %s", d)
			}
			_, took := arrowtest.ReadIPCColumns(t, filepath.Join(dir, c.name+"-take.arrow"))
			defer releaseArrays(took)
			wantTake := takeColumns(t, want, takes[c.name])
			defer releaseArrays(wantTake)
			if d := diffColumnSets(wantTake, took, c.sch); d != "" {
				t.Fatalf("pylance take: %s", d)
			}
			ds, err := Open(path(c))
			if err != nil {
				t.Fatal(err)
			}
			if ds.DataStorageVersion() != c.wantVersion || ds.CheckAppendable() != nil {
				t.Fatalf("storage %s, appendable: %v", ds.DataStorageVersion(), ds.CheckAppendable())
			}
			checkDatasetEquals(t, ds, want, 13)
		})
	}
}
