package engine

import (
	"errors"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

func TestCompactKeepsOffsetsAndVersions(t *testing.T) {
	b := openBucket(t, t.TempDir(), 1000)
	defer b.Close()
	for i := int64(0); i < 6; i++ {
		appendRows(t, b, i*10, 10)
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	appendRows(t, b, 60, 5) // buffered: untouched by compaction
	res, err := b.Compact(0)
	if err != nil {
		t.Fatal(err)
	}
	if res.FragmentsBefore != 6 || res.Fragments != 1 || res.Version != res.VersionBefore+1 {
		t.Fatalf("compaction: %+v", res)
	}
	if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, 65)) {
		t.Fatalf("rows after compaction: %v", got)
	}
	if got := readIDs(t, b, 25, 10); !equalInts(got, seq(25, 10)) {
		t.Fatalf("range after compaction: %v", got)
	}

	versions, err := b.Versions()
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != 7 || versions[6].Version != res.Version {
		t.Fatalf("versions: %+v", versions)
	}
	// time travel: version 3 held three flushes of 10 rows
	_, recs, err := b.ReadVersion(3, 0, -1, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(t, recs); !equalInts(got, seq(0, 30)) {
		t.Fatalf("version 3: %v", got)
	}
	releaseAll(recs)

	// cleanup of everything older than now keeps the newest version only
	st, err := b.CleanupOldVersions(0)
	if err != nil {
		t.Fatal(err)
	}
	if st.OldVersions != 6 {
		t.Fatalf("cleanup: %+v", st)
	}
	if _, _, err := b.ReadVersion(3, 0, -1, memory.DefaultAllocator); err == nil {
		t.Fatal("a cleaned-up version is still readable")
	}
	if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, 65)) {
		t.Fatalf("rows after cleanup: %v", got)
	}
}

func TestCompactionThreshold(t *testing.T) {
	// Every threshold flushes (no min_flush_interval), so each append below makes a fragment.
	b, err := Open(Options{Path: t.TempDir(), FlushThreshold: 10, CompactionThreshold: 4, MinFlushInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i := int64(0); i < 9; i++ {
		appendRows(t, b, i*10, 10) // reaches the threshold: a background flush
	}
	// The threshold flushes run in the background, each installing its
	// version before it compacts: counted while one runs, the fragments
	// could be those between the two. At most twice the threshold is
	// buffered (back-pressure), so at least five flushes ran: without
	// compaction five fragments or more.
	b.waitBackgroundFlush()
	b.mu.Lock()
	fragments := b.dataset.NumFragments()
	b.mu.Unlock()
	if fragments >= 4 {
		t.Fatalf("%d fragments: automatic compaction did not run", fragments)
	}
	if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, 90)) {
		t.Fatalf("rows: %v", got)
	}
}

func TestMaintenanceOnEmptyAndClosedBuckets(t *testing.T) {
	b := openBucket(t, t.TempDir(), 1000)
	if res, err := b.Compact(0); err != nil || res.Version != 0 {
		t.Fatalf("compact of an empty bucket: %+v %v", res, err)
	}
	if v, err := b.Versions(); err != nil || len(v) != 0 {
		t.Fatalf("versions of an empty bucket: %v %v", v, err)
	}
	if _, err := b.CleanupOldVersions(-time.Second); err == nil {
		t.Fatal("negative older_than accepted")
	}
	b.Close()
	if _, err := b.Compact(0); err != ErrClosed {
		t.Fatalf("compact after close: %v", err)
	}
}

// TestReadVersionOfAnEmptyBucket: before the first flush no version exists;
// asking for one is ErrVersionNotFound (the C API's EINVALID_ARGUMENT), not
// an I/O error.
func TestReadVersionOfAnEmptyBucket(t *testing.T) {
	b := openBucket(t, t.TempDir(), 10)
	defer b.Close()
	if _, _, err := b.ReadVersion(1, 0, -1, memory.DefaultAllocator); !errors.Is(err, ErrVersionNotFound) {
		t.Fatalf("ReadVersion(1) of an empty bucket = %v, want ErrVersionNotFound", err)
	}
}
