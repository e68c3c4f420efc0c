package lance

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestOpenTag: a tag pylance creates on a dataset we wrote opens the version
// it names; unknown and broken tags are clear errors.
func TestOpenTag(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	writeFragments(t, path, []int64{10, 5, 7}) // versions 1, 2, 3
	runPylance(t, "tag", path, "two", "2")

	tags, err := Tags(path)
	if err != nil || len(tags) != 1 || tags["two"] != 2 {
		t.Fatalf("Tags = %v, %v", tags, err)
	}
	ds, err := OpenTag(path, "two")
	if err != nil {
		t.Fatal(err)
	}
	if ds.Version() != 2 || ds.CountRows() != 15 {
		t.Fatalf("tag two opened version %d with %d rows", ds.Version(), ds.CountRows())
	}
	recs, err := ds.Read(0, -1, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, recs, 0, 15)
	releaseAll(recs)

	if _, err := OpenTag(path, "nope"); !errors.Is(err, ErrVersionNotFound) {
		t.Fatalf("unknown tag: %v", err)
	}
	if err := os.WriteFile(filepath.Join(path, "_refs", "tags", "bad.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenTag(path, "two"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a broken tag file: %v", err)
	}
}
