package lance

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// cachedUnder counts the process cache's readers of files under dir (a
// test's own temp dir, so tests running beside it do not count).
func cachedUnder(dir string) int {
	prefix := readerKey(dir) + string(filepath.Separator)
	dataFiles.mu.Lock()
	defer dataFiles.mu.Unlock()
	n := 0
	for key := range dataFiles.entries {
		if strings.HasPrefix(key, prefix) {
			n++
		}
	}
	return n
}

// dataFilePaths returns the paths of the dataset's data files, in fragment order.
func dataFilePaths(t *testing.T, ds *Dataset) []string {
	t.Helper()
	var out []string
	for i := range ds.manifest.Fragments {
		for j := range ds.manifest.Fragments[i].Files {
			p, err := ds.dataFilePath(&ds.manifest.Fragments[i].Files[j])
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, p)
		}
	}
	return out
}

// chargeOf returns what a cache charges for the reader of path.
func chargeOf(t *testing.T, path string) int64 {
	t.Helper()
	probe := newReaderCache(1 << 30)
	_, done, err := probe.open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	done(nil)
	_, charge := probe.stats()
	return charge
}

func readerStillReads(r interface {
	Read(*arrow.Schema, []int, int64, int64, memory.Allocator) (arrow.Record, error)
}) error {
	rec, err := r.Read(arrow.NewSchema([]arrow.Field{testSchema.Field(0)}, nil), []int{0}, 0, 1, memory.DefaultAllocator)
	if err == nil {
		rec.Release()
	}
	return err
}

// TestReadKeepsFileReaders: a second read of the same rows reuses the
// readers the first one opened (one per data file touched), also through
// a newer version that still references those files.
func TestReadKeepsFileReaders(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	ds := writeFragments(t, path, []int64{10, 10, 10})
	dataDir := filepath.Join(path, dataDir)
	for round := 0; round < 2; round++ {
		recs, err := ds.Read(5, 20, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		checkRows(t, recs, 5, 20)
		releaseAll(recs)
		if n := cachedUnder(dataDir); n != 3 {
			t.Fatalf("round %d: %d cached readers, want 3", round, n)
		}
	}
	paths := dataFilePaths(t, ds)
	r1, done1, err := dataFiles.open(paths[0], 0)
	if err != nil {
		t.Fatal(err)
	}
	done1(nil)
	newer := writeFragments(t, path, []int64{10}) // appends: version 4 still names the first files
	recs, err := newer.Read(0, 10, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	releaseAll(recs)
	r2, done2, err := dataFiles.open(paths[0], 0)
	if err != nil {
		t.Fatal(err)
	}
	done2(nil)
	if r1 != r2 {
		t.Fatal("the newer version reopened a data file the cache holds")
	}
}

// TestReaderCacheBound: whatever the limit, the charged total stays within
// it, the most recently used readers are the ones kept, and an evicted
// reader is closed.
func TestReaderCacheBound(t *testing.T) {
	ds := writeFragments(t, filepath.Join(t.TempDir(), "ds"), []int64{5, 5, 5, 5, 5, 5, 5, 5})
	paths := dataFilePaths(t, ds)
	charge := chargeOf(t, paths[0])
	if charge < readerMinCharge {
		t.Fatalf("charge %d below the minimum %d", charge, readerMinCharge)
	}
	tests := []struct {
		name  string
		limit int64
		want  int // entries kept after opening every file once
	}{
		{"nothing fits", charge - 1, 0},
		{"one", charge, 1},
		{"three", 3*charge + charge/2, 3},
		{"all", 100 * charge, len(paths)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newReaderCache(tt.limit)
			var readers []interface {
				Read(*arrow.Schema, []int, int64, int64, memory.Allocator) (arrow.Record, error)
			}
			for _, p := range paths {
				r, done, err := c.open(p, 0)
				if err != nil {
					t.Fatal(err)
				}
				done(nil)
				readers = append(readers, r)
				if _, charged := c.stats(); charged > tt.limit {
					t.Fatalf("charged %d over the limit %d", charged, tt.limit)
				}
			}
			if n, _ := c.stats(); n != tt.want {
				t.Fatalf("%d entries, want %d", n, tt.want)
			}
			for k, r := range readers {
				kept := k >= len(paths)-tt.want
				if err := readerStillReads(r); (err == nil) != kept {
					t.Fatalf("reader %d: kept=%v but read error %v", k, kept, err)
				}
			}
		})
	}
}

// TestReaderCacheEvictionWaitsForReads: a reader evicted while a read holds
// it stays usable until that read releases it, then it is closed.
func TestReaderCacheEvictionWaitsForReads(t *testing.T) {
	ds := writeFragments(t, filepath.Join(t.TempDir(), "ds"), []int64{5, 5})
	paths := dataFilePaths(t, ds)
	c := newReaderCache(chargeOf(t, paths[0])) // room for one reader
	a, doneA, err := c.open(paths[0], 0)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := c.stats(); n != 1 {
		t.Fatalf("%d entries, want 1", n)
	}
	_, doneB, err := c.open(paths[1], 0) // evicts a
	if err != nil {
		t.Fatal(err)
	}
	defer doneB(nil)
	if _, ok := c.entries[readerKey(paths[0])]; ok {
		t.Fatal("the first reader was not evicted")
	}
	if err := readerStillReads(a); err != nil {
		t.Fatalf("an evicted reader in use was closed: %v", err)
	}
	doneA(nil)
	if err := readerStillReads(a); err == nil {
		t.Fatal("an evicted reader stayed open after its last read")
	}
}

// TestReaderCacheDropsDoubtfulReaders: a reader whose size disagrees with
// the manifest is reopened, and a failed read drops its reader.
func TestReaderCacheDropsDoubtfulReaders(t *testing.T) {
	ds := writeFragments(t, filepath.Join(t.TempDir(), "ds"), []int64{5})
	p := dataFilePaths(t, ds)[0]
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	c := newReaderCache(1 << 30)
	r1, done, err := c.open(p, uint64(st.Size()))
	if err != nil {
		t.Fatal(err)
	}
	done(nil)
	r2, done, err := c.open(p, uint64(st.Size())+1)
	if err != nil {
		t.Fatal(err)
	}
	done(errors.New("read failed"))
	if r1 == r2 {
		t.Fatal("a reader of another size was reused")
	}
	if n, _ := c.stats(); n != 0 {
		t.Fatalf("%d entries after a failed read, want 0", n)
	}
}

// TestCleanupForgetsRemovedFiles: once cleanup removed the files a
// compaction superseded, no reader of the dataset's data files stays
// cached, and the compacted version reads from its own files.
func TestCleanupForgetsRemovedFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	ds := writeFragments(t, path, []int64{10, 10, 10, 10})
	recs, err := ds.Read(0, -1, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	releaseAll(recs)
	if n := cachedUnder(filepath.Join(path, dataDir)); n != 4 {
		t.Fatalf("%d cached readers, want 4", n)
	}
	compacted, err := Compact(path, CompactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := CleanupOldVersions(path, time.Now().Add(time.Hour), CleanupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.DataFiles != 4 {
		t.Fatalf("cleanup removed %d data files, want 4", st.DataFiles)
	}
	if n := cachedUnder(filepath.Join(path, dataDir)); n != 0 {
		t.Fatalf("%d readers cached after cleanup, want 0", n)
	}
	recs, err = compacted.Read(0, -1, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, recs, 0, 40)
	releaseAll(recs)
	if _, err := ds.Read(0, -1, memory.DefaultAllocator); err == nil {
		t.Fatal("the old version read removed files")
	}
}

// TestReaderCacheConcurrentEviction: readers evicted while other
// goroutines read through them are never closed under a read (run with
// -race).
func TestReaderCacheConcurrentEviction(t *testing.T) {
	ds := writeFragments(t, filepath.Join(t.TempDir(), "ds"), []int64{5, 5, 5, 5, 5, 5})
	paths := dataFilePaths(t, ds)
	limit := 2 * chargeOf(t, paths[0])
	c := newReaderCache(limit) // two readers: constant eviction
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for k := 0; k < 100; k++ {
				r, done, err := c.open(paths[(g+k)%len(paths)], 0)
				if err == nil {
					err = readerStillReads(r)
					done(err)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n, charged := c.stats(); charged > limit || n == 0 {
		t.Fatalf("charged %d over the limit", charged)
	}
}
