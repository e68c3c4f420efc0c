package lance

// Interop tests against pylance 14 (PyPI pylance==14.0.3 + pyarrow). They
// shell out to testdata/pylance_interop.py and FAIL when pylance is not
// installed: `pip install pylance==14.0.3 pyarrow`. Set PYTHON to choose the
// interpreter (default python3).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

var (
	pylanceOnce sync.Once
	pylanceErr  error
)

func pythonBin() string {
	if p := os.Getenv("PYTHON"); p != "" {
		return p
	}
	return "python3"
}

func runPylance(t *testing.T, args ...string) []byte {
	t.Helper()
	pylanceOnce.Do(func() {
		out, err := exec.Command(pythonBin(), filepath.Join("testdata", "pylance_interop.py"), "check").CombinedOutput()
		if err != nil {
			pylanceErr = errors.New(strings.TrimSpace(string(out)))
		} else if !strings.HasPrefix(string(out), "14.") {
			pylanceErr = errors.New("want pylance 14.x, found " + strings.TrimSpace(string(out)))
		}
	})
	if pylanceErr != nil {
		t.Fatalf("pylance is required for interop tests (pip install pylance==14.0.3 pyarrow): %v", pylanceErr)
	}
	argv := []string{filepath.Join("testdata", "pylance_interop.py")}
	for _, a := range args {
		if len(a) > 64<<10 {
			// Too big for a command line: pass it as "@file".
			p := filepath.Join(t.TempDir(), "arg.json")
			if err := os.WriteFile(p, []byte(a), 0o644); err != nil {
				t.Fatal(err)
			}
			a = "@" + p
		}
		argv = append(argv, a)
	}
	cmd := exec.Command(pythonBin(), argv...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pylance %s: %v\n%s", args[0], err, stderr.String())
	}
	return out
}

type pyColumn struct {
	Name     string            `json:"name"`
	Type     string            `json:"type"`
	Nullable bool              `json:"nullable"`
	Values   []json.RawMessage `json:"values"`
}

type pyTable struct {
	Columns            []pyColumn `json:"columns"`
	Version            uint64     `json:"version"`
	CountRows          int64      `json:"count_rows"`
	DataStorageVersion string     `json:"data_storage_version"`
	Versions           []struct {
		Version   uint64  `json:"version"`
		Timestamp float64 `json:"timestamp"`
	} `json:"versions"`
	Fragments []int64           `json:"fragments"`
	Config    map[string]string `json:"config"`
}

func pylanceRead(t *testing.T, path string) pyTable {
	t.Helper()
	var tbl pyTable
	if err := json.Unmarshal(runPylance(t, "read", path), &tbl); err != nil {
		t.Fatal(err)
	}
	return tbl
}

// testRowsJSON renders test rows [start, start+n) in the script's format.
func testRowsJSON(start, n int64) string {
	cols := []pyColumn{{Name: "id", Type: "int64"}, {Name: "score", Type: "float64"}, {Name: "ok", Type: "bool"}, {Name: "name", Type: "string"}}
	null := json.RawMessage("null")
	for i := start; i < start+n; i++ {
		r := expectedRow(i)
		add := func(c int, present bool, v any) {
			if !present {
				cols[c].Values = append(cols[c].Values, null)
				return
			}
			b, _ := json.Marshal(v)
			cols[c].Values = append(cols[c].Values, b)
		}
		add(0, r.id != nil, deref(r.id))
		if r.score != nil {
			add(1, true, strconv.FormatFloat(*r.score, 'x', -1, 64))
		} else {
			add(1, false, nil)
		}
		add(2, r.ok != nil, deref(r.ok))
		add(3, r.name != nil, deref(r.name))
	}
	for i := range cols {
		cols[i].Nullable = true
	}
	b, _ := json.Marshal(map[string]any{"columns": cols})
	return string(b)
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// checkPyRows verifies that pylance returned exactly test rows [start, start+n).
func checkPyRows(t *testing.T, tbl pyTable, start, n int64) {
	t.Helper()
	wantTypes := []string{"int64", "float64", "bool", "string"}
	if len(tbl.Columns) != 4 {
		t.Fatalf("pylance sees %d columns", len(tbl.Columns))
	}
	for c, col := range tbl.Columns {
		if col.Name != testSchema.Field(c).Name || col.Type != wantTypes[c] || !col.Nullable {
			t.Fatalf("column %d: %s %s nullable=%v", c, col.Name, col.Type, col.Nullable)
		}
		if int64(len(col.Values)) != n {
			t.Fatalf("column %s: %d values, want %d", col.Name, len(col.Values), n)
		}
	}
	for k := int64(0); k < n; k++ {
		i := start + k
		r := expectedRow(i)
		get := func(c int) json.RawMessage { return tbl.Columns[c].Values[k] }
		isNull := func(c int) bool { return string(get(c)) == "null" }
		if (r.id == nil) != isNull(0) || (r.id != nil && string(get(0)) != strconv.FormatInt(*r.id, 10)) {
			t.Fatalf("row %d id: pylance %s", i, get(0))
		}
		if (r.score == nil) != isNull(1) {
			t.Fatalf("row %d score null: pylance %s", i, get(1))
		}
		if r.score != nil {
			var s string
			json.Unmarshal(get(1), &s)
			f, err := strconv.ParseFloat(s, 64)
			if err != nil || math.Float64bits(f) != math.Float64bits(*r.score) {
				t.Fatalf("row %d score: pylance %s, want %v", i, s, *r.score)
			}
		}
		if (r.ok == nil) != isNull(2) || (r.ok != nil && string(get(2)) != strconv.FormatBool(*r.ok)) {
			t.Fatalf("row %d ok: pylance %s", i, get(2))
		}
		if (r.name == nil) != isNull(3) {
			t.Fatalf("row %d name null: pylance %s", i, get(3))
		}
		if r.name != nil {
			var s string
			json.Unmarshal(get(3), &s)
			if s != *r.name {
				t.Fatalf("row %d name: pylance %q, want %q", i, s, *r.name)
			}
		}
	}
}

// TestInteropGoWritesPylanceReads: what Write commits, pylance reads exactly
// (values, nulls, types, order, version history).
func TestInteropGoWritesPylanceReads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	sizes := []int64{7, 1, 300}
	before := time.Now().Add(-time.Second)
	ds := writeFragments(t, path, sizes)
	tbl := pylanceRead(t, path)
	if tbl.Version != 3 || tbl.CountRows != 308 || tbl.DataStorageVersion != DefaultDataStorageVersion {
		t.Fatalf("pylance: version %d rows %d storage %s", tbl.Version, tbl.CountRows, tbl.DataStorageVersion)
	}
	if len(tbl.Fragments) != 3 || tbl.Fragments[0] != 7 || tbl.Fragments[1] != 1 || tbl.Fragments[2] != 300 {
		t.Fatalf("pylance fragments %v", tbl.Fragments)
	}
	checkPyRows(t, tbl, 0, 308)
	vs, err := ds.Versions()
	if err != nil {
		t.Fatal(err)
	}
	if len(tbl.Versions) != 3 {
		t.Fatalf("pylance versions %v", tbl.Versions)
	}
	for i, v := range tbl.Versions {
		ts := time.Unix(0, int64(v.Timestamp*1e9))
		if v.Version != uint64(i+1) || v.Version != vs[i].Version || ts.Before(before) || ts.Sub(vs[i].Timestamp).Abs() > time.Millisecond {
			t.Fatalf("pylance version %d at %v, we say %d at %v", v.Version, ts, vs[i].Version, vs[i].Timestamp)
		}
	}
	// Every version is readable by pylance, too.
	var old pyTable
	json.Unmarshal(runPylance(t, "read", path, "1"), &old)
	if old.Version != 1 || old.CountRows != 7 {
		t.Fatalf("pylance version 1: %d rows", old.CountRows)
	}
	checkPyRows(t, old, 0, 7)
	// The naming scheme is pylance 14's default (V2).
	if _, err := os.Stat(filepath.Join(path, versionsDir, "18446744073709551612.manifest")); err != nil {
		t.Fatal(err)
	}
}

// TestInteropAlternatingAppends: pylance appends to a dataset we created and
// appended to, we append after pylance, and both sides read everything.
func TestInteropAlternatingAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	writeFragments(t, path, []int64{5, 6})                      // Go: v1 create, v2 append
	runPylance(t, "write", path, "append", testRowsJSON(11, 4)) // pylance: v3
	ds, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Version() != 3 || ds.CountRows() != 15 || ds.DataStorageVersion() != DefaultDataStorageVersion {
		t.Fatalf("after pylance append: version %d rows %d storage %s", ds.Version(), ds.CountRows(), ds.DataStorageVersion())
	}
	recs, err := ds.Read(0, -1, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, recs, 0, 15)
	releaseAll(recs)

	rec := makeRecord(memory.DefaultAllocator, 15, 9)
	ds, err = Write(path, []arrow.Record{rec}, WriteOptions{Properties: map[string]string{"k": "v"}}) // Go: v4
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	runPylance(t, "write", path, "append", testRowsJSON(24, 2)) // pylance: v5
	// pylance commits on top of a stale read version (3): it must load the
	// transactions of versions 4 (ours) and 5 to check for conflicts.
	var res struct{ Version uint64 }
	json.Unmarshal(runPylance(t, "commit-stale", path, "3", testRowsJSON(26, 3)), &res)
	if res.Version != 6 {
		t.Fatalf("pylance stale commit landed as version %d, want 6", res.Version)
	}
	tbl := pylanceRead(t, path)
	if tbl.Version != 6 || tbl.CountRows != 29 || len(tbl.Versions) != 6 {
		t.Fatalf("pylance: version %d rows %d versions %d", tbl.Version, tbl.CountRows, len(tbl.Versions))
	}
	checkPyRows(t, tbl, 0, 29)
	ds, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err = ds.Read(3, 20, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, recs, 3, 20)
	releaseAll(recs)
}

// TestInteropGoReadsPylance: datasets pylance writes with file version 2.0 in
// several appends, with both manifest naming schemes, read exactly.
func TestInteropGoReadsPylance(t *testing.T) {
	for _, tt := range []struct {
		name   string
		v2     bool
		scheme NamingScheme
	}{{"naming-v2", true, NamingV2}, {"naming-v1", false, NamingV1}} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ds")
			opts := `{"data_storage_version": "2.0", "enable_v2_manifest_paths": ` + strconv.FormatBool(tt.v2) + `}`
			runPylance(t, "write", path, "create", testRowsJSON(0, 100), opts)
			runPylance(t, "write", path, "append", testRowsJSON(100, 1))
			runPylance(t, "write", path, "append", testRowsJSON(101, 2000))
			ds, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			if ds.Version() != 3 || ds.CountRows() != 2101 || ds.NamingScheme() != tt.scheme || ds.NumFragments() != 3 {
				t.Fatalf("version %d rows %d scheme %v fragments %d", ds.Version(), ds.CountRows(), ds.NamingScheme(), ds.NumFragments())
			}
			if !ds.Schema().Equal(testSchema) {
				t.Fatalf("schema %v", ds.Schema())
			}
			alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer alloc.AssertSize(t, 0)
			for _, r := range [][2]int64{{0, -1}, {99, 3}, {100, 1}, {50, 1000}, {2100, 5}} {
				recs, err := ds.Read(r[0], r[1], alloc)
				if err != nil {
					t.Fatal(err)
				}
				n := ds.CountRows() - r[0]
				if r[1] >= 0 && r[1] < n {
					n = r[1]
				}
				checkRows(t, recs, r[0], n)
				releaseAll(recs)
			}
			vs, err := ds.Versions()
			if err != nil || len(vs) != 3 {
				t.Fatalf("versions %v %v", vs, err)
			}
			old, err := OpenVersion(path, 2)
			if err != nil || old.CountRows() != 101 {
				t.Fatalf("version 2: %v", err)
			}
			// And we can append to it, keeping its naming scheme.
			rec := makeRecord(memory.DefaultAllocator, 2101, 3)
			ds, err = Write(path, []arrow.Record{rec}, WriteOptions{})
			rec.Release()
			if err != nil {
				t.Fatal(err)
			}
			if ds.Version() != 4 || ds.NamingScheme() != tt.scheme {
				t.Fatalf("after Go append: version %d scheme %v", ds.Version(), ds.NamingScheme())
			}
			tbl := pylanceRead(t, path)
			if tbl.Version != 4 || tbl.CountRows != 2104 {
				t.Fatalf("pylance after Go append: version %d rows %d", tbl.Version, tbl.CountRows)
			}
			checkPyRows(t, tbl, 0, 2104)
		})
	}
}

// TestInteropUnappendable: a dataset pylance wrote that this writer cannot
// append to is known as such before any data file is written: Write and
// Compact refuse it with the reason CheckAppendable gives (the flag, version
// or column), leave no file and no version behind, and what can be read
// still reads.
func TestInteropUnappendable(t *testing.T) {
	structRows := `{"columns": [{"name": "point", "type": "struct<a:int64>", "values": [{"a": 1}, {"a": null}, {"a": 3}]}]}`
	tests := []struct {
		name, rows, options string
		want                []string // in every refusal
		readErr             string   // "" when the rows read
	}{
		{"data-storage-2.3", testRowsJSON(0, 3), `{"data_storage_version": "2.3"}`,
			[]string{"data storage version is 2.3"}, "file version 2.3 not supported yet"},
		{"stable-row-ids", testRowsJSON(0, 3), `{"enable_stable_row_ids": true}`,
			[]string{"writer feature flag 2 (stable row ids)"}, ""},
		{"struct-column-in-2.0", structRows, `{"data_storage_version": "2.0"}`,
			[]string{`field "point"`, "need file version 2.1 or later", "not 2.0"}, ""},
		{"legacy-0.1", testRowsJSON(0, 3), `{"data_storage_version": "legacy"}`,
			[]string{"data storage version is 0.1"}, "persisting does not read data storage version 0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ds")
			runPylance(t, "write", path, "create", tt.rows, tt.options)
			ds, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			refused := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, ErrUnsupported) {
					t.Fatalf("%s: err = %v, want ErrUnsupported", what, err)
				}
				for _, w := range tt.want {
					if !strings.Contains(err.Error(), w) {
						t.Fatalf("%s: err = %v, want it to say %q", what, err, w)
					}
				}
			}
			refused("CheckAppendable", ds.CheckAppendable())
			rec := makeRecord(memory.DefaultAllocator, 3, 3)
			defer rec.Release()
			_, err = Write(path, []arrow.Record{rec}, WriteOptions{})
			refused("Write", err)
			_, err = Compact(path, CompactOptions{})
			refused("Compact", err)
			if entries, _ := os.ReadDir(filepath.Join(path, dataDir)); len(entries) != 1 {
				t.Fatalf("refused writes left %d data files", len(entries))
			}
			if tbl := pylanceRead(t, path); tbl.Version != 1 || tbl.CountRows != 3 {
				t.Fatalf("pylance after the refusals: version %d rows %d", tbl.Version, tbl.CountRows)
			}
			recs, err := ds.Read(0, 10, memory.DefaultAllocator)
			defer releaseAll(recs)
			switch {
			case tt.readErr != "" && (err == nil || !strings.Contains(err.Error(), tt.readErr)):
				t.Fatalf("read: err = %v, want it to say %q", err, tt.readErr)
			case tt.readErr == "" && err != nil:
				t.Fatalf("read: %v", err)
			case tt.readErr == "" && recs[0].NumRows() != 3:
				t.Fatalf("read %d rows, want 3", recs[0].NumRows())
			}
		})
	}
}

// TestInteropAppendNested20: a 2.0 dataset pylance wrote with a list, a
// vector (fixed_size_list) and a large list of strings takes our appends
// and compaction, and pylance reads every row back exactly.
func TestInteropAppendNested20(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	tags := []string{`[1,2]`, `null`, `[]`, `[null,-5]`}
	vecs := []string{`[0.5,-1.0]`, `null`, `[2.0,3.0]`, `[-0.25,1048576.5]`}
	names := []string{`["a",null]`, `[]`, `null`, `["é"]`}
	rows := func(from, to int) string {
		return fmt.Sprintf(`{"columns": [{"name": "tags", "type": "list<int64>", "values": [%s]},`+
			`{"name": "vec", "type": "fixed_size_list<float32,2>", "values": [%s]},`+
			`{"name": "names", "type": "large_list<string>", "values": [%s]}]}`,
			strings.Join(tags[from:to], ","), strings.Join(vecs[from:to], ","), strings.Join(names[from:to], ","))
	}
	runPylance(t, "write", path, "create", rows(0, 2), `{"data_storage_version": "2.0"}`)
	ds, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.CheckAppendable(); err != nil {
		t.Fatalf("CheckAppendable: %v", err)
	}
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, ds.Schema(), strings.NewReader(
		`[{"tags": [], "vec": [2.0, 3.0], "names": null}, {"tags": [null, -5], "vec": [-0.25, 1048576.5], "names": ["é"]}]`))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if _, err := Write(path, []arrow.Record{rec}, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	check := func(what string) {
		t.Helper()
		tbl := pylanceRead(t, path)
		if tbl.DataStorageVersion != "2.0" || len(tbl.Columns) != 3 {
			t.Fatalf("%s: pylance sees version %s, %d columns", what, tbl.DataStorageVersion, len(tbl.Columns))
		}
		for c, want := range [][]string{tags, vecs, names} {
			var got []string
			for _, v := range tbl.Columns[c].Values {
				var x any
				if err := json.Unmarshal(v, &x); err != nil {
					t.Fatal(err)
				}
				b, _ := json.Marshal(x)
				got = append(got, string(b))
			}
			var norm []string
			for _, w := range want {
				var x any
				_ = json.Unmarshal([]byte(w), &x)
				b, _ := json.Marshal(x)
				norm = append(norm, string(b))
			}
			if strings.Join(got, " ") != strings.Join(norm, " ") {
				t.Fatalf("%s: column %s reads %v, want %v", what, tbl.Columns[c].Name, got, norm)
			}
		}
	}
	check("after the append")
	if ds, err = Compact(path, CompactOptions{}); err != nil {
		t.Fatal(err)
	}
	if ds.NumFragments() != 1 {
		t.Fatalf("compaction left %d fragments", ds.NumFragments())
	}
	check("after compaction")
}

// TestInteropIndexAndConfigCarried: a scalar index pylance built survives
// our appends (the index section is copied verbatim), and config we upsert
// is visible to pylance.
func TestInteropIndexAndConfigCarried(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	runPylance(t, "write", path, "create", testRowsJSON(0, 20), `{"data_storage_version": "2.0"}`)
	runPylance(t, "index", path, "id")
	rec := makeRecord(memory.DefaultAllocator, 20, 10)
	defer rec.Release()
	ds, err := Write(path, []arrow.Record{rec}, WriteOptions{Config: map[string]string{"persisting.watermark": "42"}})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Version() != 3 || ds.manifest.IndexSection == nil {
		t.Fatalf("version %d, index section carried: %v", ds.Version(), ds.manifest.IndexSection != nil)
	}
	var res struct {
		pyTable
		Indices []string `json:"indices"`
	}
	// Row 21 (new fragment, not indexed) and row 5 (indexed) by id.
	id5, id21 := *expectedRow(5).id, *expectedRow(21).id
	out := runPylance(t, "query", path, "id = "+strconv.FormatInt(id5, 10)+" OR id = "+strconv.FormatInt(id21, 10))
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	if res.Version != 3 || len(res.Indices) != 1 || res.Indices[0] != "id_idx" || res.Config["persisting.watermark"] != "42" {
		t.Fatalf("pylance: version %d indices %v config %v", res.Version, res.Indices, res.Config)
	}
	if len(res.Columns) != 4 || len(res.Columns[0].Values) != 2 {
		t.Fatalf("filtered rows: %s", out)
	}
	// pylance can still append and read everything.
	runPylance(t, "write", path, "append", testRowsJSON(30, 1))
	tbl := pylanceRead(t, path)
	if tbl.Version != 4 {
		t.Fatalf("version %d", tbl.Version)
	}
	checkPyRows(t, tbl, 0, 31)
}

// TestInteropConcurrentWriters races pylance appends against Go appends on
// the same dataset: both sides' commits are exclusive (link / create-if-
// absent), so every append lands in its own version and no rows are lost.
func TestInteropConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	writeFragments(t, path, []int64{10})
	runPylance(t, "check") // fail here, on the test goroutine, if pylance is missing
	const pyRounds, rowsEach = 8, 10
	var specs []json.RawMessage
	for k := 0; k < pyRounds; k++ {
		specs = append(specs, json.RawMessage(testRowsJSON(int64(1000+k*rowsEach), rowsEach)))
	}
	list, _ := json.Marshal(specs)
	done := make(chan error, 1)
	go func() {
		cmd := exec.Command(pythonBin(), filepath.Join("testdata", "pylance_interop.py"), "append-loop", path, string(list))
		out, err := cmd.CombinedOutput()
		if err != nil {
			err = errors.New(err.Error() + ": " + string(out))
		}
		done <- err
	}()
	// Keep appending from Go for as long as pylance is appending.
	goRounds := 0
	var pyErr error
loop:
	for ; goRounds < 500; goRounds++ {
		select {
		case pyErr = <-done:
			break loop
		default:
		}
		rec := makeRecord(memory.DefaultAllocator, int64(100_000+goRounds*rowsEach), rowsEach)
		_, err := Write(path, []arrow.Record{rec}, WriteOptions{})
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	if goRounds == 500 {
		pyErr = <-done
	}
	if pyErr != nil {
		t.Fatalf("pylance appends: %v", pyErr)
	}
	t.Logf("%d Go appends raced %d pylance appends", goRounds, pyRounds)
	versions := uint64(1 + pyRounds + goRounds)
	want := int64(10 + (pyRounds+goRounds)*rowsEach)
	ds, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Version() != versions || ds.CountRows() != want || ds.NumFragments() != int(versions) {
		t.Fatalf("version %d rows %d fragments %d, want %d %d", ds.Version(), ds.CountRows(), ds.NumFragments(), versions, want)
	}
	// Each fragment holds one writer's consecutive rows, none lost.
	recs, err := ds.Read(0, -1, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseAll(recs)
	starts := map[int64]bool{}
	for _, rec := range recs {
		start := firstRowIndex(t, rec)
		checkRows(t, []arrow.Record{rec}, start, rec.NumRows())
		starts[start] = true
	}
	if len(starts) != int(versions) {
		t.Fatalf("distinct fragments %d, want %d", len(starts), versions)
	}
	tbl := pylanceRead(t, path)
	if tbl.Version != versions || tbl.CountRows != want || len(tbl.Versions) != int(versions) {
		t.Fatalf("pylance: version %d rows %d versions %d", tbl.Version, tbl.CountRows, len(tbl.Versions))
	}
}

// checkSameAsPylance verifies that recs hold exactly the rows of pylance's
// table, rows [from, from+n) of it (n < 0: to the end): same column names,
// types and values (floats bit for bit, nulls in the same places).
func checkSameAsPylance(t *testing.T, recs []arrow.Record, tbl pyTable, from, n int64) {
	t.Helper()
	if len(tbl.Columns) == 0 {
		t.Fatal("pylance table has no columns")
	}
	total := int64(len(tbl.Columns[0].Values))
	if n < 0 || from+n > total {
		n = max(total-from, 0)
	}
	var got int64
	for _, r := range recs {
		got += r.NumRows()
	}
	if got != n {
		t.Fatalf("got %d rows, pylance has %d (rows %d..)", got, n, from)
	}
	row := from
	for _, rec := range recs {
		if int(rec.NumCols()) != len(tbl.Columns) {
			t.Fatalf("%d columns, pylance %d", rec.NumCols(), len(tbl.Columns))
		}
		for c, col := range tbl.Columns {
			if rec.Schema().Field(c).Name != col.Name {
				t.Fatalf("column %d is %q, pylance %q", c, rec.Schema().Field(c).Name, col.Name)
			}
			arr := rec.Column(c)
			for j := 0; j < arr.Len(); j++ {
				want := col.Values[row+int64(j)]
				if msg := sameValue(arr, j, col.Type, want); msg != "" {
					t.Fatalf("row %d column %s: %s", row+int64(j), col.Name, msg)
				}
			}
		}
		row += rec.NumRows()
	}
}

// sameValue compares element j of arr with a value of pylance's JSON.
func sameValue(arr arrow.Array, j int, typ string, want json.RawMessage) string {
	if string(want) == "null" || arr.IsNull(j) {
		if string(want) == "null" && arr.IsNull(j) {
			return ""
		}
		return "got " + arr.ValueStr(j) + " (null " + strconv.FormatBool(arr.IsNull(j)) + "), pylance " + string(want)
	}
	switch a := arr.(type) {
	case *array.Int64:
		if string(want) != strconv.FormatInt(a.Value(j), 10) {
			return "got " + a.ValueStr(j) + ", pylance " + string(want)
		}
	case *array.Int32:
		if string(want) != strconv.FormatInt(int64(a.Value(j)), 10) {
			return "got " + a.ValueStr(j) + ", pylance " + string(want)
		}
	case *array.Float64, *array.Float32:
		var s string
		json.Unmarshal(want, &s)
		f, err := strconv.ParseFloat(s, 64)
		var g float64
		if x, ok := a.(*array.Float64); ok {
			g = x.Value(j)
		} else {
			g = float64(a.(*array.Float32).Value(j))
		}
		if err != nil || math.Float64bits(f) != math.Float64bits(g) {
			return "got " + strconv.FormatFloat(g, 'x', -1, 64) + ", pylance " + s
		}
	case *array.Boolean:
		if string(want) != strconv.FormatBool(a.Value(j)) {
			return "got " + a.ValueStr(j) + ", pylance " + string(want)
		}
	case *array.String:
		var s string
		json.Unmarshal(want, &s)
		if s != a.Value(j) {
			return "got " + strconv.Quote(a.Value(j)) + ", pylance " + string(want)
		}
	default:
		return "type " + arr.DataType().String() + " not compared (pylance type " + typ + ")"
	}
	return ""
}
