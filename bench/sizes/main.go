// Command sizes compares the data files our lance package writes with
// pylance's for the same rows: bytes on disk, write time, full-scan time and
// the time to read the last row ("deep get"), side by side. Shapes: the
// three of issue 12 (event log, metrics, embeddings) and two more (logs
// with free text, RL samples with nested lists).
//
//	go run ./bench/sizes [-rows 400000] [-rounds 3] [-scanreps 1] [-shape N] [-v]
//
// Both sides write data storage version 2.2 without general compression;
// each time is the best of -rounds, and the writes interleave (ours, then
// pylance's in a child process, round by round) so both see the same load. Ratios are ours / pylance's for bytes
// and pylance's / ours for times (above 1: we are faster). "write CPU" is
// the process CPU time (all threads) a write costs; on a busy machine it is
// steadier than wall time.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance"
)

type shape struct {
	name string
	rows int
	gen  func(rng *rand.Rand, n int) arrow.Record
}

var words = strings.Fields("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa")

func main() {
	rows := flag.Int("rows", 400000, "rows of the log and metrics shapes (embeddings: rows/8)")
	rounds := flag.Int("rounds", 3, "timed repetitions; the best counts")
	profile := flag.String("cpuprofile", "", "write a CPU profile of our writes to this file")
	scanProfile := flag.String("scanprofile", "", "write a CPU profile of our full scans to this file")
	verbose := flag.Bool("v", false, "also print each shape's scan times (ms, wall and CPU, ours and pylance's)")
	scanReps := flag.Int("scanreps", 1, "full scans per round, both sides (more: a steadier best, a longer profile)")
	only := flag.Int("shape", -1, "measure only this shape (0-based)")
	flag.Parse()
	shapes := []shape{
		{"event log", *rows, eventLog},
		{"metrics", *rows, metrics},
		{"embeddings (16-dim)", *rows / 8, embeddings},
		{"logs, free text", *rows, freeTextLogs},
		{"RL samples, nested lists", *rows / 4, rlSamples},
	}
	dir, err := os.MkdirTemp("", "sizes")
	check(err)
	defer os.RemoveAll(dir)
	type ours struct {
		bytes             int64
		write, scan, get  time.Duration
		writeCPU, scanCPU time.Duration
		py                pylanceResult
	}
	var results []ours
	if *only >= 0 {
		shapes = shapes[*only : *only+1]
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	py := startPylance(*rounds, *scanReps)
	for i, s := range shapes {
		rec := s.gen(rand.New(rand.NewSource(int64(i+1))), s.rows)
		p := filepath.Join(dir, fmt.Sprintf("s%d.arrow", i))
		writeIPC(p, rec)
		var o ours
		for r := 0; r < *rounds; r++ {
			out := filepath.Join(dir, fmt.Sprintf("s%d-ours-%d", i, r))
			c0 := cpuTime()
			t0 := time.Now()
			_, err := lance.Write(out, []arrow.Record{rec}, lance.WriteOptions{DataStorageVersion: "2.2"})
			check(err)
			if d := time.Since(t0); r == 0 || d < o.write {
				o.write = d
			}
			if c := cpuTime() - c0; r == 0 || c < o.writeCPU {
				o.writeCPU = c
			}
			if r == 0 {
				o.bytes = dataBytes(out)
			}
			// pylance writes the same rows right after: both sides of a
			// round see the same machine
			var w struct{ Write, WriteCPU float64 }
			py.ask("write", p, &w)
			if r == 0 || w.Write < o.py.Write {
				o.py.Write = w.Write
			}
			if r == 0 || w.WriteCPU < o.py.WriteCPU {
				o.py.WriteCPU = w.WriteCPU
			}
		}
		ds, err := lance.Open(filepath.Join(dir, fmt.Sprintf("s%d-ours-0", i)))
		check(err)
		if *scanProfile != "" && *profile == "" {
			f, err := os.Create(*scanProfile)
			check(err)
			check(pprof.StartCPUProfile(f))
		}
		for r := 0; r < *rounds; r++ {
			for k := 0; k < *scanReps; k++ {
				c0 := cpuTime()
				t0 := time.Now()
				recs, err := ds.Read(0, -1, memory.DefaultAllocator)
				check(err)
				d := time.Since(t0)
				if c := cpuTime() - c0; (r == 0 && k == 0) || c < o.scanCPU {
					o.scanCPU = c
				}
				release(recs)
				if (r == 0 && k == 0) || d < o.scan {
					o.scan = d
				}
			}
			t0 := time.Now()
			recs, err := ds.Read(int64(s.rows-1), 1, memory.DefaultAllocator)
			check(err)
			g := time.Since(t0)
			release(recs)
			if r == 0 || g < o.get {
				o.get = g
			}
		}
		if *scanProfile != "" && *profile == "" {
			pprof.StopCPUProfile()
		}
		py.ask("finish", p, &o.py)
		rec.Release()
		results = append(results, o)
		if *verbose {
			fmt.Printf("%s: scan %.1f / %.1f ms CPU, pylance %.1f / %.1f ms CPU\n", s.name,
				o.scan.Seconds()*1e3, o.scanCPU.Seconds()*1e3, o.py.Scan*1e3, o.py.ScanCPU*1e3)
		}
	}
	py.close()
	fmt.Println("| shape | rows | ours | pylance | bytes ours/pylance | write speed (wall) | write CPU | full scan | scan CPU | deep get |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	for i, o := range results {
		py := o.py
		fmt.Printf("| %s | %d | %.2f MB | %.2f MB | %.2fx | %.2fx | %.2fx | %.2fx | %.2fx | %.2fx |\n", shapes[i].name, shapes[i].rows,
			float64(o.bytes)/1e6, float64(py.Bytes)/1e6, float64(o.bytes)/float64(py.Bytes),
			py.Write/o.write.Seconds(), py.WriteCPU/o.writeCPU.Seconds(), py.Scan/o.scan.Seconds(), py.ScanCPU/o.scanCPU.Seconds(), py.Get/o.get.Seconds())
	}
}

// pylanceResult is what the pylance side measured for a shape.
type pylanceResult struct {
	Bytes                               int64
	Write, WriteCPU, Scan, ScanCPU, Get float64
}

// pylanceSide is the pylance_side.py child, which writes and reads on
// request.
type pylanceSide struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startPylance(rounds, scanReps int) *pylanceSide {
	cmd := exec.Command("python3", filepath.Join("bench", "sizes", "pylance_side.py"))
	cmd.Env = append(os.Environ(), fmt.Sprintf("ROUNDS=%d", rounds), fmt.Sprintf("SCANREPS=%d", scanReps))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	check(err)
	out, err := cmd.StdoutPipe()
	check(err)
	check(cmd.Start())
	return &pylanceSide{cmd: cmd, in: in, out: bufio.NewScanner(out)}
}

// ask sends one command and decodes its reply into v.
func (p *pylanceSide) ask(op, src string, v any) {
	_, err := fmt.Fprintf(p.in, "%s %s\n", op, src)
	check(err)
	if !p.out.Scan() {
		check(fmt.Errorf("pylance side ended: %v", p.out.Err()))
	}
	check(json.Unmarshal(p.out.Bytes(), v))
}

func (p *pylanceSide) close() {
	check(p.in.Close())
	check(p.cmd.Wait())
}

func eventLog(rng *rand.Rand, n int) arrow.Record {
	levels := []string{"DEBUG", "INFO", "WARN", "ERROR"}
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "seq", Type: arrow.PrimitiveTypes.Int64}, {Name: "ts", Type: arrow.PrimitiveTypes.Int64},
		{Name: "level", Type: arrow.BinaryTypes.String}, {Name: "topic", Type: arrow.BinaryTypes.String},
		{Name: "msg", Type: arrow.BinaryTypes.String}, {Name: "latency", Type: arrow.PrimitiveTypes.Int32},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	var sb strings.Builder
	for i := 0; i < n; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.Int64Builder).Append(1_700_000_000_000 + int64(i)*3 + rng.Int63n(3))
		b.Field(2).(*array.StringBuilder).Append(levels[rng.Intn(4)])
		b.Field(3).(*array.StringBuilder).Append(fmt.Sprintf("topic-%d", rng.Intn(12)))
		sb.Reset()
		for k := 0; k < 8; k++ {
			if k > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(words[rng.Intn(len(words))])
		}
		b.Field(4).(*array.StringBuilder).Append(sb.String())
		b.Field(5).(*array.Int32Builder).Append(int32(rng.Intn(5001)))
		b.Field(6).(*array.BooleanBuilder).Append(rng.Float64() < 0.9)
	}
	return b.NewRecord()
}

func metrics(rng *rand.Rand, n int) arrow.Record {
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "host", Type: arrow.BinaryTypes.String}, {Name: "cpu", Type: arrow.PrimitiveTypes.Float64},
		{Name: "mem", Type: arrow.PrimitiveTypes.Int64}, {Name: "region", Type: arrow.BinaryTypes.String},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	regions := []string{"us-east", "eu-west"}
	for i := 0; i < n; i++ {
		b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("host-%02d", rng.Intn(64)))
		b.Field(1).(*array.Float64Builder).Append(rng.Float64() * 100)
		b.Field(2).(*array.Int64Builder).Append(1<<30 + rng.Int63n(1<<34-1<<30))
		b.Field(3).(*array.StringBuilder).Append(regions[rng.Intn(2)])
	}
	return b.NewRecord()
}

func embeddings(rng *rand.Rand, n int) arrow.Record {
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "vec", Type: arrow.FixedSizeListOf(16, arrow.PrimitiveTypes.Float32)},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	vb := b.Field(1).(*array.FixedSizeListBuilder)
	fb := vb.ValueBuilder().(*array.Float32Builder)
	for i := 0; i < n; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		vb.Append(true)
		for k := 0; k < 16; k++ {
			fb.Append(float32(rng.NormFloat64()))
		}
	}
	return b.NewRecord()
}

// freeTextLogs: application log lines with ids, numbers and addresses.
func freeTextLogs(rng *rand.Rand, n int) arrow.Record {
	services := []string{"api", "auth", "billing", "search", "worker", "gateway", "cache", "db-proxy"}
	templates := []string{
		"user %d logged in from 10.%d.%d.%d",
		"request %08x to /v1/items/%d completed in %d ms with status 200",
		"cache miss for key session:%d, fetching from upstream shard %d",
		"retrying job %d after error: connection reset by peer (attempt %d of 5)",
		"GET /api/v2/users/%d/orders?page=%d HTTP/1.1 served in %dus",
	}
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_ms}, {Name: "service", Type: arrow.BinaryTypes.String},
		{Name: "level", Type: arrow.BinaryTypes.String}, {Name: "line", Type: arrow.BinaryTypes.String},
		{Name: "trace_id", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	levels := []string{"INFO", "INFO", "INFO", "WARN", "ERROR", "DEBUG"}
	for i := 0; i < n; i++ {
		b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(1_700_000_000_000 + int64(i)*7 + rng.Int63n(7)))
		b.Field(1).(*array.StringBuilder).Append(services[rng.Intn(len(services))])
		b.Field(2).(*array.StringBuilder).Append(levels[rng.Intn(len(levels))])
		t := templates[rng.Intn(len(templates))]
		args := []any{rng.Intn(100000), rng.Intn(256), rng.Intn(256), rng.Intn(256)}
		b.Field(3).(*array.StringBuilder).Append(fmt.Sprintf(t, args[:strings.Count(t, "%")]...))
		if rng.Intn(3) == 0 {
			b.Field(4).AppendNull()
		} else {
			b.Field(4).(*array.StringBuilder).Append(fmt.Sprintf("%016x", rng.Uint64()))
		}
	}
	return b.NewRecord()
}

// rlSamples: reinforcement-learning transitions with variable-length
// observation and action lists.
func rlSamples(rng *rand.Rand, n int) arrow.Record {
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "episode", Type: arrow.PrimitiveTypes.Int64}, {Name: "step", Type: arrow.PrimitiveTypes.Int32},
		{Name: "obs", Type: arrow.ListOf(arrow.PrimitiveTypes.Float32)},
		{Name: "actions", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32)},
		{Name: "reward", Type: arrow.PrimitiveTypes.Float32}, {Name: "done", Type: arrow.FixedWidthTypes.Boolean},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	ob := b.Field(2).(*array.ListBuilder)
	ab := b.Field(3).(*array.ListBuilder)
	ep, step := int64(0), int32(0)
	for i := 0; i < n; i++ {
		done := rng.Intn(200) == 0
		b.Field(0).(*array.Int64Builder).Append(ep)
		b.Field(1).(*array.Int32Builder).Append(step)
		ob.Append(true)
		for k, m := 0, 8+rng.Intn(25); k < m; k++ {
			ob.ValueBuilder().(*array.Float32Builder).Append(float32(rng.NormFloat64()))
		}
		ab.Append(true)
		for k, m := 0, 1+rng.Intn(4); k < m; k++ {
			ab.ValueBuilder().(*array.Int32Builder).Append(int32(rng.Intn(18)))
		}
		b.Field(4).(*array.Float32Builder).Append(float32(rng.Intn(3)) - 1)
		b.Field(5).(*array.BooleanBuilder).Append(done)
		step++
		if done {
			ep, step = ep+1, 0
		}
	}
	return b.NewRecord()
}

func writeIPC(path string, rec arrow.Record) {
	f, err := os.Create(path)
	check(err)
	defer f.Close()
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(rec.Schema()))
	check(err)
	check(w.Write(rec))
	check(w.Close())
}

func dataBytes(root string) int64 {
	var n int64
	entries, err := os.ReadDir(filepath.Join(root, "data"))
	check(err)
	for _, e := range entries {
		fi, err := e.Info()
		check(err)
		n += fi.Size()
	}
	return n
}

func release(recs []arrow.Record) {
	for _, r := range recs {
		r.Release()
	}
}

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	check(syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "sizes:", err)
		os.Exit(1)
	}
}
