package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/internal/miniotest"
	"github.com/persisting/persisting/lance"
	"github.com/persisting/persisting/lance/objstore"
)

// TestReadOnlyFollowsTheWriter: a read-only bucket opened before (or
// between) the writer's commits answers every read and count from the
// newest committed version - new flushes, clears, and a compaction whose
// cleanup removed the files of the version the reader held - never from
// the version it opened.
func TestReadOnlyFollowsTheWriter(t *testing.T) {
	t.Run("local", func(t *testing.T) { followTheWriter(t, Options{Path: t.TempDir()}) })
	t.Run("s3", func(t *testing.T) {
		srv := miniotest.Start(t, "follow")
		followTheWriter(t, Options{Path: "s3://follow/q/bucket_0", StorageOptions: srv.Options()})
	})
}

func followTheWriter(t *testing.T, o Options) {
	w, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r, err := Open(Options{Path: o.Path, StorageOptions: o.StorageOptions, ReadOnly: true}) // no dataset yet
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	next := int64(0)
	flushRows := func(n int64) error {
		rec := makeRows(t, memory.DefaultAllocator, next, n)
		defer rec.Release()
		next += n
		if err := w.Append(rec); err != nil {
			return err
		}
		return w.Flush()
	}
	var want []int64
	steps := []struct {
		name  string
		write func() error
		want  func()
		total int64
	}{
		{"first flush after the reader opened", func() error { return flushRows(5) },
			func() { want = []int64{0, 1, 2, 3, 4} }, 5},
		{"a second flush", func() error { return flushRows(3) },
			func() { want = append(want, 5, 6, 7) }, 8},
		{"buffered rows stay unseen", func() error {
			rec := makeRows(t, memory.DefaultAllocator, 100, 2)
			defer rec.Release()
			return w.Append(rec) // flushed by the next step, as offsets 8, 9
		}, func() {}, 8},
		{"a clear", func() error { return w.Clear([]int64{1, 6}) },
			func() { want = slices.DeleteFunc(want, func(v int64) bool { return v == 1 || v == 6 }) }, 8},
		{"compaction and cleanup of the version the reader held", func() error {
			if err := flushRows(4); err != nil { // offsets 8..13: ids 100, 101, 8..11
				return err
			}
			if _, err := w.Compact(0); err != nil {
				return err
			}
			_, err := w.CleanupOldVersions(0)
			return err
		}, func() { want = append(want, 100, 101, 8, 9, 10, 11) }, 14},
	}
	for _, s := range steps {
		if err := s.write(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		s.want()
		total, persisted, _, err := r.Counts()
		if err != nil || total != s.total || persisted != s.total {
			t.Fatalf("%s: reader counts %d/%d (%v), want %d", s.name, total, persisted, err, s.total)
		}
		st, err := r.Stats()
		ws, _ := w.Stats()
		if err != nil || st.Version != ws.Version {
			t.Fatalf("%s: reader at version %d (%v), writer at %d", s.name, st.Version, err, ws.Version)
		}
		_, recs, err := r.Read(0, -1, memory.DefaultAllocator)
		if err != nil {
			t.Fatalf("%s: read: %v", s.name, err)
		}
		if got := ids(t, recs); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: reader reads %v, want %v", s.name, got, want)
		}
		releaseAll(recs)
		last := want[len(want)-1]
		_, recs, _, err = r.Lookup("id", lance.CondEqual(last), memory.DefaultAllocator)
		if got := ids(t, recs); err != nil || fmt.Sprint(got) != fmt.Sprint([]int64{last}) {
			t.Fatalf("%s: reader's lookup of id %d finds %v (%v)", s.name, last, got, err)
		}
		releaseAll(recs)
	}
}

// TestReadOnlyReadAfterCleanupRemovedItsFiles: the writer's compaction and
// cleanup remove the files of the version a read-only read has just taken;
// the read answers from the newest version (the same rows), and when the
// files of that one are gone too it says so - never other rows.
func TestReadOnlyReadAfterCleanupRemovedItsFiles(t *testing.T) {
	for _, cleanups := range []int{1, 2} {
		t.Run(fmt.Sprintf("cleanups=%d", cleanups), func(t *testing.T) {
			dir := t.TempDir()
			w, err := Open(Options{Path: dir})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			next := int64(0)
			flushRows := func(n int64) {
				rec := makeRows(t, memory.DefaultAllocator, next, n)
				defer rec.Release()
				next += n
				if err := w.Append(rec); err != nil {
					t.Fatal(err)
				}
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
			}
			for range 3 {
				flushRows(4)
			}
			r, err := Open(Options{Path: dir, ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			done := 0
			r.afterReadPin = func() {
				if done == cleanups {
					return
				}
				done++
				flushRows(1) // a fragment for the next compaction
				if _, err := w.Compact(0); err != nil {
					t.Fatal(err)
				}
				if _, err := w.CleanupOldVersions(0); err != nil {
					t.Fatal(err)
				}
			}
			_, recs, err := r.Read(0, 12, memory.DefaultAllocator)
			if cleanups == 1 {
				if err != nil {
					t.Fatalf("read after cleanup: %v", err)
				}
				if got := ids(t, recs); fmt.Sprint(got) != fmt.Sprint([]int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}) {
					t.Fatalf("read after cleanup: %v", got)
				}
				releaseAll(recs)
				return
			}
			if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "are gone") {
				releaseAll(recs)
				t.Fatalf("read whose files went twice: err = %v", err)
			}
		})
	}
}

// TestReadOnlyAdoptsARecreatedDataset: the writer's side deletes the
// dataset and makes it again (its versions start again at 1) while a
// read-only bucket holds version 3 of the old one: the reader reads the
// new dataset from then on - with fewer versions than it held, or as many
// (the same version number, another manifest) - never the old rows.
func TestReadOnlyAdoptsARecreatedDataset(t *testing.T) {
	for _, versions := range []int{1, 3} {
		t.Run(fmt.Sprintf("local/versions=%d", versions), func(t *testing.T) {
			adoptRecreated(t, Options{Path: t.TempDir()}, versions)
		})
	}
	t.Run("s3/versions=3", func(t *testing.T) {
		srv := miniotest.Start(t, "recreate")
		adoptRecreated(t, Options{Path: "s3://recreate/q/bucket_0", StorageOptions: srv.Options()}, 3)
	})
}

func adoptRecreated(t *testing.T, o Options, versions int) {
	write := func(first int64, flushes int) {
		w, err := Open(o)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		for i := range int64(flushes) {
			rec := makeRows(t, memory.DefaultAllocator, first+i, 1)
			err := w.Append(rec)
			rec.Release()
			if err == nil {
				err = w.Flush()
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	read := func(r *Bucket) ([]int64, error) {
		_, recs, err := r.Read(0, -1, memory.DefaultAllocator)
		if err != nil {
			return nil, err
		}
		defer releaseAll(recs)
		return ids(t, recs), nil
	}
	write(0, 3)
	r, err := Open(Options{Path: o.Path, StorageOptions: o.StorageOptions, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, err := read(r); err != nil || fmt.Sprint(got) != "[0 1 2]" {
		t.Fatalf("before: reader reads %v (%v)", got, err)
	}
	var gone []string
	if err := objstore.List(o.datasetPath(), func(info objstore.Info) bool {
		gone = append(gone, objstore.JoinURL(o.datasetPath(), info.Key))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	for _, p := range gone {
		if err := objstore.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	write(100, versions)
	want := []int64{100, 101, 102}[:versions]
	got, err := read(r)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after the dataset was made again: reader reads %v (%v), want %v", got, err, want)
	}
	total, _, _, err := r.Counts()
	st, _ := r.Stats()
	if err != nil || total != int64(versions) || st.Version != uint64(versions) {
		t.Fatalf("after: reader counts %d at version %d (%v), want %d at %d", total, st.Version, err, versions, versions)
	}
}
