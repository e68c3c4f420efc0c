package engine

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance"
)

// diskUsage counts the files under dir and their bytes, and the bytes of
// the data files the newest version references. The caller holds
// b.maintMu: no background pass (compaction, cleanup after it) writes or
// removes files while they are counted.
func diskUsage(t *testing.T, b *Bucket) (files int, total, data int64) {
	t.Helper()
	err := filepath.WalkDir(b.DatasetPath(), func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		files++
		total += info.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := lance.Open(b.DatasetPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range ds.FragmentStats() {
		for _, p := range f.DataFiles {
			info, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			data += info.Size()
		}
	}
	return files, total, data
}

// betweenPasses runs fn while no background maintenance pass runs (a
// pass holds maintMu throughout; fn may fail the test).
func betweenPasses(b *Bucket, fn func()) {
	b.maintMu.Lock()
	defer b.maintMu.Unlock()
	fn()
}

// TestMaintenanceDefaultsBoundFiles: with default maintenance options,
// 110,000 rows appended 100 at a time (110 flushes) end in a dataset of few files
// once the version retention has passed: the background compaction merged
// the small fragments, the cleanup removed the old versions, every row is
// there once in order, and pylance reads the same.
func TestMaintenanceDefaultsBoundFiles(t *testing.T) {
	// Metrics change nothing in what the bucket does; they show it. Every
	// threshold flushes (no min_flush_interval): the most versions and
	// fragments maintenance has to handle. flush_interval_test.go and
	// bench/soak cover the default flush pacing.
	opts, clock, ev := withFakeTime(Options{Path: t.TempDir(), Metrics: true, MinFlushInterval: -1})
	b, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const batches, rows = 1100, 100
	for i := int64(0); i < batches; i++ {
		appendRows(t, b, i*rows, rows)
		if i == 999 {
			// The compactions the flushes so far are due, now; then ten
			// more flushes (DefaultKeepVersions): the versions that
			// still reference the files compaction replaced age out.
			b.maintain(false)
		}
		if i >= 1000 && (i+1)%10 == 0 {
			// At least one version per 1,000 rows: a background flush
			// may take more than its threshold's rows when appends
			// outrun it, and fewer than ten versions after the
			// compaction would keep the replaced files.
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := b.Flush(); err != nil { // rows that arrived during the last flush
		t.Fatal(err)
	}
	// The last flushes kicked background compactions: what is on disk is
	// measured between maintenance passes, never while one rewrites or
	// removes files or is about to update the gauges.
	var before int
	betweenPasses(b, func() { before, _, _ = diskUsage(t, b) })
	clock.Advance(DefaultVersionRetention + DefaultCleanupInterval)
	ev.waitFor(t, eventPeriodicMaintenance, 1)
	var (
		files       int
		total, data int64
		ds          *lance.Dataset
		m           map[string]any
	)
	betweenPasses(b, func() {
		files, total, data = diskUsage(t, b)
		ds = b.currentDataset()
		m, err = b.Metrics()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d files before cleanup, %d after; %d bytes on disk for %d of data files; %d fragments, version %d",
		before, files, total, data, ds.NumFragments(), ds.Version())
	if files > 300 || float64(total) > 1.3*float64(data) || ds.NumFragments() > 3*DefaultCompactionFanout {
		t.Fatalf("%d files, %d bytes for %d of data, %d fragments", files, total, data, ds.NumFragments())
	}
	for _, name := range []string{"persisting_compactions_total", "persisting_compacted_fragments_total",
		"persisting_versions_removed_total", "persisting_files_removed_total", "persisting_bytes_reclaimed_total"} {
		if v, _ := m[name].(float64); v <= 0 {
			t.Errorf("metric %s = %v after compaction and cleanup", name, m[name])
		}
	}
	if m["persisting_fragments"] != float64(ds.NumFragments()) || m["persisting_retained_records"] != float64(batches*rows) {
		t.Errorf("gauges: fragments %v retained %v", m["persisting_fragments"], m["persisting_retained_records"])
	}
	want := seq(0, batches*rows)
	if got := readIDs(t, b, 0, -1); !equalInts(got, want) {
		t.Fatalf("rows after maintenance: %d, want %d in order", len(got), len(want))
	}
	if got := pylanceIDs(t, b.DatasetPath()); !equalInts(got, want) {
		t.Fatalf("pylance reads %d rows, want %d in order", len(got), len(want))
	}
}

// TestCompactionTiers: the tier picked for a fragment layout.
func TestCompactionTiers(t *testing.T) {
	o := BackgroundOptions{CompactionTargetRows: 1 << 20, CompactionFanout: 4}.withDefaults()
	frags := func(sizes ...int64) []lance.FragmentStat {
		var out []lance.FragmentStat
		for _, n := range sizes {
			out = append(out, lance.FragmentStat{LiveRows: n, PhysicalRows: n})
		}
		return out
	}
	holey := frags(1 << 20)
	holey[0].LiveRows = 1 << 19
	for _, tc := range []struct {
		name  string
		frags []lance.FragmentStat
		want  int64
	}{
		{"few small", frags(1000, 1000, 1000), 0},
		{"enough small", frags(1000, 1000, 1000, 1000), 4096},
		{"middle tier", frags(5000, 5000, 5000, 5000, 1000), 65536},
		{"top tier", frags(1<<20, 1<<17, 1<<17, 1<<17, 1<<17), 1 << 20},
		{"smaller levels do not count", frags(1<<19, 5000, 5000, 5000, 1000, 1000, 1000), 0},
		{"all large", frags(1<<20, 1<<20, 1<<20, 1<<20), 0},
		{"many deleted rows", holey, 1 << 20},
		// Each small fragment sits between two of the middle tier: the
		// smallest tier cannot merge them, the middle one can (and does).
		{"unmergeable small ones", frags(5000, 1000, 5000, 1000, 5000, 1000, 5000, 1000, 5000), 65536},
		{"unmergeable small ones, few middle", frags(1<<20, 1000, 1<<20, 1000, 1<<20, 1000, 1<<20, 1000, 1<<20), 0},
		{"a run of small ones", frags(5000, 1000, 1000, 5000, 1000, 1000, 5000), 4096},
		// 3000 + 2000 rows fill two fragments of 4096 as they do now.
		{"runs that fill as many fragments", frags(5000, 3000, 2000, 5000, 3000, 2000, 5000, 5000), 65536},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := o.compactionTarget(tc.frags); got != tc.want {
				t.Fatalf("target %d, want %d", got, tc.want)
			}
		})
	}
}

// TestReadersDuringMaintenance: readers scanning the whole bucket while
// appends flush, compaction rewrites and cleanup removes old versions as
// eagerly as it can always see one consistent snapshot: the rows 0..n-1,
// in order, n never going back. Run with -race.
func TestReadersDuringMaintenance(t *testing.T) {
	opts, clock, ev := withFakeTime(Options{Path: t.TempDir(), FlushThreshold: 50, Background: BackgroundOptions{
		MaxFlushDelay: -1, CompactionTargetRows: 1024, CompactionFanout: 2,
		KeepVersions: 1, VersionRetention: -1, CleanupInterval: time.Second,
	}})
	b, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const total = 6000
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := 0
			for {
				select {
				case <-done:
					return
				default:
				}
				_, recs, err := b.Read(0, -1, memory.DefaultAllocator)
				if err != nil {
					errs <- err.Error()
					return
				}
				n := 0
				for _, rec := range recs {
					col := rec.Column(0).(interface{ Value(int) int64 })
					for i := 0; i < int(rec.NumRows()); i++ {
						if col.Value(i) != int64(n) {
							errs <- "row " + itoa(n) + " holds id " + itoa(int(col.Value(i)))
							releaseAll(recs)
							return
						}
						n++
					}
				}
				releaseAll(recs)
				if n < last {
					errs <- "a later read saw fewer rows"
					return
				}
				last = n
			}
		}()
	}
	periodic := 0
	for i := int64(0); i < total/25; i++ {
		appendRows(t, b, i*25, 25)
		if i%20 == 19 {
			// A settled loop parks its ticker until a commit wakes it, and
			// the flushes may still be waiting for min_flush_interval:
			// wake it as they would, so this advance makes a pass.
			b.wakeMaintenance()
			clock.Advance(time.Second) // a cleanup pass
			periodic++
			ev.waitFor(t, eventPeriodicMaintenance, periodic)
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, total)) {
		t.Fatalf("%d rows at the end", len(got))
	}
	vs, err := b.Versions()
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) > 10 {
		t.Fatalf("%d versions left after eager cleanup", len(vs))
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestMaintenanceSwitchedOff: with maintenance off nothing compacts or
// cleans up (no maintenance goroutine at all), fragments stay one per flush.
func TestMaintenanceSwitchedOff(t *testing.T) {
	opts, clock, _ := withFakeTime(Options{Path: t.TempDir(), FlushThreshold: 10,
		Background: BackgroundOptions{DisableMaintenance: true, MaxFlushDelay: -1}})
	b, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.bg != nil || clock.tickerCount(DefaultCleanupInterval) != 0 {
		t.Fatal("background work runs with auto flush and maintenance off")
	}
	appendInBatches(t, b, 0, 400, 10)
	if n := b.currentDataset().NumFragments(); n != 40 {
		t.Fatalf("%d fragments after 40 flushes", n)
	}
}

// TestBackgroundOptionsJSON: the open options' background keys and their
// checks (ParseOptionsJSON is their one parser).
func TestBackgroundOptionsJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		json string
		want BackgroundOptions
		bad  error
	}{
		{"empty: defaults", `{}`, BackgroundOptions{}, nil},
		{"maintenance off", `{"maintenance": false}`, BackgroundOptions{DisableMaintenance: true}, nil},
		{"compaction", `{"compaction_target_rows": 5000, "compaction_fanout": 4}`,
			BackgroundOptions{CompactionTargetRows: 5000, CompactionFanout: 4}, nil},
		{"versions", `{"keep_versions": 0, "version_retention_sec": 0, "cleanup_interval_sec": 0.5}`,
			BackgroundOptions{KeepVersions: 1, VersionRetention: -1, CleanupInterval: 500 * time.Millisecond}, nil},
		{"retention", `{"retention_seconds": 3600, "retention_rows": 10, "retention_bytes": 1048576}`,
			BackgroundOptions{RetentionAge: time.Hour, RetentionRows: 10, RetentionBytes: 1 << 20}, nil},
		{"fanout 1", `{"compaction_fanout": 1}`, BackgroundOptions{}, ErrInvalidArgument},
		{"target 0", `{"compaction_target_rows": 0}`, BackgroundOptions{}, ErrInvalidArgument},
		{"negative rows", `{"retention_rows": -1}`, BackgroundOptions{}, ErrInvalidArgument},
		{"negative bytes", `{"retention_bytes": -1}`, BackgroundOptions{}, ErrInvalidArgument},
		{"negative age", `{"retention_seconds": -1}`, BackgroundOptions{}, ErrInvalidArgument},
		{"cleanup interval 0", `{"cleanup_interval_sec": 0}`, BackgroundOptions{}, ErrInvalidArgument},
		{"negative keep", `{"keep_versions": -1}`, BackgroundOptions{}, ErrInvalidArgument},
		{"maintenance not a bool", `{"maintenance": "off"}`, BackgroundOptions{}, ErrType},
		{"rows not an int", `{"retention_rows": 1.5}`, BackgroundOptions{}, ErrType},
		{"seconds not a number", `{"retention_seconds": "1h"}`, BackgroundOptions{}, ErrType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := ParseOptionsJSON(t.TempDir(), tc.json)
			got := o.Background
			if tc.bad != nil {
				if !errors.Is(err, tc.bad) {
					t.Fatalf("got %+v, %v; want %v", got, err, tc.bad)
				}
				return
			}
			if err != nil || got.DisableMaintenance != tc.want.DisableMaintenance ||
				got.CompactionTargetRows != tc.want.CompactionTargetRows || got.CompactionFanout != tc.want.CompactionFanout ||
				got.KeepVersions != tc.want.KeepVersions || got.VersionRetention != tc.want.VersionRetention ||
				got.CleanupInterval != tc.want.CleanupInterval || got.RetentionAge != tc.want.RetentionAge ||
				got.RetentionRows != tc.want.RetentionRows || got.RetentionBytes != tc.want.RetentionBytes {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// The compacted-fragments metric counts the fragments a compaction replaced,
// also when its commit rebased onto flushes that added fragments meanwhile
// (a difference of fragment counts went negative there and panicked the
// Prometheus counter).
func TestFragmentsReplacedCountsRewrittenFragments(t *testing.T) {
	b, err := Open(Options{Path: t.TempDir(), Background: BackgroundOptions{DisableMaintenance: true, MaxFlushDelay: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	flushRows := func(start int64) {
		rec := makeRows(t, memory.DefaultAllocator, start, 10)
		defer rec.Release()
		if err := b.Append(rec); err != nil {
			t.Fatal(err)
		}
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	for i := int64(0); i < 3; i++ {
		flushRows(i * 10)
	}
	before := b.currentDataset()
	if _, err := b.Compact(0); err != nil {
		t.Fatal(err)
	}
	for i := int64(3); i < 7; i++ { // flushes after the rewrite
		flushRows(i * 10)
	}
	after := b.currentDataset()
	if d := before.NumFragments() - after.NumFragments(); d >= 0 {
		t.Fatalf("the case needs more fragments after than before (difference %d)", d)
	}
	if got := fragmentsReplaced(before, after); got != 3 {
		t.Fatalf("fragmentsReplaced = %d, want the 3 fragments compacted", got)
	}
}

// TestCleanupWithinWindowKeepsReadersWhole: within the version retention
// window, cleanup removes the versions whose files the next version still
// references, and only those: every version that was the latest (a reader
// opened it, as a pylance reader of the previous minute would have) still
// reads all its rows, and what is left is the newest KeepVersions plus the
// version before each compaction.
func TestCleanupWithinWindowKeepsReadersWhole(t *testing.T) {
	opts, _, _ := withFakeTime(Options{Path: t.TempDir(), FlushThreshold: 100, Metrics: true,
		Background: BackgroundOptions{MaxFlushDelay: -1}})
	b, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const flushes = 40
	var readers []*lance.Dataset
	for i := int64(0); i < flushes; i++ {
		appendRows(t, b, i*100, 100)
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
		ds, err := lance.Open(b.DatasetPath())
		if err != nil {
			t.Fatal(err)
		}
		readers = append(readers, ds)
	}
	b.maintain(true) // the fake clock stays put: no version is old
	vs, err := b.Versions()
	if err != nil {
		t.Fatal(err)
	}
	m, err := b.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	compactions, _ := m["persisting_compactions_total"].(float64)
	t.Logf("%d versions left of %d, after %v compactions", len(vs), b.currentDataset().Version(), compactions)
	if compactions < 1 || len(vs) > DefaultKeepVersions+int(compactions) {
		t.Fatalf("%d versions left of %d after %v compactions", len(vs), b.currentDataset().Version(), compactions)
	}
	for _, ds := range readers {
		recs, err := ds.Read(0, -1, memory.DefaultAllocator)
		if err != nil {
			t.Fatalf("a reader of version %d: %v", ds.Version(), err)
		}
		n := int64(0)
		for _, r := range recs {
			n += r.NumRows()
			r.Release()
		}
		if n != ds.CountRows() {
			t.Fatalf("a reader of version %d read %d of %d rows", ds.Version(), n, ds.CountRows())
		}
	}
}
