package lance

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestReplacedSince: later appends keep the dataset, also when the version
// read was cleaned up since; a dataset deleted and made again is another
// one, whether its versions reach the one read or stay below it.
// (Overwrite and Restore transactions: tests/cli/test_tail.py, by pylance.)
func TestReplacedSince(t *testing.T) {
	root := filepath.Join(t.TempDir(), "ds.lance")
	write := func(n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			rec := makeRecord(memory.DefaultAllocator, int64(i), 2)
			_, err := Write(root, []arrow.Record{rec}, WriteOptions{})
			rec.Release()
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(what string, from Mark, to uint64, want string) Mark {
		t.Helper()
		mark, why, err := ReplacedSince(root, from, to)
		if err != nil || !strings.Contains(why, want) || (want == "") != (why == "") || mark.Version != to {
			t.Fatalf("%s: mark %+v, %q, %v; want version %d and %q", what, mark, why, err, to, want)
		}
		return mark
	}
	write(2)
	read, err := VersionMark(root, 2)
	if err != nil {
		t.Fatal(err)
	}
	check("nothing new", read, 2, "")
	write(2)
	later := check("appends", read, 4, "")
	if _, err := CleanupOldVersions(root, time.Now().Add(time.Hour), CleanupOptions{KeepLatest: 1}); err != nil {
		t.Fatal(err)
	}
	write(1)
	check("the version read cleaned up", read, 5, "")
	check("from the newest kept", later, 5, "")

	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	write(1)
	check("made again below", later, 1, "versions start again")
	write(3)
	check("made again up to the version read", later, 4, "deleted and made again")
}
