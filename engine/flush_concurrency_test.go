package engine

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// holdFlush makes b's flushes stop after taking their rows, before writing
// them, until the returned release is called; entered receives once per
// flush that stopped there.
func holdFlush(b *Bucket) (entered <-chan struct{}, release func()) {
	in := make(chan struct{}, 16)
	gate := make(chan struct{})
	b.beforeFlushWrite = func() {
		in <- struct{}{}
		<-gate
	}
	var once sync.Once
	return in, func() { once.Do(func() { close(gate) }) }
}

// noWait fails the test when fn does not return while a flush is held:
// appends and reads must not wait for a flush's write. (The bound is a
// deadlock guard, not a speed assertion.)
func noWait(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("%s waited for the running flush", what)
	}
}

// TestAppendsAndReadsDuringFlush: while a flush is writing rows 0..19,
// Arrow and records appends go on, and reads see every row once, in order;
// once it commits, rows 0..19 are persisted and only the later rows stay
// buffered - also after a crash and reopen (WAL), which replays exactly them.
func TestAppendsAndReadsDuringFlush(t *testing.T) {
	for _, wal := range []WALOptions{{}, {Enabled: true, SyncInterval: time.Second}, {Enabled: true}} {
		t.Run(fmtWAL(wal), func(t *testing.T) {
			dir := t.TempDir()
			b, err := Open(Options{Path: dir, FlushThreshold: 1000, WAL: wal, Logger: t.Logf})
			if err != nil {
				t.Fatal(err)
			}
			appendRows(t, b, 0, 10)
			appendRecords(t, b, testRecords(10, 10))
			entered, release := holdFlush(b)
			defer release()
			flushed := make(chan error, 1)
			go func() { flushed <- b.Flush() }()
			<-entered

			noWait(t, "appends", func() {
				appendRecords(t, b, testRecords(20, 5))
				appendRows(t, b, 25, 5)
				appendRecords(t, b, testRecord(30))
			})
			noWait(t, "reads", func() {
				if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, 31)) {
					t.Errorf("read during the flush: %v", got)
				}
				if got := readIDs(t, b, 15, 10); !equalInts(got, seq(15, 10)) {
					t.Errorf("read 15..24 during the flush: %v", got)
				}
				if total, persisted, _, err := b.Counts(); err != nil || total != 31 || persisted != 0 {
					t.Errorf("Counts during the flush = %d total, %d persisted, %v", total, persisted, err)
				}
			})
			release()
			if err := <-flushed; err != nil {
				t.Fatal(err)
			}
			if total, persisted, buffered, err := b.Counts(); err != nil || total != 31 || persisted != 20 || buffered != 11 {
				t.Fatalf("Counts after the flush = %d, %d, %d, %v; want 31, 20, 11", total, persisted, buffered, err)
			}
			if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, 31)) {
				t.Fatalf("read after the flush: %v", got)
			}
			if !wal.Enabled {
				if err := b.Close(); err != nil {
					t.Fatal(err)
				}
				return
			}
			crash(t, b)
			b, err = Open(Options{Path: dir, FlushThreshold: 1000, WAL: wal, Logger: t.Logf})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if s, err := b.Stats(); err != nil || s.PersistedCount != 20 || s.BufferCount != 11 {
				t.Fatalf("after the crash: Stats = %+v, %v; want 20 persisted, 11 replayed", s, err)
			}
			if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, 31)) {
				t.Fatalf("after the crash: %v", got)
			}
		})
	}
}

// TestFailedFlushWhileAppending: a flush that fails while rows are appended
// drops nothing; the next flush writes all of them, in order.
func TestFailedFlushWhileAppending(t *testing.T) {
	dir := t.TempDir()
	b := openWALBucket(t, dir, 1000, time.Second)
	defer b.Close()
	appendRows(t, b, 0, 10)
	ds := b.opts.datasetPath()
	b.beforeFlushWrite = func() {
		appendRecords(t, b, testRecords(10, 5))
		// The dataset path taken by a file makes the write fail.
		if err := os.WriteFile(ds, []byte("x"), 0o644); err != nil {
			t.Error(err)
		}
	}
	if err := b.Flush(); err == nil {
		t.Fatal("flush into a file succeeded")
	}
	b.beforeFlushWrite = nil
	if err := os.Remove(ds); err != nil {
		t.Fatal(err)
	}
	if total, persisted, _, err := b.Counts(); err != nil || total != 15 || persisted != 0 {
		t.Fatalf("Counts after the failed flush = %d total, %d persisted, %v", total, persisted, err)
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, 15)) {
		t.Fatalf("after the retried flush: %v", got)
	}
}

// TestSchemaChangeDuringFlush: a batch that adds a field while a flush is
// writing waits for it, then lands after every earlier row.
func TestSchemaChangeDuringFlush(t *testing.T) {
	b, err := Open(Options{Path: t.TempDir(), FlushThreshold: 1000, SchemaEvolution: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	appendBatch := func(kv ...any) {
		rec := batch(t, kv...)
		defer rec.Release()
		if err := b.Append(rec); err != nil {
			t.Error(err)
		}
	}
	appendBatch("a", int64(1))
	entered, release := holdFlush(b)
	flushed := make(chan error, 1)
	go func() { flushed <- b.Flush() }()
	<-entered
	appendBatch("a", int64(2))
	evolved := make(chan struct{})
	go func() { defer close(evolved); appendBatch("a", int64(3), "b", "x") }()
	appendBatch("a", int64(4)) // may land before or after the evolving batch: both are checked
	release()
	<-evolved
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	got := rowsOf(t, b)
	want1 := []string{"a=1 b=(null) ", "a=2 b=(null) ", "a=3 b=x ", "a=4 b=(null) "}
	want2 := []string{"a=1 b=(null) ", "a=2 b=(null) ", "a=4 b=(null) ", "a=3 b=x "}
	if fmt.Sprint(got) != fmt.Sprint(want1) && fmt.Sprint(got) != fmt.Sprint(want2) {
		t.Fatalf("rows %q", got)
	}
}

// TestAppendsReadsFlushesRace: writers (Arrow and records), readers,
// explicit flushes and automatic ones at a small threshold, all at once.
// Every read sees each writer's rows once, in order, as a prefix of what it
// wrote; at the end (and after a reopen) every row is there.
func TestAppendsReadsFlushesRace(t *testing.T) {
	for _, wal := range []WALOptions{{}, {Enabled: true, SyncInterval: time.Millisecond}} {
		t.Run(fmtWAL(wal), func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{Path: dir, FlushThreshold: 40, WAL: wal, Logger: t.Logf}
			b, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			b.beforeFlushWrite = func() { time.Sleep(time.Millisecond) } // widen the window
			const writers, batches, per = 3, 40, 5
			start := func(w int) int64 { return int64(w) * 1_000_000 }
			appendRows(t, b, start(writers), 1) // fixes the schema for records
			var wg sync.WaitGroup
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := int64(0); i < batches; i++ {
						first := start(w) + i*per
						if w == 0 {
							appendRows(t, b, first, per)
							continue
						}
						if _, err := b.AppendRecords(pyMarshal(t, testRecords(first, per))); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			stop := make(chan struct{})
			var bg sync.WaitGroup
			bg.Add(2)
			go func() {
				defer bg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					checkWriterOrder(t, readIDs(t, b, 0, -1), writers, start, batches*per)
				}
			}()
			go func() {
				defer bg.Done()
				for {
					select {
					case <-stop:
						return
					case <-time.After(2 * time.Millisecond):
					}
					if err := b.Flush(); err != nil {
						t.Error(err)
					}
				}
			}()
			wg.Wait()
			close(stop)
			bg.Wait()
			all := readIDs(t, b, 0, -1)
			if counts := checkWriterOrder(t, all, writers, start, batches*per); len(all) != writers*batches*per+1 {
				t.Fatalf("%d rows, per writer %v", len(all), counts)
			}
			b = reopen(t, b, opts)
			if got := readIDs(t, b, 0, -1); !equalInts(got, all) {
				t.Fatalf("after reopen: %d rows, want %d in the same order", len(got), len(all))
			}
		})
	}
}

// checkWriterOrder checks that ids holds, for each writer, a prefix of its
// rows in order with none twice, and returns how many rows each has.
func checkWriterOrder(t *testing.T, ids []int64, writers int, start func(int) int64, n int64) []int64 {
	t.Helper()
	next := make([]int64, writers+1)
	for w := range next {
		next[w] = start(w)
	}
	for _, id := range ids {
		w := int(id / 1_000_000)
		if w > writers || id != next[w] {
			t.Errorf("row %d out of order or twice (writer %d expected %d next)", id, w, next[w])
			return nil
		}
		next[w]++
	}
	counts := make([]int64, writers)
	for w := range counts {
		counts[w] = next[w] - start(w)
		if counts[w] > n {
			t.Errorf("writer %d has %d rows, wrote %d", w, counts[w], n)
		}
	}
	return counts
}

// TestAppendsStayBoundedDuringFlush: appends of either kind go on during a
// flush, but one that would take the buffer past twice the threshold waits
// for it (back-pressure), so the buffer cannot grow without bound. The test
// learns that the append waits from the hook it calls before waiting, not
// from a clock.
func TestAppendsStayBoundedDuringFlush(t *testing.T) {
	for _, kind := range []string{"arrow", "records"} {
		t.Run(kind, func(t *testing.T) {
			b := openBucket(t, t.TempDir(), 10)
			defer b.Close()
			put := func(first, n int64) {
				if kind == "arrow" || first == 0 {
					appendRows(t, b, first, n)
				} else {
					appendRecords(t, b, testRecords(first, n))
				}
			}
			entered, release := holdFlush(b)
			defer release()
			waiting := make(chan struct{}, 1)
			b.onBackPressure = func() { waiting <- struct{}{} }
			put(0, 5)
			put(5, 5) // reaches the threshold: a background flush takes rows 0..9
			<-entered
			put(10, 5) // below twice the threshold: no wait
			acked := make(chan struct{})
			go func() {
				defer close(acked)
				put(15, 10) // would make 25 buffered: waits for the held flush
			}()
			<-waiting // the append is about to wait ...
			select {
			case <-acked: // ... so it cannot have returned
				t.Fatal("an append past twice the threshold returned during a held flush")
			default:
			}
			release()
			<-acked
			b.waitBackgroundFlush()
			if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, 25)) {
				t.Fatalf("rows %v", got)
			}
			if _, persisted, _, err := b.Counts(); err != nil || persisted < 10 {
				t.Fatalf("persisted %d, %v", persisted, err)
			}
		})
	}
}

// TestBackPressureFlushFails: an append that waited for a flush that failed
// still stores its rows and says so with ErrNotFlushed; the next flush
// writes everything.
func TestBackPressureFlushFails(t *testing.T) {
	b := openBucket(t, t.TempDir(), 10)
	defer b.Close()
	ds := b.opts.datasetPath()
	entered, release := holdFlush(b)
	appendRows(t, b, 0, 10) // the threshold: a background flush takes rows 0..9
	<-entered
	// The dataset path taken by a file makes the held flush fail.
	if err := os.WriteFile(ds, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	waiting := make(chan struct{}, 1)
	b.onBackPressure = func() { waiting <- struct{}{} }
	done := make(chan error, 1)
	go func() {
		rec := makeRows(t, memory.DefaultAllocator, 10, 15)
		defer rec.Release()
		done <- b.Append(rec)
	}()
	<-waiting
	release()
	if err := <-done; !errors.Is(err, ErrNotFlushed) {
		t.Fatalf("append after a failed flush: %v, want ErrNotFlushed", err)
	}
	b.waitBackgroundFlush()
	if s, err := b.Stats(); err != nil || s.FlushError == "" || s.BufferCount != 25 {
		t.Fatalf("Stats after the failed flush = %+v, %v; want its error and 25 rows buffered", s, err)
	}
	if err := os.Remove(ds); err != nil {
		t.Fatal(err)
	}
	b.beforeFlushWrite = nil
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, 25)) {
		t.Fatalf("rows %v", got)
	}
	if s, err := b.Stats(); err != nil || s.FlushError != "" {
		t.Fatalf("Stats after a flush succeeded = %+v, %v; want no flush_error", s, err)
	}
}

// TestEmptyAppendDoesNotFlush: only an append that adds rows starts a flush
// at the threshold; an empty batch (the Python backend sends one at open)
// leaves rows replayed or put as records where they are.
func TestEmptyAppendDoesNotFlush(t *testing.T) {
	b := openBucket(t, t.TempDir(), 3)
	defer b.Close()
	appendRows(t, b, 0, 1)
	appendRecords(t, b, testRecord(1))
	appendRows(t, b, 2, 0)
	b.waitBackgroundFlush()
	if _, persisted, buffered, err := b.Counts(); err != nil || persisted != 0 || buffered != 2 {
		t.Fatalf("after an empty append: %d persisted, %d buffered, %v; want 0, 2", persisted, buffered, err)
	}
	appendRecords(t, b, testRecord(2)) // the threshold, on the records path too
	b.waitBackgroundFlush()
	if _, persisted, buffered, err := b.Counts(); err != nil || persisted != 3 || buffered != 0 {
		t.Fatalf("after a row at the threshold: %d persisted, %d buffered, %v; want 3, 0", persisted, buffered, err)
	}
}
