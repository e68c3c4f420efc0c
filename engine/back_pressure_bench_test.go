package engine

import (
	"testing"
	"time"
)

// BenchmarkPutsBehindFlushes is bench.py's measurement 3 inside Go: one
// record per AppendRecords with default options, so background flushes
// (and compactions) run behind the puts. Beside ns/op it reports the
// latency distribution that the mean hides: how many puts took over 0.5 ms
// and their share of the time, and the slowest. "every-threshold" flushes
// at each flush_threshold rows (min_flush_interval off), "default" paces
// threshold flushes. Run with a fixed count, e.g. -benchtime=50000x.
func BenchmarkPutsBehindFlushes(b *testing.B) {
	for _, c := range []struct {
		name     string
		interval time.Duration
	}{{"every-threshold", -1}, {"default", 0}} {
		for _, withWAL := range []bool{false, true} {
			name := c.name
			opts := Options{Path: b.TempDir(), MinFlushInterval: c.interval}
			if withWAL {
				name += "/wal-1s"
				opts.WAL = WALOptions{Enabled: true, SyncInterval: time.Second}
			}
			b.Run(name, func(b *testing.B) {
				bucket, err := Open(opts)
				if err != nil {
					b.Fatal(err)
				}
				defer bucket.Close()
				in := pyMarshal(b, putRecord(1))
				const slow = 500 * time.Microsecond
				var waited, worst time.Duration
				waits := 0
				b.ResetTimer()
				start := time.Now()
				for i := 0; i < b.N; i++ {
					t0 := time.Now()
					if _, err := bucket.AppendRecords(in); err != nil {
						b.Fatal(err)
					}
					if d := time.Since(t0); d > slow {
						waits++
						waited += d
						worst = max(worst, d)
					}
				}
				total := time.Since(start)
				b.StopTimer()
				b.ReportMetric(float64(waits), "slow-puts")
				b.ReportMetric(100*waited.Seconds()/total.Seconds(), "slow-%time")
				b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
			})
		}
	}
}
