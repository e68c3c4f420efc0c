package main

import (
	"slices"
	"sync"
	"time"
)

// flushSample is one committed flush, as the engine timed it
// (engine.FlushStat): what the soak's flush p99 is about.
type flushSample struct {
	at         int64 // appends done when it committed
	rows       int64
	took       time.Duration
	compacting bool // a background compaction ran when it committed
}

// flushLog collects the flushes (the engine reports them on its flushing
// goroutine).
type flushLog struct {
	mu sync.Mutex
	s  []flushSample
}

func (l *flushLog) add(f flushSample) {
	l.mu.Lock()
	l.s = append(l.s, f)
	l.mu.Unlock()
}

// flushSummary: the flushes' duration p99 and median, and their size, so
// that flushes of different sizes are not compared as if equal (ms per
// 100k rows).
type flushSummary struct {
	Flushes          int     `json:"flushes"`
	P99Ms            float64 `json:"p99_ms"`
	MedianMs         float64 `json:"median_ms"`
	MedianRows       int64   `json:"median_rows"`
	P99MsPer100kRows float64 `json:"p99_ms_per_100k_rows"`
}

// summary of the comparable flushes that committed while appends [from,
// to) ran.
func (l *flushLog) summary(from, to int64) flushSummary {
	return l.summaryWhere(func(f flushSample) bool { return f.at >= from && f.at < to })
}

// summaryWhere summarises the kept flushes of comparable size: at least
// half the median flush's rows. The first flush (at flush_threshold rows,
// before min_flush_interval paces them) and the last (the rest, by
// Flush) are smaller, and a flush's fixed costs would make them look slow
// per row.
func (l *flushLog) summaryWhere(keep func(flushSample) bool) flushSummary {
	l.mu.Lock()
	defer l.mu.Unlock()
	all := make([]int64, 0, len(l.s))
	for _, f := range l.s {
		all = append(all, f.rows)
	}
	if len(all) == 0 {
		return flushSummary{}
	}
	slices.Sort(all)
	least := all[len(all)/2] / 2
	var took, per []float64
	var rows []int64
	for _, f := range l.s {
		if !keep(f) || f.rows == 0 || f.rows < least {
			continue
		}
		ms := float64(f.took.Microseconds()) / 1000
		took = append(took, ms)
		per = append(per, ms*100_000/float64(f.rows))
		rows = append(rows, f.rows)
	}
	if len(took) == 0 {
		return flushSummary{}
	}
	slices.Sort(took)
	slices.Sort(per)
	slices.Sort(rows)
	return flushSummary{Flushes: len(took), P99Ms: quantile(took, 0.99), MedianMs: quantile(took, 0.5),
		MedianRows: rows[len(rows)/2], P99MsPer100kRows: quantile(per, 0.99)}
}

// quantile of sorted values (nearest rank).
func quantile(sorted []float64, q float64) float64 {
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*q))]
}

// each lists every flush as [appends done, rows, ms, compacting 0/1]: a
// timeline to see where the slow ones fall.
func (l *flushLog) each() [][4]float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([][4]float64, 0, len(l.s))
	for _, f := range l.s {
		c := 0.0
		if f.compacting {
			c = 1
		}
		out = append(out, [4]float64{float64(f.at), float64(f.rows), float64(f.took.Microseconds()) / 1000, c})
	}
	return out
}
