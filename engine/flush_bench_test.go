package engine

import (
	"testing"
	"time"
)

// benchmarkAppendRecordsWhileFlushing measures one put while another
// goroutine flushes every 1000 rows, as the Python backend's background
// flush does (bench.py 3: flush_threshold 1000): a put that arrives during
// a flush must not wait for its write.
func benchmarkAppendRecordsWhileFlushing(b *testing.B, wal WALOptions) {
	bucket := openPutBucket(b, wal)
	defer bucket.Close()
	in := pyMarshal(b, putRecord(1))
	due := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range due {
			if err := bucket.Flush(); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := bucket.AppendRecords(in); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			select {
			case due <- struct{}{}:
			default: // a flush is running; the next one takes these rows too
			}
		}
	}
	b.StopTimer()
	close(due)
	<-done
}

func BenchmarkAppendRecordsWhileFlushingNoWAL(b *testing.B) {
	benchmarkAppendRecordsWhileFlushing(b, WALOptions{})
}

func BenchmarkAppendRecordsWhileFlushingWALInterval(b *testing.B) {
	benchmarkAppendRecordsWhileFlushing(b, WALOptions{Enabled: true, SyncInterval: time.Second})
}
