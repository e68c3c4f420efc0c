// Command soak appends records to one bucket opened with default options
// only, 100 rows per append (pulsing's put_batch(100)), and reports what a
// queue that runs for months needs to stay flat (issue 13):
//
//   - files and bytes on disk at the end (against the data files' bytes),
//     after the default version retention has passed;
//   - the p99 of the flushes' own duration (engine.FlushStat.Took, flushes of
//     comparable size: flushes.go) committed in the first and the last tenth
//     of the run, and during a compaction vs without one; appends do not
//     wait for a flush (it runs in the background), so the p99 of the
//     appends that happened to see one commit is kept only for comparison
//     with older figures;
//   - the p99 of appends while a background compaction runs and while none
//     does;
//   - that every record is there once, in order, for the engine and for
//     pylance;
//   - the process's RSS, the Go heap and the files on disk over time (a
//     timeline of samples through the appends and the settle), so a leak or
//     a maintenance step that holds what it rewrites shows as growth.
//
// Usage (from the repository root):
//
//	go run ./bench/soak -records 1000000 [-dir /tmp/soak] [-settle 70s]
//
// -batch, -flush-threshold and -maintenance=false leave the defaults (bench.py
// #7's ingest is -batch 65536 -flush-threshold 262144 -records 10000000
// -settle 0); -memprofile writes the heap profile taken when the live heap
// was largest.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/engine"
	"github.com/persisting/persisting/internal/queuebatch"
	"github.com/persisting/persisting/lance"
)

func main() {
	records := flag.Int64("records", 1_000_000, "records to append, -batch per append")
	dir := flag.String("dir", "", "bucket directory (default: a new temporary one, removed at the end)")
	settle := flag.Duration("settle", engine.DefaultVersionRetention+engine.DefaultCleanupInterval,
		"wait after the last append, so the default version retention passes and cleanup runs")
	batch := flag.Int("batch", 100, "rows per append")
	threshold := flag.Int("flush-threshold", 0, "flush threshold (0: the default)")
	maintenance := flag.Bool("maintenance", true, "background compaction and cleanup (the default: on)")
	memprofile := flag.String("memprofile", "", "write the heap profile of the largest live heap sampled to this file")
	flag.Parse()
	cfg := config{records: *records, dir: *dir, settle: *settle, batch: *batch, threshold: *threshold,
		maintenance: *maintenance, memprofile: *memprofile}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

type sample struct {
	took       time.Duration
	flushed    bool // the append carried a flush
	compacting bool // a background compaction ran when it started or ended
}

type config struct {
	records     int64
	dir         string
	settle      time.Duration
	batch       int
	threshold   int
	maintenance bool
	memprofile  string
}

func run(cfg config) error {
	records, dir, settle := cfg.records, cfg.dir, cfg.settle
	if dir == "" {
		d, err := os.MkdirTemp("", "soak-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	// Default options only; the engine's warnings (a failed background
	// step) go to stderr.
	var appended atomic.Int64 // appends done: places each flush in the run
	var compacting func() bool
	flushes := &flushLog{}
	b, err := engine.Open(engine.Options{Path: dir, FlushThreshold: cfg.threshold,
		Background: engine.BackgroundOptions{DisableMaintenance: !cfg.maintenance},
		OnFlush: func(st engine.FlushStat) {
			flushes.add(flushSample{at: appended.Load(), rows: st.Rows, took: st.Took, compacting: compacting()})
		},
		Logger: func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, time.Now().Format(time.TimeOnly)+" "+format+"\n", args...)
		}})
	if err != nil {
		return err
	}
	defer b.Close()
	compacting = b.Compacting
	batch := int64(cfg.batch)
	batches := (records + batch - 1) / batch // the last one takes the rest
	samples := make([]sample, 0, batches)
	started := time.Now()
	mem := newMemoryTimeline(started, b.DatasetPath(), cfg.memprofile)
	mem.sample(0, "start")
	every := max(1, batches/20)
	for i := int64(0); i < batches; i++ {
		if i > 0 && i%every == 0 {
			mem.sample(i*batch, "append")
		}
		rec := queuebatch.Batch(int(min(batch, records-i*batch)), i*batch, i)
		_, before, _, _ := b.Counts()
		c0 := b.Compacting()
		t0 := time.Now()
		err := b.Append(rec)
		took := time.Since(t0)
		c1 := b.Compacting()
		rec.Release()
		if err != nil {
			return err
		}
		_, after, _, _ := b.Counts()
		samples = append(samples, sample{took: took, flushed: after != before, compacting: c0 || c1})
		appended.Add(1)
	}
	if err := b.Flush(); err != nil {
		return err
	}
	appendTime := time.Since(started)
	mem.sample(records, "last append")
	filesBefore, bytesBefore, _, err := usage(b.DatasetPath())
	if err != nil {
		return err
	}
	kindsBefore, err := filesByDir(b.DatasetPath())
	if err != nil {
		return err
	}
	// The version retention is wall-clock time by design.
	for end := time.Now().Add(settle); time.Now().Before(end); {
		time.Sleep(min(5*time.Second, time.Until(end)))
		mem.sample(records, "settle")
	}
	filesEnd, bytesEnd, dataOnDisk, err := usage(b.DatasetPath())
	if err != nil {
		return err
	}
	ds, err := lance.Open(b.DatasetPath())
	if err != nil {
		return err
	}
	var dataLatest int64
	for _, f := range ds.FragmentStats() {
		for _, p := range f.DataFiles {
			if info, err := os.Stat(p); err == nil {
				dataLatest += info.Size()
			}
		}
	}
	versions, err := b.Versions()
	if err != nil {
		return err
	}
	if err := checkInOrder(b, records); err != nil {
		return err
	}
	if err := checkPylance(b.DatasetPath(), records); err != nil {
		return err
	}
	m, _ := b.Metrics()
	tenth := len(samples) / 10
	report := map[string]any{
		"records":                              records,
		"append_seconds":                       appendTime.Seconds(),
		"records_per_second":                   float64(records) / appendTime.Seconds(),
		"files_at_last_append":                 filesBefore,
		"files_at_last_append_by_dir":          kindsBefore,
		"bytes_at_last_append":                 bytesBefore,
		"settle_seconds":                       settle.Seconds(),
		"files":                                filesEnd,
		"bytes":                                bytesEnd,
		"data_file_bytes_on_disk":              dataOnDisk,
		"data_file_bytes_latest":               dataLatest,
		"bytes_over_data_on_disk":              float64(bytesEnd) / float64(dataOnDisk),
		"bytes_over_data_latest":               float64(bytesEnd) / float64(dataLatest),
		"fragments":                            ds.NumFragments(),
		"versions_kept":                        len(versions),
		"latest_version":                       ds.Version(),
		"append_with_flush_p99_ms_first_tenth": p99(samples[:tenth], func(s sample) bool { return s.flushed }),
		"append_with_flush_p99_ms_last_tenth":  p99(samples[len(samples)-tenth:], func(s sample) bool { return s.flushed }),
		"flushes_first_tenth":                  flushes.summary(0, int64(tenth)),
		"flushes_last_tenth":                   flushes.summary(int64(len(samples)-tenth), int64(len(samples))),
		"flushes_during_compaction":            flushes.summaryWhere(func(f flushSample) bool { return f.compacting }),
		"flush_timeline":                       flushes.each(),
		"flushes_without_compaction":           flushes.summaryWhere(func(f flushSample) bool { return !f.compacting }),
		"put_p99_ms_compacting":                p99(samples, func(s sample) bool { return !s.flushed && s.compacting }),
		"put_p99_ms_not_compacting":            p99(samples, func(s sample) bool { return !s.flushed && !s.compacting }),
		"puts_during_compaction":               count(samples, func(s sample) bool { return !s.flushed && s.compacting }),
		"peak_rss_mib":                         mem.peakRSS,
		"peak_go_heap_live_mib":                mem.peakHeap,
		"timeline":                             mem.points,
		"metrics":                              m,
	}
	if err := mem.writeProfile(); err != nil {
		return err
	}
	out, _ := json.MarshalIndent(report, "", "  ")
	fmt.Println(string(out))
	return nil
}

func count(s []sample, keep func(sample) bool) int {
	n := 0
	for _, x := range s {
		if keep(x) {
			n++
		}
	}
	return n
}

// p99 of the kept samples, in milliseconds (0 without samples).
func p99(s []sample, keep func(sample) bool) float64 {
	var d []time.Duration
	for _, x := range s {
		if keep(x) {
			d = append(d, x.took)
		}
	}
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return float64(d[min(len(d)-1, len(d)*99/100)].Microseconds()) / 1000
}

// filesByDir counts the dataset's files per top directory (data,
// _versions, _transactions, _deletions): what a burst leaves, by kind.
func filesByDir(root string) (map[string]int, error) {
	out := map[string]int{}
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed by the background cleanup meanwhile
		}
		if err != nil || e.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		top, _, _ := strings.Cut(filepath.ToSlash(rel), "/")
		out[top]++
		return nil
	})
	return out, err
}

// usage counts the dataset's files and bytes, and the bytes of its data files.
func usage(root string) (files int, total, data int64, err error) {
	err = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed by the background cleanup meanwhile
		}
		if err != nil || e.IsDir() {
			return err
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		files++
		total += info.Size()
		if filepath.Base(filepath.Dir(p)) == "data" {
			data += info.Size()
		}
		return nil
	})
	return files, total, data, err
}

// checkInOrder reads every record back through the engine, 64k at a time:
// ids 0..records-1, each once, in order.
func checkInOrder(b *engine.Bucket, records int64) error {
	next := int64(0)
	for next < records {
		_, recs, err := b.Read(next, 64<<10, memory.DefaultAllocator)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return fmt.Errorf("read stops at %d of %d", next, records)
		}
		for _, r := range recs {
			ids := r.Column(0).(*array.Int64)
			for i := 0; i < ids.Len(); i++ {
				if ids.Value(i) != next {
					return fmt.Errorf("offset %d holds id %d", next, ids.Value(i))
				}
				next++
			}
			r.Release()
		}
	}
	return nil
}

// checkPylance has pylance open the dataset and check the ids.
func checkPylance(path string, records int64) error {
	const script = `
import sys, lance, pyarrow.compute as pc
ds = lance.dataset(sys.argv[1])
ids = ds.to_table(columns=["id"]).column("id")
n = int(sys.argv[2])
assert len(ids) == n, (len(ids), n)
assert pc.all(pc.equal(ids, pc.cast(__import__("pyarrow").array(range(n)), "int64"))).as_py()
print("pylance ok", ds.version, len(ds.get_fragments()))
`
	out, err := exec.Command("python3", "-c", script, path, fmt.Sprint(records)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pylance: %v\n%s", err, out)
	}
	fmt.Fprint(os.Stderr, string(out))
	return nil
}
