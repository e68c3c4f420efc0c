package engine

import (
	"strings"
	"testing"
	"time"
)

// pylanceDo runs a pylance snippet with ds, the dataset at path, and uri.
func pylanceDo(t *testing.T, path, snippet string) {
	t.Helper()
	script := "import sys, lance, pyarrow as pa\nuri = sys.argv[1]\nds = lance.dataset(uri)\n" + snippet
	runPython(t, "pylance", script, path)
}

// TestRefitAfterAnotherWriterChangedTheSchema: pylance renames a field
// while a bucket without schema evolution holds rows. The flush that finds
// it re-reads the dataset as a reopen would; the rows do not fit, so it
// fails saying to undo the change, and the automatic flush does not fail
// again at every tick (it used to, for ever). Once pylance restores the
// old version, Close stores every row.
func TestRefitAfterAnotherWriterChangedTheSchema(t *testing.T) {
	const delay = 4 * time.Second
	dir := t.TempDir()
	opts, clock, ev := withFakeTime(Options{Path: dir, FlushThreshold: 1000, Logger: t.Logf,
		Background: BackgroundOptions{MaxFlushDelay: delay, DisableMaintenance: true}})
	b, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	appendRows(t, b, 0, 10)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	writes := 0
	b.beforeFlushWrite = func() { writes++ } // under flushMu
	appendRows(t, b, 10, 5)
	pylanceDo(t, b.DatasetPath(), `ds.alter_columns({"path": "score", "name": "points"})`)

	ticks := 0
	tick := func() {
		clock.Advance(delay / 2)
		ticks++
		ev.waitFor(t, eventAutoFlushTick, ticks)
	}
	tick()
	tick() // the automatic flush fails
	if n := ev.count(eventAutoFlush); n != 1 {
		t.Fatalf("%d automatic flushes after two ticks, want 1", n)
	}
	for range 6 {
		tick()
	}
	if n := ev.count(eventAutoFlush); n != 1 {
		t.Fatalf("the automatic flush failed %d times in 8 ticks: it retries a flush that cannot succeed", n)
	}
	b.Flush() // under flushMu: writes is settled
	if writes != 2 {
		t.Fatalf("%d flush writes, want 2 (the automatic flush, this Flush)", writes)
	}
	err = b.Flush()
	if err == nil || !strings.Contains(err.Error(), "do not fit its schema now") ||
		!strings.Contains(err.Error(), "undo the change") {
		t.Fatalf("flush after the rename: %v", err)
	}
	if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, 15)) {
		t.Fatalf("rows after the failed flushes: %v", got)
	}
	pylanceDo(t, b.DatasetPath(), `lance.dataset(uri, version=1).restore()`)
	if err := b.Close(); err != nil {
		t.Fatalf("close after pylance restored the version: %v", err)
	}
	if got := pylanceIDs(t, b.DatasetPath()); !equalInts(got, seq(0, 15)) {
		t.Fatalf("pylance reads %v", got)
	}
}
