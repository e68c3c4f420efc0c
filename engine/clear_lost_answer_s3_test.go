package engine

import (
	"regexp"
	"slices"
	"testing"

	"github.com/persisting/persisting/internal/miniotest"
)

// A clear whose manifest PUT landed but whose answer was lost fails; the
// caller calls clear again once the server is back. That call succeeds
// (it finds its indexes cleared by the version that landed, instead of
// failing every attempt with a commit conflict on the cleared offsets),
// and the consumption state knows the index is cleared: no task is handed
// it, and it counts as cleared.
func TestS3ClearAgainAfterLostAnswer(t *testing.T) {
	srv := miniotest.Start(t, "clear-lost-answer")
	manifestPut := regexp.MustCompile(`^PUT \S*/_versions/\S*\.manifest `)
	for _, tc := range []struct {
		name       string
		flushFirst bool // new rows flushed between the two clears
	}{
		{"clear again at once", false},
		{"clear again after a flush", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy := srv.Proxy(t)
			opts := Options{Path: "s3://clear-lost-answer/" + tc.name, StorageOptions: proxy.Options(),
				FlushThreshold: 1 << 30, Background: BackgroundOptions{MaxFlushDelay: -1, DisableMaintenance: true}}
			opts.StorageOptions["client_max_retries"] = "1"
			b, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			appendRows(t, b, 0, 10)
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
			if _, err := b.TakeUnconsumed("task", nil, 0); err != nil { // the task's state is loaded
				t.Fatal(err)
			}
			struck := proxy.BreakOn(manifestPut, true)
			if err := b.Clear([]int64{7}); err == nil {
				t.Fatal("clear succeeded with its answer lost")
			}
			<-struck
			proxy.SetDown(false)
			if tc.flushFirst {
				appendRows(t, b, 10, 5)
				if err := b.Flush(); err != nil {
					t.Fatal(err)
				}
			}
			if err := b.Clear([]int64{7}); err != nil {
				t.Fatalf("clear again with the server back: %v", err)
			}
			got, err := b.TakeUnconsumed("task", nil, 100)
			if err != nil || slices.Contains(got, 7) {
				t.Fatalf("a task is handed %v (err %v), the cleared index 7 among them", got, err)
			}
			if n, err := b.ClearedCount(); err != nil || n != 1 {
				t.Fatalf("cleared count %d (err %v), want 1", n, err)
			}
			if live, err := b.LiveIndexes([]int64{7}); err != nil || len(live) != 0 {
				t.Fatalf("live indexes of [7]: %v (err %v), want none", live, err)
			}
		})
	}
}
