package engine

import (
	"errors"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance"
)

// without returns seq(from, n) minus gone.
func without(from, n int64, gone ...int64) []int64 {
	drop := map[int64]bool{}
	for _, g := range gone {
		drop[g] = true
	}
	var out []int64
	for _, i := range seq(from, n) {
		if !drop[i] {
			out = append(out, i)
		}
	}
	return out
}

// TestClearDeletesRowsAndKeepsOffsets: cleared records leave the dataset
// (pylance no longer sees them) through deletion files, and every other
// record keeps its offset - after a reopen, after compaction rewrote the
// fragments with deletions, and after retention dropped records around a
// hole. Read(offset, limit) returns the live records at offsets
// [offset, offset+limit); total_count stays the next offset.
func TestClearDeletesRowsAndKeepsOffsets(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after func(t *testing.T, b *Bucket) *Bucket
		first int64 // first retained offset afterwards
	}{
		{"as cleared", func(t *testing.T, b *Bucket) *Bucket { return b }, 0},
		{"after reopen", func(t *testing.T, b *Bucket) *Bucket {
			b.Close()
			return openBucket(t, b.opts.Path, 100)
		}, 0},
		{"after compaction", func(t *testing.T, b *Bucket) *Bucket {
			if _, err := b.Compact(1000); err != nil {
				t.Fatal(err)
			}
			if n := b.currentDataset().NumFragments(); n != 1 {
				t.Fatalf("%d fragments after compaction", n)
			}
			return b
		}, 0},
		{"after retention of 100 rows", func(t *testing.T, b *Bucket) *Bucket {
			if err := b.applyRetention(time.Now()); err != nil { // RetentionRows: 325 live - 100
				t.Fatal(err)
			}
			return b
		}, 105}, // 0..104 hold 100 live records (1, 5, 50, 99, 100 cleared)
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A fake clock: the periodic pass (retention) must not run unless the case runs it;
			// on the real clock it fired when a loaded machine made the case last 10 s.
			opts, _, _ := withFakeTime(Options{Path: t.TempDir(), FlushThreshold: 100, Background: BackgroundOptions{
				MaxFlushDelay: -1, DisableMaintenance: true, RetentionRows: 325 - 100}})
			b, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { b.Close() }()
			appendRows(t, b, 0, 300) // three fragments of 100
			appendRows(t, b, 300, 35)
			cleared := []int64{1, 5, 50, 99, 100, 150, 151, 152, 310, 334}
			if err := b.Clear(cleared); err != nil { // 310 and 334 are buffered: flushed first
				t.Fatal(err)
			}
			b = tc.after(t, b)
			first := tc.first
			var gone []int64
			for _, c := range cleared {
				if c >= first {
					gone = append(gone, c)
				}
			}
			want := without(first, 335-first, gone...)
			if got := readIDs(t, b, first, -1); !equalInts(got, want) {
				t.Fatalf("all rows: %v", got)
			}
			if got := pylanceIDs(t, b.DatasetPath()); !equalInts(got, want) {
				t.Fatalf("pylance reads %v", got)
			}
			total, _, _, err := b.Counts()
			if err != nil || total != 335 {
				t.Fatalf("total %d (%v), want 335: the next offset", total, err)
			}
			for _, r := range []struct{ offset, limit int64 }{{148, 6}, {150, 3}, {150, 4}, {98, 4}, {330, 10}, {334, 1}} {
				if r.offset < first {
					continue // no longer retained (TestRetention)
				}
				var want []int64
				for _, o := range without(r.offset, r.limit, gone...) {
					if o < 335 {
						want = append(want, o)
					}
				}
				if got := readIDs(t, b, r.offset, r.limit); !equalInts(got, want) {
					t.Fatalf("Read(%d, %d) = %v, want %v", r.offset, r.limit, got, want)
				}
			}
			live, err := b.LiveIndexes([]int64{151, 0, 5, 153, 102, 334, 333})
			if err != nil {
				t.Fatal(err)
			}
			var wantLive []int64
			for _, i := range []int64{151, 0, 5, 153, 102, 334, 333} {
				if i >= first && !contains(cleared, i) {
					wantLive = append(wantLive, i)
				}
			}
			if !equalInts(live, wantLive) {
				t.Fatalf("live %v, want %v", live, wantLive)
			}
			if got := take(t, b, "fresh", 6); !equalInts(got, want[:6]) {
				t.Fatalf("take %v, want %v", got, want[:6])
			}
			appendRows(t, b, 335, 1)
			if got := readIDs(t, b, 334, 2); !equalInts(got, []int64{335}) {
				t.Fatalf("the next record: %v", got)
			}
		})
	}
}

func contains(s []int64, v int64) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestClearInputs: repeated, retained-away and already cleared indexes are
// no-ops; out-of-range ones refuse the call and clear nothing.
func TestClearInputs(t *testing.T) {
	b := openBucket(t, t.TempDir(), 100)
	defer b.Close()
	appendRows(t, b, 0, 200)
	if err := b.Clear([]int64{3, 3, 4}); err != nil {
		t.Fatal(err)
	}
	v := b.currentDataset().Version()
	for _, tc := range []struct {
		name    string
		indexes []int64
		err     error
	}{
		{"already cleared", []int64{4, 3}, nil},
		{"none", nil, nil},
		{"negative", []int64{5, -1}, ErrInvalidArgument},
		{"past the end", []int64{5, 200}, ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := b.Clear(tc.indexes); !errors.Is(err, tc.err) {
				t.Fatalf("got %v, want %v", err, tc.err)
			}
			if got := b.currentDataset().Version(); got != v {
				t.Fatalf("version %d after a call that clears nothing, was %d", got, v)
			}
		})
	}
	if got := readIDs(t, b, 0, 7); !equalInts(got, []int64{0, 1, 2, 5, 6}) {
		t.Fatalf("rows %v", got)
	}
}

// TestClearReadsAfterPylanceCompaction: pylance's own compaction
// (materialising the deletions) keeps the live rows' order and our config,
// so every offset still reads its record.
func TestClearReadsAfterPylanceCompaction(t *testing.T) {
	dir := t.TempDir()
	b := openBucket(t, dir, 50)
	appendRows(t, b, 0, 200)
	if err := b.Clear([]int64{0, 10, 60, 61, 199}); err != nil {
		t.Fatal(err)
	}
	path := b.DatasetPath()
	b.Close()
	const script = `
import sys, lance
ds = lance.dataset(sys.argv[1])
ds.optimize.compact_files(target_rows_per_fragment=1000, materialize_deletions_threshold=0.0)
assert len(lance.dataset(sys.argv[1]).get_fragments()) == 1
`
	runPython(t, "pylance compaction", script, path)
	b = openBucket(t, dir, 50)
	defer b.Close()
	want := without(0, 200, 0, 10, 60, 61, 199)
	if got := readIDs(t, b, 0, -1); !equalInts(got, want) {
		t.Fatalf("after pylance compaction: %v", got)
	}
	if got := readIDs(t, b, 59, 4); !equalInts(got, []int64{59, 62}) {
		t.Fatalf("Read(59, 4) = %v", got)
	}
	if total, _, _, _ := b.Counts(); total != 200 {
		t.Fatalf("total %d", total)
	}
}

// TestClearRefusedWithIndex: deleting rows would leave a secondary index
// pointing at moved rows, so clear refuses and changes nothing.
func TestClearRefusedWithIndex(t *testing.T) {
	b := openBucket(t, t.TempDir(), 100)
	defer b.Close()
	appendRows(t, b, 0, 100)
	if _, err := b.CreateIndex("id", lance.IndexBTree); err != nil {
		t.Fatal(err)
	}
	if err := b.Clear([]int64{1}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("got %v, want ErrUnsupported", err)
	}
	if got := readIDs(t, b, 0, 3); !equalInts(got, []int64{0, 1, 2}) {
		t.Fatalf("rows %v", got)
	}
}

// TestClearDuringAppends: clears committed while another goroutine appends
// and flushes (the Delete version rebases onto the flushes) delete exactly
// their records; every appended record stays at its offset.
func TestClearDuringAppends(t *testing.T) {
	b := openBucket(t, t.TempDir(), 50)
	defer b.Close()
	appendRows(t, b, 0, 200)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := int64(200); i < 1000; i += 20 {
			rec := makeRows(t, memory.DefaultAllocator, i, 20)
			err := b.Append(rec)
			rec.Release()
			if err != nil {
				t.Error(err) // not Fatal: another goroutine
				return
			}
		}
	}()
	var cleared []int64
	for i := int64(0); i < 200; i += 7 {
		if err := b.Clear([]int64{i}); err != nil {
			t.Error(err)
			break
		}
		cleared = append(cleared, i)
	}
	<-done
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	want := without(0, 1000, cleared...)
	if got := readIDs(t, b, 0, -1); !equalInts(got, want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	if got := pylanceIDs(t, b.DatasetPath()); !equalInts(got, want) {
		t.Fatalf("pylance reads %d rows, want %d", len(got), len(want))
	}
}
