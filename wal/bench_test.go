package wal

import (
	"encoding/binary"
	"os"
	"path/filepath"
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

// BenchmarkWriteFloor100B writes the entry Write writes for a 100-byte
// payload (uvarint length, frame) with one write(2) to a file and nothing
// else: the cost of SyncInterval100B without tidwall/wal, which also appends
// every entry to an in-memory copy of the whole tail segment (a growing
// slice: memmove, page faults and GC work per entry).
func BenchmarkWriteFloor100B(b *testing.B) {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), segmentName(1)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	frame := appendEntry(nil, payload(1, 100))
	rec := binary.AppendUvarint(nil, uint64(len(frame)))
	rec = append(rec, frame...)
	b.SetBytes(100)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Write(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteTruncatingBehind100B writes 100-byte entries under
// SyncInterval and, after every 1,000th, truncates the front up to the 100
// last: what the WAL does for a bucket that flushes every 1,000 puts while
// puts go on (bench.py 3b). The truncation's cost is spread over the puts.
func BenchmarkWriteTruncatingBehind100B(b *testing.B) {
	l, err := Open(b.TempDir(), Options{Sync: SyncInterval(time.Second), Logger: b.Logf})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	p := payload(1, 100)
	b.SetBytes(100)
	b.ReportAllocs()
	for b.Loop() {
		last, err := l.Write(p)
		if err != nil {
			b.Fatal(err)
		}
		if last%1000 == 0 {
			if err := l.TruncateFront(last - 99); err != nil {
				b.Fatal(err)
			}
		}
	}
}
