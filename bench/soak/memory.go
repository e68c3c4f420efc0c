package main

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
)

// memoryPoint is one sample of the timeline.
type memoryPoint struct {
	Seconds float64 `json:"seconds"`
	Records int64   `json:"records"` // appended so far
	Phase   string  `json:"phase"`
	RSSMiB  float64 `json:"rss_mib"`
	// GoHeapLiveMiB is the Go heap reachable after a collection: what the
	// engine holds, without the garbage a GC cycle has not freed yet.
	GoHeapLiveMiB float64 `json:"go_heap_live_mib"`
	// GoSysMiB is what the Go runtime got from the OS (heap, stacks, its
	// own structures), some of it perhaps returned already.
	GoSysMiB float64 `json:"go_sys_mib"`
	Files    int     `json:"files"`
}

// memoryTimeline samples RSS, the Go heap and the dataset's files.
type memoryTimeline struct {
	started     time.Time
	root        string
	points      []memoryPoint
	peakRSS     float64
	peakHeap    float64
	profilePath string
	profile     []byte // heap profile at the largest live heap
}

func newMemoryTimeline(started time.Time, root, profilePath string) *memoryTimeline {
	return &memoryTimeline{started: started, root: root, profilePath: profilePath}
}

const mib = 1 << 20

func (m *memoryTimeline) sample(records int64, phase string) {
	runtime.GC() // the live heap, not what the next cycle would free
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	files, _, _, _ := usage(m.root)
	p := memoryPoint{
		Seconds: time.Since(m.started).Seconds(), Records: records, Phase: phase,
		RSSMiB: float64(rss()) / mib, GoHeapLiveMiB: float64(ms.HeapAlloc) / mib, GoSysMiB: float64(ms.Sys) / mib,
		Files: files,
	}
	m.points = append(m.points, p)
	m.peakRSS = max(m.peakRSS, p.RSSMiB)
	if p.GoHeapLiveMiB > m.peakHeap {
		m.peakHeap = p.GoHeapLiveMiB
		if m.profilePath != "" {
			var buf bytes.Buffer
			if err := pprof.Lookup("heap").WriteTo(&buf, 0); err == nil {
				m.profile = buf.Bytes()
			}
		}
	}
}

func (m *memoryTimeline) writeProfile() error {
	if m.profilePath == "" {
		return nil
	}
	return os.WriteFile(m.profilePath, m.profile, 0o644)
}

// rss is the process's resident set in bytes (0 where /proc is missing).
func rss() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
