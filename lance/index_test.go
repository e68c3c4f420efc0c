package lance

// Scalar index tests. The interop ones shell out to testdata/index_pylance.py
// and FAIL without pylance 14 (see interop_test.go).

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

var indexSchema = arrow.NewSchema([]arrow.Field{
	{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "u", Type: arrow.PrimitiveTypes.Uint32, Nullable: true},
}, nil)

// idxRow is row i of the index test table; it must match gen_rows in
// testdata/index_pylance.py.
type idxRow struct {
	k *int64
	s *string
	f *float64
	b *bool
	u uint32
}

func indexRow(i int) idxRow {
	r := idxRow{u: uint32(i)}
	if i%11 != 5 {
		v := int64(i % 7)
		r.k = &v
	}
	if i%13 != 4 {
		v := fmt.Sprintf("cat-%d", i%5)
		r.s = &v
	}
	if i%17 != 3 {
		v := float64(i%6)*0.5 - 1.0
		r.f = &v
	}
	if i%19 != 7 {
		v := i%3 == 0
		r.b = &v
	}
	return r
}

func indexRecord(start, n int) arrow.Record {
	b := array.NewRecordBuilder(memory.DefaultAllocator, indexSchema)
	defer b.Release()
	for i := start; i < start+n; i++ {
		r := indexRow(i)
		if r.k != nil {
			b.Field(0).(*array.Int64Builder).Append(*r.k)
		} else {
			b.Field(0).AppendNull()
		}
		if r.s != nil {
			b.Field(1).(*array.StringBuilder).Append(*r.s)
		} else {
			b.Field(1).AppendNull()
		}
		if r.f != nil {
			b.Field(2).(*array.Float64Builder).Append(*r.f)
		} else {
			b.Field(2).AppendNull()
		}
		if r.b != nil {
			b.Field(3).(*array.BooleanBuilder).Append(*r.b)
		} else {
			b.Field(3).AppendNull()
		}
		b.Field(4).(*array.Uint32Builder).Append(r.u)
	}
	return b.NewRecord()
}

func writeIndexRows(t *testing.T, path string, start, n int) *Dataset {
	t.Helper()
	rec := indexRecord(start, n)
	defer rec.Release()
	ds, err := Write(path, []arrow.Record{rec}, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// indexCase is one lookup, as a Cond for Lookup, a pylance filter and a
// predicate over idxRow giving the expected rows.
type indexCase struct {
	col    string
	filter string
	cond   Cond
	pred   func(r idxRow) bool
}

var indexCases = []indexCase{
	{"k", "k = 3", CondEqual(3), func(r idxRow) bool { return r.k != nil && *r.k == 3 }},
	{"k", "k >= 2 AND k < 5", CondRange(int64(2), true, 5, false), func(r idxRow) bool { return r.k != nil && *r.k >= 2 && *r.k < 5 }},
	{"k", "k > 4", CondRange(4, false, nil, false), func(r idxRow) bool { return r.k != nil && *r.k > 4 }},
	{"k", "k IS NULL", CondIsNull(), func(r idxRow) bool { return r.k == nil }},
	{"k", "k = 99", CondEqual(99), func(r idxRow) bool { return false }},
	{"s", "s = 'cat-2'", CondEqual("cat-2"), func(r idxRow) bool { return r.s != nil && *r.s == "cat-2" }},
	{"s", "s > 'cat-1' AND s <= 'cat-3'", CondRange("cat-1", false, "cat-3", true), func(r idxRow) bool { return r.s != nil && *r.s > "cat-1" && *r.s <= "cat-3" }},
	{"s", "s IS NULL", CondIsNull(), func(r idxRow) bool { return r.s == nil }},
	{"f", "f = 0.5", CondEqual(0.5), func(r idxRow) bool { return r.f != nil && *r.f == 0.5 }},
	{"f", "f < 0", CondRange(nil, false, 0, false), func(r idxRow) bool { return r.f != nil && *r.f < 0 }},
	{"f", "f IS NULL", CondIsNull(), func(r idxRow) bool { return r.f == nil }},
	{"b", "b = true", CondEqual(true), func(r idxRow) bool { return r.b != nil && *r.b }},
	{"b", "b IS NULL", CondIsNull(), func(r idxRow) bool { return r.b == nil }},
	{"u", "u = 4242", CondEqual(uint32(4242)), func(r idxRow) bool { return r.u == 4242 }},
	{"u", "u >= 10 AND u <= 20", CondRange(10, true, 20, true), func(r idxRow) bool { return r.u >= 10 && r.u <= 20 }},
	{"u", "u > 8000", CondRange(8000, false, nil, false), func(r idxRow) bool { return r.u > 8000 }},
}

// expectedU returns the u values of rows [0, n) that satisfy pred and are
// not deleted.
func expectedU(n int, pred func(idxRow) bool, deleted func(idxRow) bool) []uint32 {
	out := []uint32{}
	for i := 0; i < n; i++ {
		r := indexRow(i)
		if pred(r) && (deleted == nil || !deleted(r)) {
			out = append(out, r.u)
		}
	}
	return out
}

// lookupU runs Lookup and returns the u values found, checking that they
// come in dataset order (rows were appended in u order) and that each row's
// other columns are those of its row number.
func lookupU(t *testing.T, ds *Dataset, c indexCase) ([]uint32, LookupStats) {
	t.Helper()
	return lookupUOrder(t, ds, c, true)
}

func lookupUOrder(t *testing.T, ds *Dataset, c indexCase, ordered bool) ([]uint32, LookupStats) {
	t.Helper()
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	recs, st, err := ds.Lookup(c.col, c.cond, alloc)
	if err != nil {
		t.Fatalf("%s: %v", c.filter, err)
	}
	defer releaseAll(recs)
	out := []uint32{}
	for _, rec := range recs {
		if !rec.Schema().Equal(indexSchema) {
			t.Fatalf("schema %v", rec.Schema())
		}
		us := rec.Column(4).(*array.Uint32)
		ks := rec.Column(0).(*array.Int64)
		ss := rec.Column(1).(*array.String)
		for j := 0; j < int(rec.NumRows()); j++ {
			u := us.Value(j)
			want := indexRow(int(u))
			if (want.k == nil) != ks.IsNull(j) || (want.k != nil && *want.k != ks.Value(j)) ||
				(want.s == nil) != ss.IsNull(j) || (want.s != nil && *want.s != ss.Value(j)) {
				t.Fatalf("%s: row u=%d has k=%v s=%v", c.filter, u, ks.Value(j), ss.Value(j))
			}
			out = append(out, u)
		}
	}
	if ordered && !sort.SliceIsSorted(out, func(a, b int) bool { return out[a] < out[b] }) {
		t.Fatalf("%s: rows not in dataset order", c.filter)
	}
	return out, st
}

func runIndexPy(t *testing.T, args ...string) []byte {
	t.Helper()
	runPylance(t, "check") // fails the test without pylance 14
	cmd := exec.Command(pythonBin(), append([]string{filepath.Join("testdata", "index_pylance.py")}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("index_pylance.py %v: %v\n%s", args, err, stderr)
	}
	return out
}

type pyIndexQuery struct {
	Indices []struct {
		Name        string   `json:"name"`
		Type        string   `json:"type"`
		Fields      []string `json:"fields"`
		FragmentIDs []uint32 `json:"fragment_ids"`
	} `json:"indices"`
	Version uint64 `json:"version"`
	Count   int64  `json:"count"`
	Results []struct {
		Filter string   `json:"filter"`
		Plan   string   `json:"plan"`
		U      []uint32 `json:"u"`
	} `json:"results"`
}

// pyQuery runs the filters with pylance in one process.
func pyQuery(t *testing.T, path string, filters ...string) pyIndexQuery {
	t.Helper()
	var q pyIndexQuery
	if err := json.Unmarshal(runIndexPy(t, append([]string{"query", path}, filters...)...), &q); err != nil {
		t.Fatal(err)
	}
	if len(q.Results) != len(filters) {
		t.Fatalf("pylance answered %d of %d filters", len(q.Results), len(filters))
	}
	return q
}

// casesFor returns the cases on column col and their pylance filters.
func casesFor(col string) ([]indexCase, []string) {
	var cs []indexCase
	var fs []string
	for _, c := range indexCases {
		if c.col == col {
			cs = append(cs, c)
			fs = append(fs, c.filter)
		}
	}
	return cs, fs
}

func sameU(a, b []uint32) bool {
	return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
}

const (
	idxFrag1 = 6000 // > one BTree page
	idxFrag2 = 2500
	idxFrag3 = 700 // appended after the index
)

// TestIndexGoCreatesPylanceUses: an index we build is listed by pylance,
// used by its filters (the plan says ScalarIndexQuery) with correct results,
// survives pylance and Go appends, and our Lookup uses it for the covered
// fragments and scans the rest.
func TestIndexGoCreatesPylanceUses(t *testing.T) {
	for _, kind := range []string{IndexBitmap, IndexBTree} {
		for _, col := range []string{"k", "s", "f", "b", "u"} {
			t.Run(kind+"/"+col, func(t *testing.T) {
				t.Parallel()
				path := filepath.Join(t.TempDir(), "ds")
				writeIndexRows(t, path, 0, idxFrag1)
				writeIndexRows(t, path, idxFrag1, idxFrag2)
				ds, err := CreateScalarIndex(path, col, kind, IndexOptions{})
				if err != nil {
					t.Fatal(err)
				}
				infos, err := ds.Indices()
				if err != nil {
					t.Fatal(err)
				}
				wantType := map[string]string{IndexBitmap: "Bitmap", IndexBTree: "BTree"}[kind]
				if len(infos) != 1 || infos[0].Name != col+"_idx" || infos[0].Type != wantType ||
					!reflect.DeepEqual(infos[0].Columns, []string{col}) || !reflect.DeepEqual(infos[0].FragmentIDs, []uint32{0, 1}) ||
					infos[0].DatasetVersion != 2 {
					t.Fatalf("Indices() = %+v", infos)
				}
				if p, err := ds.TransactionProperties(); err != nil || p == nil {
					t.Fatalf("transaction: %v %v", p, err)
				}
				n := idxFrag1 + idxFrag2
				cases, filters := casesFor(col)
				q := pyQuery(t, path, filters...)
				if len(q.Indices) != 1 || q.Indices[0].Name != col+"_idx" || q.Indices[0].Type != wantType ||
					!reflect.DeepEqual(q.Indices[0].Fields, []string{col}) || !reflect.DeepEqual(q.Indices[0].FragmentIDs, []uint32{0, 1}) {
					t.Fatalf("pylance list_indices: %+v", q.Indices)
				}
				for ci, c := range cases {
					want := expectedU(n, c.pred, nil)
					pr := q.Results[ci]
					if !strings.Contains(pr.Plan, "ScalarIndexQuery") || !strings.Contains(pr.Plan, col+"_idx") {
						t.Fatalf("%s: pylance does not use the index:\n%s", c.filter, pr.Plan)
					}
					if !sameU(pr.U, want) {
						t.Fatalf("%s: pylance found %d rows, want %d", c.filter, len(pr.U), len(want))
					}
					got, st := lookupU(t, ds, c)
					if !sameU(got, want) {
						t.Fatalf("%s: Lookup found %d rows, want %d", c.filter, len(got), len(want))
					}
					if st.IndexedFragments != 2 || st.ScannedFragments != 0 || !reflect.DeepEqual(st.Indices, []string{col + "_idx"}) {
						t.Fatalf("%s: stats %+v", c.filter, st)
					}
				}

				// pylance appends a fragment the index does not cover, then
				// deletes rows (one covered fragment gets a deletion file).
				runIndexPy(t, "append", path, strconv.Itoa(idxFrag3), strconv.Itoa(n))
				runIndexPy(t, "delete", path, "u % 10 = 1")
				n += idxFrag3
				deletedBelow := uint32(n)
				deleted := func(r idxRow) bool { return r.u%10 == 1 && r.u < deletedBelow }
				ds, err = Open(path)
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range cases {
					want := expectedU(n, c.pred, deleted)
					got, st := lookupU(t, ds, c)
					if !sameU(got, want) {
						t.Fatalf("%s after append: Lookup found %d rows, want %d", c.filter, len(got), len(want))
					}
					if st.IndexedFragments != 2 || st.ScannedFragments != 1 {
						t.Fatalf("%s after append: stats %+v", c.filter, st)
					}
				}

				// A Go append keeps the index; pylance still uses it.
				ds = writeIndexRows(t, path, n, 300)
				n += 300
				if infos, err := ds.Indices(); err != nil || len(infos) != 1 {
					t.Fatalf("after a Go append: %+v %v", infos, err)
				}
				q = pyQuery(t, path, filters...)
				for ci, c := range cases {
					want := expectedU(n, c.pred, deleted)
					pr := q.Results[ci]
					if !strings.Contains(pr.Plan, "ScalarIndexQuery") || !sameU(pr.U, want) {
						t.Fatalf("%s after Go append: pylance found %d rows, want %d; plan:\n%s", c.filter, len(pr.U), len(want), pr.Plan)
					}
					got, st := lookupU(t, ds, c)
					if !sameU(got, want) || st.IndexedFragments != 2 || st.ScannedFragments != 2 {
						t.Fatalf("%s after Go append: Lookup found %d rows, want %d; stats %+v", c.filter, len(got), len(want), st)
					}
				}
			})
		}
	}
}

// TestIndexPylanceCreatesGoReads: Lookup answers from indices pylance built
// (on 2.0 and on pylance's default 2.2 datasets).
func TestIndexPylanceCreatesGoReads(t *testing.T) {
	const n = 9000
	for _, version := range []string{"2.0", "2.2"} {
		for _, kind := range []string{IndexBitmap, IndexBTree} {
			t.Run(version+"/"+kind, func(t *testing.T) {
				t.Parallel()
				path := filepath.Join(t.TempDir(), "ds")
				runIndexPy(t, "write", path, strconv.Itoa(n), version)
				runIndexPy(t, "create", path, kind, "k", "s", "f", "b", "u")
				ds, err := Open(path)
				if err != nil {
					t.Fatal(err)
				}
				infos, err := ds.Indices()
				if err != nil || len(infos) != 5 {
					t.Fatalf("Indices() = %+v, %v", infos, err)
				}
				wantType := map[string]string{IndexBitmap: "Bitmap", IndexBTree: "BTree"}[kind]
				for _, in := range infos {
					if in.Type != wantType || len(in.Columns) != 1 || in.Name != in.Columns[0]+"_idx" ||
						!reflect.DeepEqual(in.FragmentIDs, []uint32{0, 1}) {
						t.Fatalf("index %+v", in)
					}
				}
				for _, c := range indexCases {
					want := expectedU(n, c.pred, nil)
					got, st := lookupU(t, ds, c)
					if !sameU(got, want) {
						t.Fatalf("%s: Lookup found %d rows, want %d", c.filter, len(got), len(want))
					}
					if st.IndexedFragments != 2 || st.ScannedFragments != 0 || !reflect.DeepEqual(st.Indices, []string{c.col + "_idx"}) {
						t.Fatalf("%s: stats %+v", c.filter, st)
					}
				}
			})
		}
	}
}

// TestIndexLookup checks Lookup against the expected rows without an index
// (every fragment scanned) and with each kind of index we build.
func TestIndexLookup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	sizes := []int{5000, 1, 3000}
	n := 0
	for _, s := range sizes {
		writeIndexRows(t, path, n, s)
		n += s
	}
	ds, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	check := func(ds *Dataset, indexed int) {
		t.Helper()
		for _, c := range indexCases {
			want := expectedU(n, c.pred, nil)
			got, st := lookupU(t, ds, c)
			if !sameU(got, want) {
				t.Fatalf("%s: Lookup found %d rows, want %d", c.filter, len(got), len(want))
			}
			if st.IndexedFragments+st.ScannedFragments != len(sizes) || (c.col == "k" && st.IndexedFragments != indexed) ||
				(c.col != "k" && st.IndexedFragments != 0) {
				t.Fatalf("%s: stats %+v", c.filter, st)
			}
		}
	}
	check(ds, 0)
	for _, kind := range []string{IndexBitmap, "btree"} {
		ds, err := CreateScalarIndex(path, "k", kind, IndexOptions{Name: "k_" + kind, Replace: true})
		if err != nil {
			t.Fatal(err)
		}
		check(ds, len(sizes))
	}
	// Both indices cover every fragment: the first one answers.
	_, st, err := ds.Lookup("k", CondEqual(1), nil)
	if err == nil && len(st.Indices) != 0 {
		t.Fatalf("old snapshot used an index: %+v", st)
	}
	latest, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, st, err := latest.Lookup("k", CondEqual(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	releaseAll(recs)
	if !reflect.DeepEqual(st.Indices, []string{"k_" + IndexBitmap}) {
		t.Fatalf("stats %+v", st)
	}
}

// TestIndexLegacyFilesScanned: older pylance releases (0.20, for one) wrote
// their scalar indices' files in the Lance v1 format, which this package does
// not read: a lookup scans the fragments such an index covers instead of
// failing (the fixture is a v1 file pylance 14 writes, lance/file/testdata).
func TestIndexLegacyFilesScanned(t *testing.T) {
	legacy, err := os.ReadFile(filepath.Join("file", "testdata", "pylance_legacy.lance"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ kind, file string }{{IndexBitmap, bitmapLookupFile}, {IndexBTree, btreeLookupFile}} {
		t.Run(tc.kind, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ds")
			writeIndexRows(t, path, 0, 3000)
			ds, err := CreateScalarIndex(path, "k", tc.kind, IndexOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ims, err := ds.indexMetas()
			if err != nil || len(ims) != 1 {
				t.Fatalf("indices %v, %v", ims, err)
			}
			if err := os.WriteFile(filepath.Join(path, indicesDir, ims[0].UUID, tc.file), legacy, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, c := range indexCases {
				got, st := lookupU(t, ds, c)
				if want := expectedU(3000, c.pred, nil); !sameU(got, want) || st.IndexedFragments != 0 || st.ScannedFragments != 1 {
					t.Fatalf("%s: found %d rows, want %d; stats %+v", c.filter, len(got), len(want), st)
				}
			}
		})
	}
}

// TestIndexFloatKeys: -0 equals 0, NaN equals NaN and sorts after +Inf, in
// both kinds of index and in scans.
func TestIndexFloatKeys(t *testing.T) {
	vals := []float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1), 1.5, math.NaN(), -2}
	sch := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "i", Type: arrow.PrimitiveTypes.Int32}}, nil)
	bx := array.NewFloat32Builder(memory.DefaultAllocator)
	bi := array.NewInt32Builder(memory.DefaultAllocator)
	for i, v := range vals {
		bx.Append(float32(v))
		bi.Append(int32(i))
	}
	bx.AppendNull()
	bi.Append(int32(len(vals)))
	xs, is := bx.NewArray(), bi.NewArray()
	rec := array.NewRecord(sch, []arrow.Array{xs, is}, int64(len(vals)+1))
	defer rec.Release()
	xs.Release()
	is.Release()
	path := filepath.Join(t.TempDir(), "ds")
	if _, err := Write(path, []arrow.Record{rec}, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		cond Cond
		want []int32
	}{
		{CondEqual(0), []int32{0, 1}},
		{CondEqual(math.Copysign(0, -1)), []int32{0, 1}},
		{CondEqual(math.NaN()), []int32{2, 6}},
		{CondRange(nil, false, math.Inf(1), true), []int32{0, 1, 3, 4, 5, 7}},
		{CondRange(1, true, nil, false), []int32{2, 3, 5, 6}},
		{CondRange(-2, false, 0, false), nil},
		{CondRange(-2, true, float32(0), true), []int32{0, 1, 7}},
		{CondIsNull(), []int32{8}},
	}
	run := func(ds *Dataset, indexed bool) {
		t.Helper()
		for ci, c := range cases {
			recs, st, err := ds.Lookup("x", c.cond, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []int32
			for _, r := range recs {
				got = append(got, r.Column(1).(*array.Int32).Int32Values()...)
			}
			releaseAll(recs)
			if !reflect.DeepEqual(got, c.want) || (st.IndexedFragments == 1) != indexed {
				t.Fatalf("case %d: got %v, want %v (stats %+v)", ci, got, c.want, st)
			}
		}
	}
	ds, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	run(ds, false)
	for _, kind := range []string{IndexBitmap, IndexBTree} {
		ds, err := CreateScalarIndex(path, "x", kind, IndexOptions{Replace: true})
		if err != nil {
			t.Fatal(err)
		}
		run(ds, true)
	}
}

func TestIndexErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	ds := writeIndexRows(t, path, 0, 100)
	if _, err := CreateScalarIndex(filepath.Join(t.TempDir(), "none"), "k", IndexBitmap, IndexOptions{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing dataset: %v", err)
	}
	creates := []struct {
		col, kind string
		want      error
	}{
		{"k", "INVERTED", ErrUnsupported},
		{"nope", IndexBitmap, ErrSchemaMismatch},
	}
	for _, c := range creates {
		if _, err := CreateScalarIndex(path, c.col, c.kind, IndexOptions{}); !errors.Is(err, c.want) {
			t.Fatalf("CreateScalarIndex(%q, %q): %v, want %v", c.col, c.kind, err, c.want)
		}
	}
	lookups := []struct {
		col  string
		cond Cond
	}{
		{"k", Cond{}},
		{"k", CondEqual(nil)},
		{"k", CondEqual("3")},
		{"k", CondEqual(uint64(math.MaxUint64))},
		{"u", CondEqual(-1)},
		{"s", CondEqual(3)},
		{"b", CondRange(1, true, nil, false)},
		{"f", CondEqual("x")},
		{"nope", CondEqual(1)},
	}
	for _, l := range lookups {
		if recs, _, err := ds.Lookup(l.col, l.cond, nil); err == nil {
			releaseAll(recs)
			t.Fatalf("Lookup(%q, %+v) succeeded", l.col, l.cond)
		}
	}
	if _, err := CreateScalarIndex(path, "k", IndexBitmap, IndexOptions{}); err != nil {
		t.Fatal(err)
	}
	// The failed attempts left no index directory behind.
	dirs, _ := filepath.Glob(filepath.Join(path, indicesDir, "*"))
	if len(dirs) != 1 {
		t.Fatalf("index directories: %v", dirs)
	}
	if _, err := CreateScalarIndex(path, "k", IndexBTree, IndexOptions{}); !errors.Is(err, ErrIndexExists) {
		t.Fatalf("second index of the same name: %v", err)
	}
	if dirs, _ := filepath.Glob(filepath.Join(path, indicesDir, "*")); len(dirs) != 1 {
		t.Fatalf("index directories after a refused create: %v", dirs)
	}
	// Datasets with indices: compaction and widening are refused.
	if _, err := Compact(path, CompactOptions{TargetRowsPerFragment: 1000}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Compact: %v", err)
	}
	if _, err := WidenColumns(path, map[string]arrow.DataType{"u": arrow.PrimitiveTypes.Uint64}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("WidenColumns: %v", err)
	}
}

// TestIndexReplace: Replace swaps the index of the same name; the
// transaction lists the new index and the removed one, and pylance sees
// only the new one.
func TestIndexReplace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	writeIndexRows(t, path, 0, 500)
	ds1, err := CreateScalarIndex(path, "k", IndexBitmap, IndexOptions{Properties: map[string]string{"who": "go"}})
	if err != nil {
		t.Fatal(err)
	}
	ds2, err := CreateScalarIndex(path, "s", IndexBitmap, IndexOptions{Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	ds3, err := CreateScalarIndex(path, "k", IndexBTree, IndexOptions{Replace: true})
	if err != nil {
		t.Fatal(err)
	}
	old, _ := ds1.Indices()
	cur, _ := ds3.Indices()
	if len(cur) != 2 || cur[0].Name != "other" || cur[1].Name != "k_idx" || cur[1].Type != "BTree" || cur[1].UUID == old[0].UUID ||
		cur[1].DatasetVersion != ds2.Version() {
		t.Fatalf("indices after replace: %+v", cur)
	}
	if p, err := ds1.TransactionProperties(); err != nil || p["who"] != "go" {
		t.Fatalf("properties %v %v", p, err)
	}
	txn, err := loadTransaction(path, ds3.manifest)
	if err != nil {
		t.Fatal(err)
	}
	if txn.Op != OpCreateIndex || txn.ReadVersion != ds2.Version() {
		t.Fatalf("transaction %v read %d", txn.Op, txn.ReadVersion)
	}
	var added, removed []indexMeta
	err = walkFields(txn.OpBody, func(v pbValue) error {
		im, err := decodeIndexMeta(v.b)
		if v.num == 1 {
			added = append(added, im)
		} else if v.num == 2 {
			removed = append(removed, im)
		}
		return err
	})
	if err != nil || len(added) != 1 || added[0].UUID != cur[1].UUID || len(removed) != 1 || removed[0].UUID != old[0].UUID {
		t.Fatalf("CreateIndex body: added %+v removed %+v (%v)", added, removed, err)
	}
	q := pyQuery(t, path, "k = 2", "s = 'cat-1'")
	if len(q.Indices) != 2 || q.Version != ds3.Version() {
		t.Fatalf("pylance indices %+v", q.Indices)
	}
	for _, r := range q.Results {
		if !strings.Contains(r.Plan, "ScalarIndexQuery") {
			t.Fatalf("%s: plan %s", r.Filter, r.Plan)
		}
	}
}

// TestIndexConcurrentAppends: CreateScalarIndex and appends race; every
// commit lands, the index covers the fragments it was built from, and
// lookups see every row.
func TestIndexConcurrentAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	writeIndexRows(t, path, 0, 1000)
	const appends = 6
	var wg sync.WaitGroup
	errs := make(chan error, appends+1)
	for a := 0; a < appends; a++ {
		wg.Add(1)
		go func(a int) {
			defer wg.Done()
			rec := indexRecord(1000+a*100, 100)
			defer rec.Release()
			_, err := Write(path, []arrow.Record{rec}, WriteOptions{})
			errs <- err
		}(a)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := CreateScalarIndex(path, "u", IndexBTree, IndexOptions{})
		errs <- err
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	ds, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	infos, err := ds.Indices()
	if err != nil || len(infos) != 1 || len(infos[0].FragmentIDs) == 0 {
		t.Fatalf("indices %+v %v", infos, err)
	}
	n := 1000 + appends*100
	c := indexCase{"u", "u >= 900", CondRange(900, true, nil, false), func(r idxRow) bool { return r.u >= 900 }}
	got, st := lookupUOrder(t, ds, c, false)
	// Rows were appended in any order: compare as sets.
	sort.Slice(got, func(a, b int) bool { return got[a] < got[b] })
	if want := expectedU(n, c.pred, nil); !sameU(got, want) || st.IndexedFragments != len(infos[0].FragmentIDs) {
		t.Fatalf("found %d rows, want %d; stats %+v", len(got), len(want), st)
	}
}

// TestLookupOnNullColumn: a column of type null (a field None in every
// record, or pylance's column of only None) holds no value: is_null finds
// every live row, a value none.
func TestLookupOnNullColumn(t *testing.T) {
	root := filepath.Join(t.TempDir(), "ds")
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "n", Type: arrow.Null, Nullable: true}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	for i := 0; i < 4; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).AppendNull()
	}
	rec := b.NewRecord()
	b.Release()
	ds, err := Write(root, []arrow.Record{rec}, WriteOptions{})
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		cond Cond
		rows int64
	}{
		{"is_null", CondIsNull(), 4},
		{"eq", CondEqual(3), 0},
		{"eq of another kind", CondEqual("x"), 0},
		{"range", CondRange(0, true, nil, false), 0},
	} {
		recs, _, err := ds.Lookup("n", c.cond, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var rows int64
		for _, r := range recs {
			rows += r.NumRows()
		}
		releaseAll(recs)
		if rows != c.rows {
			t.Errorf("%s: %d rows, want %d", c.name, rows, c.rows)
		}
	}
}
