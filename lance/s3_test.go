package lance

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/internal/miniotest"
	"github.com/persisting/persisting/lance/objstore"
)

// Lance datasets on a real S3 server (MinIO on 127.0.0.1, started by
// tests/s3/minio.sh; built on first use). One server for all subtests,
// each in its own prefix.
func TestS3Dataset(t *testing.T) {
	srv := miniotest.Start(t, "lance-test")
	store := func(t *testing.T) *objstore.RequestCounts {
		l, err := objstore.Resolve("s3://lance-test/x")
		if err != nil {
			t.Fatal(err)
		}
		return l.Store.(*objstore.S3).Counts()
	}
	snapshot := func(c *objstore.RequestCounts) [5]int64 {
		return [5]int64{c.Get.Load(), c.Head.Load(), c.Put.Load(), c.List.Load(), c.Post.Load()}
	}

	t.Run("write open read", func(t *testing.T) {
		root := "s3://lance-test/rw/data.lance"
		ds := writeFragments(t, root, []int64{100, 1, 250})
		if ds.Version() != 3 || ds.NamingScheme() != NamingV2 {
			t.Fatalf("version %d scheme %v", ds.Version(), ds.NamingScheme())
		}
		c := store(t)
		before := snapshot(c)
		ds, err := Open(root)
		if err != nil {
			t.Fatal(err)
		}
		// One LIST finds the newest version (V2 names sort it first), one
		// GET reads its manifest.
		if d := diff(snapshot(c), before); d != [5]int64{1, 0, 0, 1, 0} {
			t.Fatalf("open cost GET/HEAD/PUT/LIST/POST %v, want one LIST and one GET", d)
		}
		recs, err := ds.Read(0, 351, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		checkRows(t, recs, 0, 351)
		releaseAll(recs)
		old, err := OpenVersion(root, 2)
		if err != nil || old.CountRows() != 101 {
			t.Fatalf("version 2: %v rows, %v", old, err)
		}
		var names []string
		objstore.List(root, func(i objstore.Info) bool { names = append(names, i.Key); return true })
		var manifests, txns, data int
		for _, n := range names {
			switch {
			case strings.HasPrefix(n, "_versions/") && strings.HasSuffix(n, ".manifest"):
				manifests++
			case strings.HasPrefix(n, "_transactions/"):
				txns++
			case strings.HasPrefix(n, "data/"):
				data++
			default:
				t.Errorf("unexpected object %s", n)
			}
		}
		if manifests != 3 || txns != 3 || data != 3 {
			t.Fatalf("objects %v", names)
		}
	})

	t.Run("concurrent appends lose no commit", func(t *testing.T) {
		root := "s3://lance-test/concurrent/data.lance"
		base := writeFragments(t, root, []int64{1})
		const writers = 6
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := 0; k < 3; k++ {
					rec := makeRecord(memory.DefaultAllocator, int64(1+w*3+k), 1)
					// Everyone starts from the same base: all but one of
					// each round find their version taken (412) and rebase.
					_, errs[w] = Write(root, []arrow.Record{rec}, WriteOptions{Base: base})
					rec.Release()
					if errs[w] != nil {
						return
					}
				}
			}()
		}
		wg.Wait()
		for w, err := range errs {
			if err != nil {
				t.Fatalf("writer %d: %v", w, err)
			}
		}
		ds, err := Open(root)
		if err != nil {
			t.Fatal(err)
		}
		if ds.Version() != 1+writers*3 || ds.CountRows() != 1+writers*3 {
			t.Fatalf("version %d with %d rows, want %d", ds.Version(), ds.CountRows(), 1+writers*3)
		}
		recs, err := ds.Read(0, ds.CountRows(), memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		// Rows land in commit order, which the race decides: compare the
		// rows as a set.
		seen := map[string]int{}
		for _, r := range recs {
			for j := 0; j < int(r.NumRows()); j++ {
				seen[rowKey(r, j)]++
			}
		}
		releaseAll(recs)
		for i := int64(0); i < 1+writers*3; i++ {
			rec := makeRecord(memory.DefaultAllocator, i, 1)
			k := rowKey(rec, 0)
			rec.Release()
			if seen[k] != 1 {
				t.Fatalf("row %d found %d times", i, seen[k])
			}
		}
	})

	t.Run("large data file is a multipart upload", func(t *testing.T) {
		root := "s3://lance-test/large/data.lance"
		sch := arrow.NewSchema([]arrow.Field{{Name: "blob", Type: arrow.BinaryTypes.Binary, Nullable: true}}, nil)
		b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
		payload := make([]byte, 64<<10)
		for i := 0; i < 300; i++ { // ~19 MiB: three parts
			payload[0], payload[1] = byte(i), byte(i>>8)
			b.Field(0).(*array.BinaryBuilder).Append(payload)
		}
		rec := b.NewRecord()
		b.Release()
		defer rec.Release()
		c := store(t)
		before := snapshot(c)
		if _, err := Write(root, []arrow.Record{rec}, WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		if d := diff(snapshot(c), before); d[4] != 2 {
			t.Fatalf("%d POSTs, want 2 (create and complete one multipart upload)", d[4])
		}
		ds, err := Open(root)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := ds.Read(150, 3, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		defer releaseAll(recs)
		got := recs[0].Column(0).(*array.Binary)
		for j := 0; j < 3; j++ {
			v := got.Value(j)
			if len(v) != 64<<10 || int(v[0])|int(v[1])<<8 != 150+j {
				t.Fatalf("row %d: %d bytes starting %v", 150+j, len(v), v[:2])
			}
		}
	})

	t.Run("deep read costs one GET per fragment touched", func(t *testing.T) {
		root := "s3://lance-test/deep/data.lance"
		var ds *Dataset
		const frags, rows = 300, 10
		for f := int64(0); f < frags; f++ {
			rec := makeRecord(memory.DefaultAllocator, f*rows, rows)
			var err error
			ds, err = Write(root, []arrow.Record{rec}, WriteOptions{Base: ds})
			rec.Release()
			if err != nil {
				t.Fatal(err)
			}
		}
		c := store(t)
		before := snapshot(c)
		ds, err := Open(root)
		if err != nil {
			t.Fatal(err)
		}
		if d := diff(snapshot(c), before); d != [5]int64{1, 0, 0, 1, 0} {
			t.Fatalf("open of %d versions cost GET/HEAD/PUT/LIST/POST %v, want one LIST and one GET", ds.Version(), d)
		}
		before = snapshot(c)
		const offset = 2905 // 95 rows over fragments 290..299
		recs, err := ds.Read(offset, 95, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		checkRows(t, recs, offset, 95)
		releaseAll(recs)
		if d := diff(snapshot(c), before); d != [5]int64{10, 0, 0, 0, 0} {
			t.Fatalf("read cost GET/HEAD/PUT/LIST/POST %v, want 10 GETs (one per fragment: the tail GET holds a small file whole)", d)
		}
	})

	t.Run("V1 names are listed in full", func(t *testing.T) {
		root := "s3://lance-test/v1/data.lance"
		m, _, err := commit(commitRequest{root: root, scheme: NamingV1, fields: [][]byte{{0x12, 0x01, 'a'}}, fragments: []Fragment{*fakeFragment("f0.lance", 1)}})
		if err != nil {
			t.Fatal(err)
		}
		for v := 2; v <= 12; v++ { // "10.manifest" sorts before "2.manifest"
			if m, _, err = commit(commitRequest{root: root, base: m, scheme: NamingV1, fragments: []Fragment{*fakeFragment("f.lance", 1)}}); err != nil {
				t.Fatal(err)
			}
		}
		latest, s, err := loadLatestManifest(root)
		if err != nil || latest.Version != 12 || s != NamingV1 {
			t.Fatalf("latest: %v (scheme %v), %v", latest, s, err)
		}
	})

	t.Run("compact and cleanup", func(t *testing.T) {
		root := "s3://lance-test/maint/data.lance"
		writeFragments(t, root, []int64{10, 20, 30, 40})
		ds, err := Compact(root, CompactOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ds.NumFragments() != 1 || ds.CountRows() != 100 {
			t.Fatalf("after compaction: %d fragments, %d rows", ds.NumFragments(), ds.CountRows())
		}
		st, err := CleanupOldVersions(root, time.Now().Add(time.Minute), CleanupOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st.OldVersions != 4 || st.DataFiles != 4 || st.TransactionFiles != 4 {
			t.Fatalf("cleanup removed %+v", st)
		}
		ds, err = Open(root)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := ds.Read(0, 100, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		checkRows(t, recs, 0, 100)
		releaseAll(recs)
		vs, err := ds.Versions()
		if err != nil || len(vs) != 1 {
			t.Fatalf("versions %v, %v", vs, err)
		}
	})

	t.Run("errors name the URL", func(t *testing.T) {
		if _, err := Open("s3://lance-test/absent/data.lance"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing dataset: %v", err)
		}
		bad := srv.Options()
		bad["aws_secret_access_key"] = "wrong"
		if err := objstore.Configure("s3://lance-test/denied", bad); err != nil {
			t.Fatal(err)
		}
		_, err := Open("s3://lance-test/denied/data.lance")
		if err == nil || !errors.Is(err, objstore.ErrStore) || !strings.Contains(err.Error(), "s3://lance-test/denied/data.lance/_versions/") ||
			!strings.Contains(err.Error(), "403") {
			t.Fatalf("wrong secret: %v", err)
		}
		// Configured, like every bucket a test names: no request leaves 127.0.0.1.
		if err := objstore.Configure("s3://no-such-bucket", srv.Options()); err != nil {
			t.Fatal(err)
		}
		_, err = Open("s3://no-such-bucket/data.lance")
		if err == nil || !strings.Contains(err.Error(), "NoSuchBucket") || !strings.Contains(err.Error(), "s3://no-such-bucket/") {
			t.Fatalf("missing bucket: %v", err)
		}
	})
}

func diff(a, b [5]int64) [5]int64 {
	var d [5]int64
	for i := range a {
		d[i] = a[i] - b[i]
	}
	return d
}

// rowKey renders row j of a test-table record.
func rowKey(r arrow.Record, j int) string {
	var b strings.Builder
	for c := 0; c < int(r.NumCols()); c++ {
		b.WriteString(r.Column(c).ValueStr(j))
		b.WriteByte('|')
	}
	return b.String()
}
