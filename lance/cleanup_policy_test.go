package lance

import (
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestCleanupPolicyOptions: KeepLatest, Keep and BySuperseded each keep
// the versions they name, and only those, besides the latest.
func TestCleanupPolicyOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts CleanupOptions
		at   int // the cutoff is the commit time of this version (1-based); 0: far future
		want []uint64
	}{
		{"all old", CleanupOptions{}, 0, []uint64{6}},
		{"keep latest 3", CleanupOptions{KeepLatest: 3}, 0, []uint64{4, 5, 6}},
		{"keep in use", CleanupOptions{KeepLatest: 2, Keep: []uint64{2}}, 0, []uint64{2, 5, 6}},
		{"own commit time", CleanupOptions{}, 4, []uint64{4, 5, 6}},
		{"superseded time", CleanupOptions{BySuperseded: true}, 4, []uint64{3, 4, 5, 6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ds")
			var stamps []time.Time
			for i := int64(0); i < 6; i++ {
				ds := writeFragments(t, path, []int64{1})
				stamps = append(stamps, ds.Timestamp())
				time.Sleep(2 * time.Millisecond) // distinct commit times (this is not a wait for an event)
			}
			before := time.Now().Add(time.Hour)
			if tc.at > 0 {
				before = stamps[tc.at-1]
			}
			if _, err := CleanupOldVersions(path, before, tc.opts); err != nil {
				t.Fatal(err)
			}
			if got := versionNumbers(t, path); !slices.Equal(got, tc.want) {
				t.Fatalf("versions left %v, want %v", got, tc.want)
			}
			for _, v := range tc.want {
				ds, err := OpenVersion(path, v)
				if err != nil {
					t.Fatal(err)
				}
				recs, err := ds.Read(0, -1, nil)
				if err != nil {
					t.Fatalf("version %d: %v", v, err)
				}
				releaseAll(recs)
			}
		})
	}
}
