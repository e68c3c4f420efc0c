package wal

import (
	"testing"
	"time"
)

func BenchmarkWriteSyncEveryWrite100B(b *testing.B) { benchmarkWrite(b, SyncEveryWrite, 100, false) }
func BenchmarkWriteSyncEveryWrite1K(b *testing.B)   { benchmarkWrite(b, SyncEveryWrite, 1024, false) }
func BenchmarkWriteSyncEveryWrite64K(b *testing.B)  { benchmarkWrite(b, SyncEveryWrite, 64<<10, false) }
func BenchmarkWriteSyncInterval100B(b *testing.B) {
	benchmarkWrite(b, SyncInterval(10*time.Millisecond), 100, false)
}
func BenchmarkWriteSyncInterval1K(b *testing.B) {
	benchmarkWrite(b, SyncInterval(10*time.Millisecond), 1024, false)
}
func BenchmarkWriteSyncInterval64K(b *testing.B) {
	benchmarkWrite(b, SyncInterval(10*time.Millisecond), 64<<10, false)
}

// Parallel writers under SyncEveryWrite: what group commit buys.
func BenchmarkWriteParallelSyncEveryWrite100B(b *testing.B) {
	benchmarkWrite(b, SyncEveryWrite, 100, true)
}
func BenchmarkWriteParallelSyncEveryWrite1K(b *testing.B) {
	benchmarkWrite(b, SyncEveryWrite, 1024, true)
}

func benchmarkWrite(b *testing.B, policy SyncPolicy, size int, parallel bool) {
	l, err := Open(b.TempDir(), Options{Sync: policy, Logger: b.Logf})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	p := payload(1, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	if !parallel {
		for b.Loop() {
			if _, err := l.Write(p); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Write(p); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
