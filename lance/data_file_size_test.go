package lance

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestReadRefusesADataFileOfAnotherSize: a data file whose size is not the
// one its manifest records is refused naming the file, never read as the
// fragment's rows: another fragment's file (a valid Lance file) by its size,
// a cut or extended one by its footer; the other fragments still read.
func TestReadRefusesADataFileOfAnotherSize(t *testing.T) {
	damages := []struct {
		name   string
		want   string // in the error, besides the file's name
		damage func(t *testing.T, victim, other string)
	}{
		{"replaced by another fragment's file", "the manifest records", func(t *testing.T, victim, other string) {
			b, err := os.ReadFile(other)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(victim, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"one byte appended", "bad magic", func(t *testing.T, victim, _ string) {
			f, err := os.OpenFile(victim, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Write([]byte{0}); err != nil {
				t.Fatal(err)
			}
		}},
		{"one byte cut off", "bad magic", func(t *testing.T, victim, _ string) {
			st, err := os.Stat(victim)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(victim, st.Size()-1); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, version := range []string{"2.0", "2.1"} {
		for _, tc := range damages {
			t.Run(version+"/"+tc.name, func(t *testing.T) {
				root := filepath.Join(t.TempDir(), "ds")
				for i, n := range []int64{10, 20} { // the same columns, other sizes
					rec := makeRecord(memory.DefaultAllocator, int64(i)*10, n)
					_, err := Write(root, []arrow.Record{rec}, WriteOptions{DataStorageVersion: version})
					rec.Release()
					if err != nil {
						t.Fatal(err)
					}
				}
				ds, err := Open(root)
				if err != nil {
					t.Fatal(err)
				}
				frags := ds.Fragments()
				victim := filepath.Join(root, dataDir, frags[0].Files[0].Path)
				tc.damage(t, victim, filepath.Join(root, dataDir, frags[1].Files[0].Path))

				ds, err = Open(root)
				if err != nil {
					t.Fatal(err)
				}
				for _, read := range []struct{ offset, limit int64 }{{0, -1}, {0, 5}, {5, 3}} {
					recs, err := ds.Read(read.offset, read.limit, memory.DefaultAllocator)
					releaseAll(recs)
					if err == nil || !strings.Contains(err.Error(), frags[0].Files[0].Path) || !strings.Contains(err.Error(), tc.want) ||
						tc.want == "the manifest records" && !errors.Is(err, ErrCorrupt) {
						t.Fatalf("read %d..+%d: %v, want an error naming %s: %s", read.offset, read.limit, err, frags[0].Files[0].Path, tc.want)
					}
				}
				recs, err := ds.Read(10, 20, memory.DefaultAllocator) // the undamaged fragment
				defer releaseAll(recs)
				if err != nil {
					t.Fatalf("read of the undamaged fragment: %v", err)
				}
				checkRows(t, recs, 10, 20)
			})
		}
	}
}
