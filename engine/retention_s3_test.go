package engine

import (
	"testing"
	"time"

	"github.com/persisting/persisting/internal/miniotest"
)

// TestS3RetentionByAge: retention_seconds drops records on s3:// as it
// does on a local path: a fragment's age is its data object's write time.
func TestS3RetentionByAge(t *testing.T) {
	srv := miniotest.Start(t, "retention-age")
	for _, tc := range []struct {
		name  string
		age   time.Duration
		first int64
	}{
		{"age reached", time.Minute, 500},
		{"age not reached", time.Hour, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts, clock, ev := withFakeTime(Options{Path: "s3://retention-age/" + tc.name, StorageOptions: srv.Options(),
				FlushThreshold: 100, Background: BackgroundOptions{MaxFlushDelay: -1, RetentionAge: tc.age}})
			b, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			appendInBatches(t, b, 0, 500, 100) // five fragments of 100
			clock.Advance(2 * time.Minute)
			ev.waitFor(t, eventPeriodicMaintenance, 1)
			st, err := b.Stats()
			if err != nil {
				t.Fatal(err)
			}
			if st.FirstRetainedOffset != tc.first || st.TotalCount != 500 {
				t.Fatalf("first retained %d (want %d), total %d", st.FirstRetainedOffset, tc.first, st.TotalCount)
			}
		})
	}
}
