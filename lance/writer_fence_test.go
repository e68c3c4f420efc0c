package lance

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// A fence stamps its epoch into every commit through it, and refuses every
// kind of commit on top of a version recording a higher epoch: the old
// writer can neither append nor compact after the takeover version.
func TestWriterFence(t *testing.T) {
	const key = "test.writer_epoch"
	epochOf := func(t *testing.T, ds *Dataset) uint64 {
		t.Helper()
		e, err := RecordedEpoch(ds.Config(), key)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	appendRows := func(root string, start int64) (*Dataset, error) {
		rec := makeRecord(memory.DefaultAllocator, start, 5)
		defer rec.Release()
		return Write(root, []arrow.Record{rec}, WriteOptions{})
	}
	root := filepath.Join(t.TempDir(), "data.lance")
	release := FenceCommits(root, Fence{Key: key, Epoch: 1})
	ds := writeFragments(t, root, []int64{5, 5})
	if epochOf(t, ds) != 1 {
		t.Fatalf("fenced writes record epoch %d", epochOf(t, ds))
	}
	// The new writer's takeover version: no data, its epoch.
	taken, err := AdvanceFence(root, Fence{Key: key, Epoch: 2})
	if err != nil || taken.Version() != ds.Version()+1 || taken.CountRows() != 10 || epochOf(t, taken) != 2 {
		t.Fatalf("takeover: %v", err)
	}
	if _, err := AdvanceFence(root, Fence{Key: key, Epoch: 1}); !errors.Is(err, ErrFenced) {
		t.Fatalf("a lower epoch advanced the fence: %v", err)
	}
	for name, commit := range map[string]func() error{
		"append on a stale base": func() error {
			rec := makeRecord(memory.DefaultAllocator, 10, 5)
			defer rec.Release()
			_, err := Write(root, []arrow.Record{rec}, WriteOptions{Base: ds}) // conflicts, then re-reads
			return err
		},
		"append on the latest": func() error { _, err := appendRows(root, 10); return err },
		"compaction":           func() error { _, err := Compact(root, CompactOptions{}); return err },
	} {
		if err := commit(); !errors.Is(err, ErrFenced) {
			t.Errorf("%s by the old writer: %v, want ErrFenced", name, err)
		}
	}
	release()
	// Writers without a fence (pylance, say) are not refused, and carry it.
	after, err := appendRows(root, 10)
	if err != nil || epochOf(t, after) != 2 || after.CountRows() != 15 {
		t.Fatalf("unfenced append: %v", err)
	}
	// Permit runs before the commit and can refuse it.
	stop := errors.New("lease ran out")
	defer FenceCommits(root, Fence{Key: key, Epoch: 2, Permit: func() error { return stop }})()
	if _, err := appendRows(root, 15); !errors.Is(err, stop) {
		t.Fatalf("a refused permit committed: %v", err)
	}
}
