package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

func take(t *testing.T, b *Bucket, task string, n int64) []int64 {
	t.Helper()
	got, err := b.TakeUnconsumed(task, []string{"id"}, n)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestConsumptionPerTask(t *testing.T) {
	b := openBucket(t, t.TempDir(), 1000)
	defer b.Close()
	appendRows(t, b, 0, 10)

	if got := take(t, b, "a", 4); !equalInts(got, seq(0, 4)) {
		t.Fatalf("a first batch = %v", got)
	}
	if got := take(t, b, "b", 2); !equalInts(got, seq(0, 2)) {
		t.Fatalf("task b is independent of a: %v", got)
	}
	if err := b.MarkConsumed("a", []int64{5, 7}); err != nil {
		t.Fatal(err)
	}
	if got := take(t, b, "a", 10); !equalInts(got, []int64{4, 6, 8, 9}) {
		t.Fatalf("a skips marked indexes: %v", got)
	}
	if got := take(t, b, "a", 10); len(got) != 0 {
		t.Fatalf("a has consumed everything: %v", got)
	}
	appendRows(t, b, 10, 2)
	if got := take(t, b, "a", 10); !equalInts(got, []int64{10, 11}) {
		t.Fatalf("new rows are handed out: %v", got)
	}
	if err := b.ResetConsumption("a"); err != nil {
		t.Fatal(err)
	}
	if got := take(t, b, "a", 3); !equalInts(got, seq(0, 3)) {
		t.Fatalf("after reset: %v", got)
	}
	ranges, err := b.ReadyRanges("b", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ranges) != 1 || ranges[0] != [2]int64{2, 12} {
		t.Fatalf("b ready = %v", ranges)
	}
}

func TestClearSkipsIndexesAndKeepsOthers(t *testing.T) {
	b := openBucket(t, t.TempDir(), 1000)
	defer b.Close()
	appendRows(t, b, 0, 10)
	take(t, b, "a", 2)
	if err := b.Clear([]int64{2, 3, 8}); err != nil {
		t.Fatal(err)
	}
	if got := take(t, b, "a", 100); !equalInts(got, []int64{4, 5, 6, 7, 9}) {
		t.Fatalf("existing task skips cleared: %v", got)
	}
	if got := take(t, b, "new", 100); !equalInts(got, []int64{0, 1, 4, 5, 6, 7, 9}) {
		t.Fatalf("new task skips cleared: %v", got)
	}
	if err := b.ResetConsumption("a"); err != nil {
		t.Fatal(err)
	}
	ranges, err := b.ReadyRanges("a", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]int64{{0, 2}, {4, 8}, {9, 10}}
	if len(ranges) != len(want) {
		t.Fatalf("ready after reset = %v", ranges)
	}
	for i := range want {
		if ranges[i] != want[i] {
			t.Fatalf("ready after reset = %v, want %v", ranges, want)
		}
	}
	live, err := b.LiveIndexes([]int64{9, -1, 2, 0, 10, 8, 4})
	if err != nil {
		t.Fatal(err)
	}
	if !equalInts(live, []int64{9, 0, 4}) {
		t.Fatalf("live = %v", live)
	}
	// Indexes are offsets: clearing moves nothing.
	if got := readIDs(t, b, 9, 1); !equalInts(got, []int64{9}) {
		t.Fatalf("row 9 = %v", got)
	}
}

func TestConsumptionBadInput(t *testing.T) {
	b := openBucket(t, t.TempDir(), 1000)
	defer b.Close()
	appendRows(t, b, 0, 5)
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"negative index", func() error { return b.MarkConsumed("a", []int64{1, -1}) }},
		{"index past the end", func() error { return b.MarkConsumed("a", []int64{5}) }},
		{"clear past the end", func() error { return b.Clear([]int64{0, 99}) }},
		{"empty task", func() error { return b.MarkConsumed("", []int64{1}) }},
		{"task not UTF-8, mark", func() error { return b.MarkConsumed("a\xff", []int64{1}) }},
		{"task not UTF-8, take", func() error { _, err := b.TakeUnconsumed("\xfe", nil, 1); return err }},
		{"task not UTF-8, ready", func() error { _, err := b.ReadyRanges("\xc3", nil); return err }},
		{"task not UTF-8, reset", func() error { return b.ResetConsumption("\xff\xff") }},
		{"negative batch", func() error { _, err := b.TakeUnconsumed("a", nil, -1); return err }},
		{"unknown field", func() error { _, err := b.TakeUnconsumed("a", []string{"id", "nope"}, 1); return err }},
		{"unknown field, ready", func() error { _, err := b.ReadyRanges("a", []string{"nope"}); return err }},
	} {
		if err := tc.call(); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: err = %v, want ErrInvalidArgument", tc.name, err)
		}
	}
	// A refused call changed nothing.
	if got := take(t, b, "a", 10); !equalInts(got, seq(0, 5)) {
		t.Fatalf("after refusals: %v", got)
	}
	if n, _ := b.ClearedCount(); n != 0 {
		t.Fatalf("cleared %d", n)
	}
}

// A bucket that stored nothing has no schema: a consumer polling for fields
// gets an empty batch, as from pulsing's MemoryBackend, not "unknown field";
// once records exist, the names are checked and the batch is handed out.
func TestConsumptionBeforeTheFirstRecord(t *testing.T) {
	b := openBucket(t, t.TempDir(), 1000)
	defer b.Close()
	for _, tc := range []struct {
		name string
		call func() (int, error)
	}{
		{"take", func() (int, error) {
			got, err := b.TakeUnconsumed("a", []string{"id", "later"}, 4)
			return len(got), err
		}},
		{"ready", func() (int, error) { got, err := b.ReadyRanges("a", []string{"later"}); return len(got), err }},
		{"check", func() (int, error) { return 0, b.CheckFields([]string{"later"}) }},
	} {
		if n, err := tc.call(); n != 0 || err != nil {
			t.Errorf("%s on an empty bucket = %d, %v; want nothing and no error", tc.name, n, err)
		}
	}
	appendRows(t, b, 0, 3)
	if _, err := b.TakeUnconsumed("a", []string{"id", "later"}, 4); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("unknown field once the schema exists: err = %v", err)
	}
	if got := take(t, b, "a", 4); !equalInts(got, seq(0, 3)) {
		t.Fatalf("the polls consumed nothing: %v", got)
	}
}

func TestConsumptionSurvivesReopen(t *testing.T) {
	for _, wal := range []bool{false, true} {
		dir := t.TempDir()
		open := func() *Bucket {
			b, err := Open(Options{Path: dir, FlushThreshold: 1000, WAL: WALOptions{Enabled: wal}})
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		b := open()
		appendRows(t, b, 0, 10)
		take(t, b, "a", 3)
		if err := b.MarkConsumed("b", []int64{9}); err != nil {
			t.Fatal(err)
		}
		if err := b.Clear([]int64{4}); err != nil {
			t.Fatal(err)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		b = open()
		if got := take(t, b, "a", 100); !equalInts(got, []int64{3, 5, 6, 7, 8, 9}) {
			t.Fatalf("wal=%v: a after reopen: %v", wal, got)
		}
		if got := take(t, b, "b", 100); !equalInts(got, []int64{0, 1, 2, 3, 5, 6, 7, 8}) {
			t.Fatalf("wal=%v: b after reopen: %v", wal, got)
		}
		b.Close()
	}
}

// A crash in the middle of writing an entry leaves a torn tail: reopening
// keeps every whole entry and cuts the rest.
func TestConsumptionLogTornTail(t *testing.T) {
	dir := t.TempDir()
	b := openBucket(t, dir, 1000)
	appendRows(t, b, 0, 10)
	take(t, b, "a", 2)
	take(t, b, "a", 2)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, ConsumptionLogName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	entries, good := readConsumptionLog(data)
	if len(entries) != 2 || good != len(data) {
		t.Fatalf("log has %d entries, %d of %d bytes good", len(entries), good, len(data))
	}
	for _, cut := range []int{1, consumptionEntryHeader + 1, len(data)/2 - 1} { // both entries are the same size
		if err := os.WriteFile(path, data[:len(data)-cut], 0o644); err != nil {
			t.Fatal(err)
		}
		b = openBucket(t, dir, 1000)
		if got := take(t, b, "a", 3); !equalInts(got, []int64{2, 3, 4}) {
			t.Fatalf("cut %d: after a torn second entry: %v", cut, got)
		}
		b.Close()
	}
	// A flipped bit in the payload is caught by the checksum.
	bad := append([]byte(nil), data...)
	bad[len(bad)-1] ^= 0x40
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	b = openBucket(t, dir, 1000)
	if got := take(t, b, "a", 3); !equalInts(got, []int64{2, 3, 4}) {
		t.Fatalf("after a corrupt second entry: %v", got)
	}
	b.Close()
}

// A long log (written by a version that compacted it only at open) is
// compacted when the bucket opens.
func TestConsumptionLogCompactedAtOpen(t *testing.T) {
	dir := t.TempDir()
	b := openBucket(t, dir, 100_000)
	appendRows(t, b, 0, consumptionLogCompactEntries+10)
	b.Close()
	var long []consumptionEntry
	for i := uint32(0); i < consumptionLogCompactEntries+5; i++ {
		long = append(long, consumptionEntry{op: opMark, task: "a", indexes: offsetSetOf(int64(i))})
	}
	data, err := encodeConsumptionEntries(long)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ConsumptionLogName), data, 0o644); err != nil {
		t.Fatal(err)
	}
	b = openBucket(t, dir, 100_000)
	if got := take(t, b, "a", 2); !equalInts(got, seq(consumptionLogCompactEntries+5, 2)) {
		t.Fatalf("after compaction: %v", got)
	}
	b.Close()
	data, _ = os.ReadFile(filepath.Join(dir, ConsumptionLogName))
	if entries, _ := readConsumptionLog(data); len(entries) > 4 {
		t.Fatalf("log not compacted: %d entries", len(entries))
	}
}

// TestConsumptionLogBoundedWhileOpen: a bucket that stays open (months
// of get_meta without a restart) keeps its log the size of its state: it is
// rewritten once it passes consumptionLogCompactEntries entries, not only
// at open, and the state it holds survives a reopen (tasks reset midway
// included).
func TestConsumptionLogBoundedWhileOpen(t *testing.T) {
	dir := t.TempDir()
	b := openBucket(t, dir, 100_000)
	const changes = 3*consumptionLogCompactEntries + 7
	appendRows(t, b, 0, changes+10)
	path := filepath.Join(dir, ConsumptionLogName)
	for i := 0; i < changes; i++ {
		take(t, b, "a", 1)
		if i%1000 == 0 { // task b: marked, then forgotten
			if err := b.MarkConsumed("b", []int64{int64(i)}); err != nil {
				t.Fatal(err)
			}
			if err := b.ResetConsumption("b"); err != nil {
				t.Fatal(err)
			}
		}
		if i%500 == 0 {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if entries, _ := readConsumptionLog(data); len(entries) > consumptionLogCompactEntries+1 {
				t.Fatalf("after %d changes the log holds %d entries", i+1, len(entries))
			}
		}
	}
	if err := b.MarkConsumed("b", []int64{5}); err != nil {
		t.Fatal(err)
	}
	b.Close()
	b = openBucket(t, dir, 100_000)
	defer b.Close()
	if got := take(t, b, "a", 2); !equalInts(got, seq(changes, 2)) {
		t.Fatalf("task a after reopen: %v", got)
	}
	if got := take(t, b, "b", 6); !equalInts(got, []int64{0, 1, 2, 3, 4, 6}) {
		t.Fatalf("task b after reopen: %v", got)
	}
}

// Tasks that come and go (a new name per epoch or per sampler, each reset
// when done, as pulsing's BucketStorage.reset_consumption does) leave no
// state behind; tasks alive at once make a state longer than the log's
// compaction threshold, and the log is then rewritten about once per
// state's worth of changes, not at every change (which made each change
// cost the whole state: 2,000 rounds of new tasks took 100 s, not 6 s).
func TestConsumptionStateBoundedByLiveTasks(t *testing.T) {
	dir := t.TempDir()
	b := openBucket(t, dir, 100_000)
	appendRows(t, b, 0, 100)
	path := filepath.Join(dir, ConsumptionLogName)
	rewrites, last := 0, os.FileInfo(nil)
	countRewrite := func() { // a rewrite renames a new file over the log
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if last != nil && !os.SameFile(last, fi) {
			rewrites++
		}
		last = fi
	}
	const live = consumptionLogCompactEntries/2 + 50 // 2 entries per task: a state longer than the threshold
	for i := 0; i < live; i++ {
		if err := b.MarkConsumed(fmt.Sprintf("live-%d", i), []int64{int64(i % 100)}); err != nil {
			t.Fatal(err)
		}
		countRewrite()
	}
	const changes = 2 * consumptionLogCompactEntries
	for i := 0; i < changes; i++ {
		task := fmt.Sprintf("epoch-%d", i)
		take(t, b, task, 3)
		if err := b.ResetConsumption(task); err != nil {
			t.Fatal(err)
		}
		countRewrite()
	}
	b.consumption.mu.Lock()
	tasks := len(b.consumption.tasks)
	b.consumption.mu.Unlock()
	if tasks != live {
		t.Fatalf("%d tasks in memory, want the %d not reset", tasks, live)
	}
	// live+2*changes entries appended in all: one rewrite at the threshold,
	// then one each time the log doubles the state (2*live+1 entries) it
	// was rewritten to: every rewrite after the first is paid for by a
	// state's worth of changes (before: one rewrite per change, 14,386).
	appended := live + 2*changes
	if most := 1 + appended/(2*live); rewrites > most {
		t.Fatalf("the log was rewritten %d times in %d changes, at most %d expected", rewrites, appended, most)
	}
	b.Close()
	b = openBucket(t, dir, 100_000)
	defer b.Close()
	b.consumption.mu.Lock()
	tasks = len(b.consumption.tasks)
	b.consumption.mu.Unlock()
	if tasks != live {
		t.Fatalf("%d tasks after reopen, want %d", tasks, live)
	}
	if got := take(t, b, "live-7", 2); !equalInts(got, []int64{0, 1}) {
		t.Fatalf("live-7 after reopen: %v", got)
	}
	if got := take(t, b, "epoch-5", 2); !equalInts(got, []int64{0, 1}) {
		t.Fatalf("a reset task starts over: %v", got)
	}
	data, _ := os.ReadFile(path)
	if entries, _ := readConsumptionLog(data); len(entries) > 2*(2*live+1)+consumptionLogCompactEntries {
		t.Fatalf("log holds %d entries for %d tasks", len(entries), live)
	}
}

// Concurrent takers of one task never receive the same index.
func TestTakeUnconsumedConcurrent(t *testing.T) {
	b := openBucket(t, t.TempDir(), 100_000)
	defer b.Close()
	appendRows(t, b, 0, 2000)
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				got, err := b.TakeUnconsumed("t", nil, 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, i := range got {
					if seen[i] {
						t.Errorf("index %d handed out twice", i)
					}
					seen[i] = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 2000 {
		t.Fatalf("handed out %d of 2000", len(seen))
	}
}

func TestConsumptionClosed(t *testing.T) {
	b := openBucket(t, t.TempDir(), 1000)
	appendRows(t, b, 0, 3)
	take(t, b, "a", 1)
	b.Close()
	if _, err := b.TakeUnconsumed("a", nil, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

// BenchmarkTakeUnconsumed1M900k: one task has consumed 900k of 1M records;
// each iteration hands out a batch of 256 (and resets when none are left, so
// the state stays near 900k consumed). Cost must not depend on the 900k.
func BenchmarkTakeUnconsumed1M900k(b *testing.B) {
	bk, err := Open(Options{Path: b.TempDir(), FlushThreshold: 2_000_000})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		b.StopTimer() // closing flushes the 1M records: not part of a take
		bk.Close()
	}()
	for i := int64(0); i < 1_000_000; i += 100_000 {
		rec := makeRows(b, memory.DefaultAllocator, i, 100_000)
		if err := bk.Append(rec); err != nil {
			b.Fatal(err)
		}
		rec.Release()
	}
	consumed := make([]int64, 900_000)
	for i := range consumed {
		consumed[i] = int64(i)
	}
	if err := bk.MarkConsumed("train", consumed); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		got, err := bk.TakeUnconsumed("train", []string{"id"}, 256)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) == 0 {
			b.StopTimer()
			if err := bk.ResetConsumption("train"); err != nil {
				b.Fatal(err)
			}
			if err := bk.MarkConsumed("train", consumed); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	}
}

// Without a WAL, buffered records die with the process while the log keeps
// what was handed out: at reopen the log forgets indexes past the end, so the
// records that take those indexes next are handed out.
func TestConsumptionForgetsLostRecords(t *testing.T) {
	dir := t.TempDir()
	b := openBucket(t, dir, 1000)
	appendRows(t, b, 0, 4)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	appendRows(t, b, 4, 4) // buffered only
	take(t, b, "a", 6)
	if err := b.Clear([]int64{2}); err != nil { // a flushed record: nothing else is flushed
		t.Fatal(err)
	}
	// Simulate the kill: copy the directory as it is now (flushed data, the
	// log as written), without closing - which would flush the buffer.
	lost := t.TempDir()
	copyTree(t, dir, lost)
	b.Close()

	b = openBucket(t, lost, 1000)
	appendRows(t, b, 100, 4) // new records at indexes 4..7
	if got := take(t, b, "a", 10); !equalInts(got, seq(4, 4)) {
		t.Fatalf("new records at lost indexes: %v", got)
	}
	if live, _ := b.LiveIndexes([]int64{2, 7}); !equalInts(live, []int64{7}) {
		t.Fatalf("live of 2 (cleared) and 7 (new): %v", live)
	}
	b.Close()
	b = openBucket(t, lost, 1000) // and the log no longer names them
	if got := take(t, b, "fresh", 10); !equalInts(got, []int64{0, 1, 3, 4, 5, 6, 7}) {
		t.Fatalf("after reopen: %v", got)
	}
	b.Close()
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if info.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Reading consumption state leaves no file behind; the first change creates it.
func TestConsumptionLogCreatedByFirstChange(t *testing.T) {
	dir := t.TempDir()
	b := openBucket(t, dir, 1000)
	defer b.Close()
	appendRows(t, b, 0, 3)
	path := filepath.Join(dir, ConsumptionLogName)
	if _, err := b.LiveIndexes([]int64{0, 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ReadyRanges("a", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("reads created %s: %v", path, err)
	}
	take(t, b, "a", 1)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("a change did not create the log: %v", err)
	}
}

// TestConsumptionReadOnly: a read-only handle reads the state another
// process keeps but changes none of it (clear included).
func TestConsumptionReadOnly(t *testing.T) {
	dir := t.TempDir()
	b := openBucket(t, dir, 1000)
	appendRows(t, b, 0, 5)
	take(t, b, "a", 2)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	// The writer's last entry, half written: a reader must not cut it.
	logPath := filepath.Join(dir, ConsumptionLogName)
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{9, 0, 0, 0, 1})
	f.Close()
	before, _ := os.Stat(logPath)
	ro, err := Open(Options{Path: dir, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	for name, call := range map[string]func() error{
		"take":  func() error { _, err := ro.TakeUnconsumed("a", nil, 1); return err },
		"mark":  func() error { return ro.MarkConsumed("a", []int64{3}) },
		"reset": func() error { return ro.ResetConsumption("a") },
		"clear": func() error { return ro.Clear([]int64{3}) },
	} {
		if err := call(); !errors.Is(err, ErrReadOnly) {
			t.Errorf("%s: %v, want ErrReadOnly", name, err)
		}
	}
	if r, err := ro.ReadyRanges("a", nil); err != nil || len(r) != 1 || r[0] != [2]int64{2, 5} {
		t.Fatalf("ready %v (%v)", r, err)
	}
	if after, _ := os.Stat(logPath); after.Size() != before.Size() {
		t.Fatalf("a read-only handle changed the log: %d bytes, was %d", after.Size(), before.Size())
	}
	b.Close()
}
