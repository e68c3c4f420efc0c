package lance

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// The manifest of a commit reuses the encoded fragments of its base
// (encodedFragments). These tests check that the bytes it writes are those
// of the plain encoder, whatever sequence of operations built the list.

// plainManifestFile encodes m without its fragment cache.
func plainManifestFile(t testing.TB, m *Manifest) []byte {
	t.Helper()
	plain := *m
	plain.fragsEnc = encodedFragments{}
	data, err := encodeManifestFile(&plain)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func randomDataFile(r *rand.Rand) DataFile {
	n := 1 + r.IntN(4)
	df := DataFile{
		Path:          newDataFileName(),
		MajorVersion:  2,
		MinorVersion:  uint32(r.IntN(3)),
		FileSizeBytes: r.Uint64N(1 << 40),
	}
	for i := 0; i < n; i++ {
		df.Fields = append(df.Fields, int32(r.IntN(300)))
		df.ColumnIndices = append(df.ColumnIndices, int32(i))
	}
	if r.IntN(5) == 0 {
		df.Extra = appendVarintField(nil, 7, r.Uint64N(10)+1) // base_id
	}
	return df
}

func randomDeletionFile(r *rand.Rand) *DeletionFile {
	return &DeletionFile{
		FileType:       uint32(r.IntN(2)),
		ReadVersion:    r.Uint64N(1000),
		ID:             r.Uint64(),
		NumDeletedRows: r.Uint64N(1000),
	}
}

func randomFragment(r *rand.Rand) Fragment {
	f := Fragment{PhysicalRows: r.Uint64N(1 << 30)}
	for i := 1 + r.IntN(3); i > 0; i-- {
		f.Files = append(f.Files, randomDataFile(r))
	}
	if r.IntN(4) == 0 {
		f.DeletionFile = randomDeletionFile(r)
	}
	if r.IntN(6) == 0 {
		f.Extra = appendBytesField(nil, 5, []byte("row id sequence"))
	}
	return f
}

// changedFragments returns a fresh copy of frags (sharing nothing with it)
// in which some fragments gained a data file, a deletion file or rows.
func changedFragments(r *rand.Rand, frags []Fragment) []Fragment {
	out := make([]Fragment, len(frags))
	for i, f := range frags {
		f.Files = append([]DataFile(nil), f.Files...)
		if f.DeletionFile != nil {
			d := *f.DeletionFile
			f.DeletionFile = &d
		}
		if r.IntN(3) == 0 {
			switch r.IntN(3) {
			case 0:
				f.Files = append(f.Files, randomDataFile(r))
			case 1:
				f.DeletionFile = randomDeletionFile(r)
			default:
				f.PhysicalRows++
			}
		}
		out[i] = f
	}
	return out
}

// randomRewrite replaces random runs of adjacent fragments by new ones.
func randomRewrite(r *rand.Rand, frags []Fragment) []rewriteGroup {
	var groups []rewriteGroup
	for i := 0; i < len(frags); {
		n := 1 + r.IntN(3)
		if i+n > len(frags) || r.IntN(3) != 0 {
			i++
			continue
		}
		g := rewriteGroup{old: frags[i : i+n]}
		for j := r.IntN(n); j >= 0; j-- { // no more new fragments than old: they take the old ids
			g.new = append(g.new, randomFragment(r))
		}
		groups = append(groups, g)
		i += n
	}
	return groups
}

// randomRequest is one random operation on top of base.
func randomRequest(r *rand.Rand, base *Manifest) commitRequest {
	req := commitRequest{}
	switch k := r.IntN(20); {
	case k < 10: // append one or more fragments
		for range 1 + r.IntN(3) {
			req.fragments = append(req.fragments, randomFragment(r))
		}
	case k < 11: // commit without data
	case k < 13: // add columns: schema change, fragments unchanged
		req.op = OpMerge
		req.fields = append(append([][]byte(nil), base.Fields...), []byte{byte(k), byte(len(base.Fields))})
	case k < 15: // add or widen columns with new data files
		req.op = OpMerge
		req.fields = base.Fields
		req.mergeFragments = changedFragments(r, base.Fragments)
	case k < 18: // compaction
		req.op = OpRewrite
		req.rewrite = randomRewrite(r, base.Fragments)
	default: // index
		req.op = OpCreateIndex
		req.index = &indexCommit{newSection: []byte{1, 2, 3, byte(k)}}
	}
	return req
}

func TestManifestCacheMatchesPlainEncoder(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		r := rand.New(rand.NewPCG(seed, seed*7919))
		// The first base is decoded, as when a dataset is opened: no cache.
		first := &Manifest{Version: 1, Fields: [][]byte{{1}, {2}}, DataFormat: &DataStorageFormat{FileFormat: "lance", Version: "2.1"}}
		for i := r.IntN(50); i > 0; i-- {
			f := randomFragment(r)
			f.ID = uint64(len(first.Fragments))
			first.Fragments = append(first.Fragments, f)
		}
		if n := len(first.Fragments); n > 0 {
			first.MaxFragmentID = uint32p(uint32(n - 1))
		}
		first.applyFeatureFlags()
		data, err := encodeManifestFile(first)
		if err != nil {
			t.Fatal(err)
		}
		base, err := decodeManifestFile(data)
		if err != nil {
			t.Fatal(err)
		}
		reused := 0
		for step := 0; step < 200; step++ {
			req := randomRequest(r, base)
			if req.op == OpRewrite {
				if req, err = req.withIDs(base); err != nil {
					t.Fatal(err)
				}
			}
			m, err := buildManifest(req, base, "txn")
			if err != nil {
				t.Fatal(err)
			}
			if m.fragsEnc.n > 0 {
				reused++
			}
			got, err := encodeNewManifest(m)
			if err != nil {
				t.Fatal(err)
			}
			if want := plainManifestFile(t, m); !bytes.Equal(got, want) {
				t.Fatalf("seed %d step %d (op %v, %d fragments, %d cached): manifest bytes differ from the plain encoder",
					seed, step, req.op, len(m.Fragments), m.fragsEnc.n)
			}
			back, err := decodeManifestFile(got)
			if err != nil {
				t.Fatal(err)
			}
			if len(back.Fragments) != len(m.Fragments) || (len(m.Fragments) > 0 && !reflect.DeepEqual(back.Fragments[len(m.Fragments)-1].Files, m.Fragments[len(m.Fragments)-1].Files)) {
				t.Fatalf("seed %d step %d: fragments do not decode back", seed, step)
			}
			if m.fragsEnc.n != len(m.Fragments) {
				t.Fatalf("seed %d step %d: cache covers %d of %d fragments", seed, step, m.fragsEnc.n, len(m.Fragments))
			}
			base = m
		}
		// Most operations keep the fragment list: the cache must be used,
		// or this test checks nothing.
		if reused < 100 {
			t.Fatalf("seed %d: only %d of 200 commits reused the encoded fragments", seed, reused)
		}
	}
}

// TestManifestCacheOnDisk runs the real operations, each on top of the
// previous one's result (the way the engine passes WriteOptions.Base), and
// checks every manifest file written against the plain encoder.
func TestManifestCacheOnDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	var start int64
	write := func(base *Dataset, n int64) *Dataset {
		t.Helper()
		rec := makeRecord(memory.DefaultAllocator, start, n)
		defer rec.Release()
		start += n
		ds, err := Write(path, []arrow.Record{rec}, WriteOptions{Base: base})
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	check := func(ds *Dataset, what string) {
		t.Helper()
		onDisk, err := os.ReadFile(filepath.Join(path, versionsDir, ManifestName(ds.scheme, ds.Version())))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(onDisk, plainManifestFile(t, ds.manifest)) {
			t.Fatalf("%s: version %d differs from the plain encoder", what, ds.Version())
		}
		m, err := decodeManifestFile(onDisk)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(onDisk, plainManifestFile(t, m)) {
			t.Fatalf("%s: version %d does not re-encode to itself", what, ds.Version())
		}
		rows, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if rows.CountRows() != ds.CountRows() || rows.NumFragments() != ds.NumFragments() {
			t.Fatalf("%s: reopened %d rows in %d fragments, want %d in %d", what,
				rows.CountRows(), rows.NumFragments(), ds.CountRows(), ds.NumFragments())
		}
	}

	ds := write(nil, 10)
	check(ds, "create")
	for i := 0; i < 6; i++ {
		ds = write(ds, int64(3+i))
		check(ds, "append on base")
	}
	stale := ds
	ds = write(ds, 5)
	// A stale base: the commit conflicts and rebuilds on the latest.
	ds = write(stale, 4)
	check(ds, "append after conflict")
	ds = write(ds, 2)
	check(ds, "append on the retried version")

	ds, err := Compact(path, CompactOptions{TargetRowsPerFragment: 20})
	if err != nil {
		t.Fatal(err)
	}
	check(ds, "compact")
	ds = write(ds, 7)
	check(ds, "append on compacted")

	// Schema changes: a column without data, then widened (new data
	// files in every fragment), then an index; appends carry the column.
	extra := arrow.NewSchema([]arrow.Field{{Name: "extra", Type: arrow.PrimitiveTypes.Int32, Nullable: true}}, nil)
	if ds, err = AddColumns(path, extra); err != nil {
		t.Fatal(err)
	}
	check(ds, "add columns")
	if ds, err = WidenColumns(path, map[string]arrow.DataType{"extra": arrow.PrimitiveTypes.Int64}); err != nil {
		t.Fatal(err)
	}
	check(ds, "widen columns")
	writeWide := func(base *Dataset, n int64) *Dataset {
		t.Helper()
		rec := makeRecord(memory.DefaultAllocator, start, n)
		defer rec.Release()
		start += n
		b := array.NewInt64Builder(memory.DefaultAllocator)
		defer b.Release()
		for i := int64(0); i < n; i++ {
			b.Append(i)
		}
		col := b.NewArray()
		defer col.Release()
		wide := array.NewRecord(base.Schema(), append(append([]arrow.Array(nil), rec.Columns()...), col), n)
		defer wide.Release()
		ds, err := Write(path, []arrow.Record{wide}, WriteOptions{Base: base})
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	ds = writeWide(ds, 8)
	check(ds, "append on widened")
	ds = writeWide(ds, 9)
	check(ds, "append on widened, cached")
	if ds, err = Compact(path, CompactOptions{TargetRowsPerFragment: 1000}); err != nil {
		t.Fatal(err)
	}
	check(ds, "compact after schema changes")
	ds = writeWide(ds, 3)
	check(ds, "append on the final compaction")
	if ds, err = CreateScalarIndex(path, "id", IndexBTree, IndexOptions{}); err != nil {
		t.Fatal(err)
	}
	check(ds, "index")
	ds = writeWide(ds, 6)
	check(ds, "append on indexed")
}

// TestInteropManifestCache: manifests written from the fragment cache (each
// Write on top of the previous one's result) are read and appended to by
// pylance, and Go appends on top of pylance's version through the cache
// again.
func TestInteropManifestCache(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	var ds *Dataset
	var start int64
	write := func(n int64) {
		t.Helper()
		rec := makeRecord(memory.DefaultAllocator, start, n)
		defer rec.Release()
		start += n
		var err error
		if ds, err = Write(path, []arrow.Record{rec}, WriteOptions{Base: ds}); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []int64{5, 3, 8, 2} {
		write(n)
	}
	tbl := pylanceRead(t, path)
	if tbl.Version != 4 || len(tbl.Fragments) != 4 {
		t.Fatalf("pylance: version %d, fragments %v", tbl.Version, tbl.Fragments)
	}
	checkPyRows(t, tbl, 0, start)
	runPylance(t, "write", path, "append", testRowsJSON(start, 4)) // v5
	start += 4
	var err error
	if ds, err = Open(path); err != nil {
		t.Fatal(err)
	}
	write(6) // v6: encodes every fragment (pylance's version has no cache)
	write(1) // v7: from the cache
	write(9) // v8
	tbl = pylanceRead(t, path)
	if tbl.Version != 8 || len(tbl.Fragments) != 8 {
		t.Fatalf("pylance: version %d, fragments %v", tbl.Version, tbl.Fragments)
	}
	checkPyRows(t, tbl, 0, start)
}
