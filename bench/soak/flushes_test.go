package main

import (
	"testing"
	"time"
)

func TestFlushSummary(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	l := &flushLog{}
	for _, f := range []flushSample{
		{at: 0, rows: 1000, took: ms(5)},                         // the first, at flush_threshold: not comparable
		{at: 10, rows: 150_000, took: ms(100)},                   // first tenth
		{at: 20, rows: 150_000, took: ms(120)},                   // first tenth
		{at: 95, rows: 150_000, took: ms(300), compacting: true}, // last tenth
		{at: 99, rows: 100_000, took: ms(200)},                   // last tenth
		{at: 100, rows: 20_000, took: ms(900)},                   // the final Flush of the rest: not comparable
	} {
		l.add(f)
	}
	tests := []struct {
		name     string
		got      flushSummary
		flushes  int
		p99, med float64
	}{
		{"first tenth", l.summary(0, 30), 2, 120, 120},
		{"last tenth", l.summary(90, 100), 2, 300, 300},
		{"during a compaction", l.summaryWhere(func(f flushSample) bool { return f.compacting }), 1, 300, 300},
		{"without", l.summaryWhere(func(f flushSample) bool { return !f.compacting }), 3, 200, 120},
		{"none", l.summary(40, 90), 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got.Flushes != tc.flushes || tc.got.P99Ms != tc.p99 || tc.got.MedianMs != tc.med {
				t.Fatalf("%+v, want %d flushes, p99 %v ms, median %v ms", tc.got, tc.flushes, tc.p99, tc.med)
			}
		})
	}
}
