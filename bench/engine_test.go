// Package bench holds Go benchmarks of the engine shaped like bench/bench.py's
// measurements (64k-row batches of 8 mixed columns, 1M rows in 1k-row
// fragments), so the Python-side gaps can be profiled without Python:
//
//	go test -run XXX -bench . -benchtime 1s -cpuprofile cpu.out ./bench
//	go tool pprof -top bench.test cpu.out
package bench

import (
	"fmt"
	"math/rand"
	"os"
	"sync"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/engine"
	"github.com/persisting/persisting/internal/queuebatch"
)

func recordBytes(rec arrow.Record) int64 {
	var n int64
	for _, c := range rec.Columns() {
		for _, b := range c.Data().Buffers() {
			if b != nil {
				n += int64(b.Len())
			}
		}
	}
	return n
}

func open(b *testing.B, path string, threshold int) *engine.Bucket {
	bucket, err := engine.Open(engine.Options{Path: path, FlushThreshold: threshold})
	if err != nil {
		b.Fatal(err)
	}
	return bucket
}

// BenchmarkAppendFlush64k is bench.py's measurement 1 without Python: one
// 64k-row batch appended and flushed (a new fragment and version) per op.
func BenchmarkAppendFlush64k(b *testing.B) {
	rec := queuebatch.Batch(65536, 0, 1)
	defer rec.Release()
	bucket := open(b, b.TempDir(), 1<<30)
	defer bucket.Close()
	b.SetBytes(recordBytes(rec))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := bucket.Append(rec); err != nil {
			b.Fatal(err)
		}
		if err := bucket.Flush(); err != nil {
			b.Fatal(err)
		}
	}
}

// fragmented is a bucket directory of fragRows-row fragments built once per
// size and shared by the read benchmarks.
var (
	fragOnce sync.Map // rows -> *fragFixture
	fixtures []string
	fixMu    sync.Mutex
)

type fragFixture struct {
	once sync.Once
	path string
	err  error
}

func fragmented(b *testing.B, rows int64) string {
	v, _ := fragOnce.LoadOrStore(rows, &fragFixture{})
	f := v.(*fragFixture)
	f.once.Do(func() {
		dir, err := os.MkdirTemp("", "persisting-bench-go-")
		if err != nil {
			f.err = err
			return
		}
		fixMu.Lock()
		fixtures = append(fixtures, dir)
		fixMu.Unlock()
		bucket, err := engine.Open(engine.Options{Path: dir, FlushThreshold: 1000})
		if err != nil {
			f.err = err
			return
		}
		big := queuebatch.Batch(100_000, 0, 99)
		defer big.Release()
		for done := int64(0); done < rows; done += 1000 {
			start := done % big.NumRows()
			s := big.NewSlice(start, start+min(1000, rows-done))
			err = bucket.Append(s) // FlushThreshold 1000: one fragment each
			s.Release()
			if err != nil {
				f.err = err
				return
			}
		}
		f.err = bucket.Close()
		f.path = dir
	})
	if f.err != nil {
		b.Fatal(f.err)
	}
	return f.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range fixtures {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// BenchmarkFlush1kInto is measurement 4: a flush of 1k rows into a dataset of
// 10k and 1M rows, both of 1k-row fragments.
func BenchmarkFlush1kInto(b *testing.B) {
	rec := queuebatch.Batch(1000, 0, 5)
	defer rec.Release()
	for _, rows := range []int64{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			// a copy: the flushes must not grow the shared fixture
			dir := b.TempDir()
			if err := os.CopyFS(dir, os.DirFS(fragmented(b, rows))); err != nil {
				b.Fatal(err)
			}
			bucket := open(b, dir, 1<<30)
			defer bucket.Close()
			b.SetBytes(recordBytes(rec))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				if err := bucket.Append(rec); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if err := bucket.Flush(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRead100Deep is measurement 5: 100 rows at deep offsets of 1M rows
// in 1000 fragments.
func BenchmarkRead100Deep(b *testing.B) {
	bucket := open(b, fragmented(b, 1_000_000), 1<<30)
	defer bucket.Close()
	rng := rand.New(rand.NewSource(3))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		off := 500_000 + rng.Int63n(499_900)
		_, recs, err := bucket.Read(off, 100, memory.DefaultAllocator)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range recs {
			r.Release()
		}
	}
}

// BenchmarkScan1M is measurement 6: all of 1M rows in 1000 fragments.
func BenchmarkScan1M(b *testing.B) {
	bucket := open(b, fragmented(b, 1_000_000), 1<<30)
	defer bucket.Close()
	var bytes int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, recs, err := bucket.Read(0, -1, memory.DefaultAllocator)
		if err != nil {
			b.Fatal(err)
		}
		if bytes == 0 {
			for _, r := range recs {
				bytes += recordBytes(r)
			}
		}
		for _, r := range recs {
			r.Release()
		}
	}
	b.SetBytes(bytes)
}
