package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/persisting/persisting/internal/miniotest"
	"github.com/persisting/persisting/lance/objstore"
)

// The Store contract, checked the same way on the local file system and on
// a real S3 server (MinIO on 127.0.0.1).
func TestStoreContract(t *testing.T) {
	srv := miniotest.Start(t, "store-test")
	cfg, err := objstore.ParseConfig(srv.Options())
	if err != nil {
		t.Fatal(err)
	}
	s3 := objstore.NewS3(cfg, "store-test")
	s3.PartSize = 5 << 20 // S3's smallest part: a 12 MiB object takes three
	for _, tc := range []struct {
		name  string
		store objstore.Store
		root  string
	}{
		{"local", objstore.Local{}, t.TempDir()},
		{"s3", s3, "contract"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st := tc.store
			key := func(k string) string {
				if tc.name == "local" {
					return filepath.Join(tc.root, filepath.FromSlash(k))
				}
				return tc.root + "/" + k
			}
			if _, err := st.Get(ctx, key("missing")); !errors.Is(err, objstore.ErrNotExist) {
				t.Fatalf("Get of a missing key: %v", err)
			}
			if err := st.PutIfAbsent(ctx, key("_versions/2.manifest"), []byte("first")); err != nil {
				t.Fatal(err)
			}
			err := st.PutIfAbsent(ctx, key("_versions/2.manifest"), []byte("second"))
			if !errors.Is(err, objstore.ErrExist) {
				t.Fatalf("second PutIfAbsent: %v", err)
			}
			if b, _ := st.Get(ctx, key("_versions/2.manifest")); string(b) != "first" {
				t.Fatalf("PutIfAbsent replaced the object: %q", b)
			}
			for _, k := range []string{"_versions/1.manifest", "_versions/3.manifest", "data/a/x.lance"} {
				if err := st.Put(ctx, key(k), []byte(k)); err != nil {
					t.Fatal(err)
				}
			}
			var listed []string
			if err := st.List(ctx, key("_versions"), func(i objstore.Info) bool { listed = append(listed, i.Key); return true }); err != nil {
				t.Fatal(err)
			}
			if strings.Join(listed, ",") != "1.manifest,2.manifest,3.manifest" {
				t.Fatalf("List: %v", listed)
			}
			listed = nil
			st.List(ctx, key(""), func(i objstore.Info) bool { listed = append(listed, i.Key); return len(listed) < 2 })
			if strings.Join(listed, ",") != "_versions/1.manifest,_versions/2.manifest" {
				t.Fatalf("List stopped early: %v", listed)
			}
			if err := st.List(ctx, key("nothing-here"), func(objstore.Info) bool { t.Fatal("listed something"); return true }); err != nil {
				t.Fatal(err)
			}

			big := bytes.Repeat([]byte("0123456789abcdef"), 12<<20/16) // 12 MiB
			up, err := st.Create(ctx, key("data/big.lance"))
			if err != nil {
				t.Fatal(err)
			}
			for off := 0; off < len(big); off += 1 << 20 {
				if _, err := up.Write(big[off : off+1<<20]); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := st.Head(ctx, key("data/big.lance")); !errors.Is(err, objstore.ErrNotExist) {
				t.Fatalf("an upload is visible before Close: %v", err)
			}
			if err := up.Close(); err != nil {
				t.Fatal(err)
			}
			info, err := st.Head(ctx, key("data/big.lance"))
			if err != nil || info.Size != int64(len(big)) {
				t.Fatalf("Head: %+v, %v", info, err)
			}
			r, err := st.GetRange(ctx, key("data/big.lance"), 7<<20+3, 10)
			if err != nil || !bytes.Equal(r, big[7<<20+3:7<<20+13]) {
				t.Fatalf("GetRange: %q, %v", r, err)
			}
			up, _ = st.Create(ctx, key("data/aborted.lance"))
			up.Write(big)
			up.Abort()
			if _, err := st.Head(ctx, key("data/aborted.lance")); !errors.Is(err, objstore.ErrNotExist) {
				t.Fatalf("an aborted upload exists: %v", err)
			}
			if err := st.Delete(ctx, key("data/big.lance")); err != nil {
				t.Fatal(err)
			}
			if err := st.Delete(ctx, key("data/big.lance")); err != nil {
				t.Fatalf("deleting a missing object: %v", err)
			}
		})
	}
}

// RangeReader serves the tail and prefetched ranges from memory and
// coalesces nearby ranges into one GET.
func TestRangeReaderCoalesces(t *testing.T) {
	miniotest.Start(t, "range-test")
	data := bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz012345"), 4<<20/32) // 4 MiB
	if err := objstore.Put("s3://range-test/obj", data); err != nil {
		t.Fatal(err)
	}
	l, _ := objstore.Resolve("s3://range-test/obj")
	counts := l.Store.(*objstore.S3).Counts()
	gets := func() int64 { return counts.Get.Load() }
	before := gets()
	rr, err := objstore.OpenRange("s3://range-test/obj")
	if err != nil {
		t.Fatal(err)
	}
	if rr.Size() != int64(len(data)) || gets()-before != 1 {
		t.Fatalf("open: size %d, %d GETs", rr.Size(), gets()-before)
	}
	buf := make([]byte, 100)
	before = gets()
	if _, err := rr.ReadAt(buf, int64(len(data))-200); err != nil || !bytes.Equal(buf, data[len(data)-200:len(data)-100]) || gets() != before {
		t.Fatalf("tail read: %v, %d GETs", err, gets()-before)
	}
	// Three ranges: two 100 KiB apart (one GET), one 2 MiB further (another).
	if err := rr.Prefetch([][2]int64{{0, 1000}, {100 << 10, 1000}, {2<<20 + 100<<10, 1000}}); err != nil {
		t.Fatal(err)
	}
	if gets()-before != 2 {
		t.Fatalf("prefetch of three ranges cost %d GETs, want 2", gets()-before)
	}
	before = gets()
	for _, off := range []int64{0, 100<<10 + 500, 2<<20 + 100<<10} {
		if _, err := rr.ReadAt(buf, off); err != nil || !bytes.Equal(buf, data[off:off+100]) {
			t.Fatalf("read at %d: %v", off, err)
		}
	}
	if gets() != before {
		t.Fatalf("prefetched reads cost %d GETs", gets()-before)
	}
	if _, err := rr.ReadAt(buf, 3<<20); err != nil || !bytes.Equal(buf, data[3<<20:3<<20+100]) || gets()-before != 1 {
		t.Fatalf("uncached read: %v, %d GETs", err, gets()-before)
	}
	// Dropped prefetched ranges are fetched again; the tail stays.
	rr.DropPrefetched()
	before = gets()
	if _, err := rr.ReadAt(buf, 0); err != nil || !bytes.Equal(buf, data[:100]) || gets()-before != 1 {
		t.Fatalf("read after DropPrefetched: %v, %d GETs", err, gets()-before)
	}
	if _, err := rr.ReadAt(buf, int64(len(data))-200); err != nil || !bytes.Equal(buf, data[len(data)-200:len(data)-100]) || gets()-before != 1 {
		t.Fatalf("tail read after DropPrefetched: %v, %d GETs", err, gets()-before)
	}
}
