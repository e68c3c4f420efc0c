package lance

// Scalar index tests. The interop ones shell out to testdata/index_pylance.py
// and FAIL without pylance 14 (see interop_test.go).

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
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

// lookupU runs Lookup and returns the u values found, sorted, checking that
// each row's other columns are those of its row number.
func lookupU(t *testing.T, ds *Dataset, c indexCase) ([]uint32, LookupStats) {
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
	if !sort.SliceIsSorted(out, func(a, b int) bool { return out[a] < out[b] }) {
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
