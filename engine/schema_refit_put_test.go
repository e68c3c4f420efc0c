package engine

import (
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// refitOpts is a bucket with a WAL whose flushes happen when asked.
func refitOpts(dir string, t *testing.T) Options {
	return Options{Path: dir, FlushThreshold: 1000, Logger: t.Logf, WAL: WALOptions{Enabled: true},
		Background: BackgroundOptions{DisableMaintenance: true}}
}

// TestPutsAfterAFailedRefitAreRefused: pylance renames, drops or casts a
// field while a bucket without schema evolution holds rows that then do
// not fit. The flush fails (TestRefitAfterAnotherWriterChangedTheSchema);
// every put after it - a record of the old shape, one of the new, an Arrow
// batch or a marshalled record - is refused with a schema error naming the
// change, and is neither buffered nor logged: it could only wait behind
// rows that cannot be written as things stand. (Puts of the old shape used
// to be acknowledged, logged, and never stored.) The buffered rows stay
// readable; once pylance restores the old schema, a flush stores them and
// puts are taken again.
func TestPutsAfterAFailedRefitAreRefused(t *testing.T) {
	for _, tc := range []struct {
		name, change string
		newShape     pyDict // a record that fits the changed dataset
	}{
		{"rename", `ds.alter_columns({"path": "score", "name": "points"})`,
			pyDict{{"id", int64(90)}, {"points", 1.5}, {"ok", true}, {"name", "x"}}},
		{"drop", `ds.drop_columns(["score"])`,
			pyDict{{"id", int64(90)}, {"ok", true}, {"name", "x"}}},
		{"cast", `ds.alter_columns({"path": "score", "data_type": pa.float32()})`,
			pyDict{{"id", int64(90)}, {"score", 1.5}, {"ok", true}, {"name", "x"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			b, err := Open(refitOpts(dir, t))
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			appendRows(t, b, 0, 10)
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
			appendRows(t, b, 10, 5)
			pylanceDo(t, b.DatasetPath(), tc.change)
			if err := b.Flush(); err == nil || !strings.Contains(err.Error(), "do not fit its schema now") {
				t.Fatalf("flush after the change: %v", err)
			}
			walBefore := b.walSize()
			old := makeRows(t, memory.DefaultAllocator, 15, 2)
			defer old.Release()
			for _, put := range []struct {
				name string
				do   func() error
			}{
				{"arrow, old shape", func() error { return b.Append(old) }},
				{"arrow batches, old shape", func() error { return b.AppendBatches([]arrow.Record{old}) }},
				{"records, old shape", func() error { _, err := b.AppendRecords(pyMarshal(t, testRecord(15))); return err }},
				{"records, new shape", func() error { _, err := b.AppendRecords(pyMarshal(t, tc.newShape)); return err }},
			} {
				err := put.do()
				if !errors.Is(err, ErrSchemaMismatch) || !strings.Contains(err.Error(), "put refused: another writer changed the dataset (version 2)") ||
					!strings.Contains(err.Error(), "the 5 buffered rows do not fit") || !strings.Contains(err.Error(), "score") {
					t.Fatalf("%s after the failed refit: %v", put.name, err)
				}
			}
			if total, _, buffered, err := b.Counts(); err != nil || total != 15 || buffered != 5 {
				t.Fatalf("counts after the refused puts: %d total, %d buffered, %v", total, buffered, err)
			}
			if got := b.walSize(); got != walBefore {
				t.Fatalf("the refused puts changed the WAL: %d bytes, was %d", got, walBefore)
			}
			if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, 15)) {
				t.Fatalf("rows after the refused puts: %v", got)
			}

			pylanceDo(t, b.DatasetPath(), `lance.dataset(uri, version=1).restore()`)
			if err := b.Append(old); !errors.Is(err, ErrSchemaMismatch) { // the refusal holds until a flush
				t.Fatalf("put after the restore, before a flush: %v", err)
			}
			if err := b.Flush(); err != nil {
				t.Fatalf("flush after the restore: %v", err)
			}
			if err := b.Append(old); err != nil {
				t.Fatalf("put after the flush: %v", err)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			if got := pylanceIDs(t, b.DatasetPath()); !equalInts(got, seq(0, 17)) {
				t.Fatalf("pylance reads %v", got)
			}
		})
	}
}

// TestFailedRefitRowsWaitInTheWAL: a bucket with a WAL closed while its
// rows do not fit the schema pylance gave the dataset closes (the WAL holds
// them); opening it again fails, saying so and what to do, until the change
// is undone; then every row is replayed and stored.
func TestFailedRefitRowsWaitInTheWAL(t *testing.T) {
	dir := t.TempDir()
	b, err := Open(refitOpts(dir, t))
	if err != nil {
		t.Fatal(err)
	}
	appendRows(t, b, 0, 10)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	appendRows(t, b, 10, 5)
	path := b.DatasetPath()
	pylanceDo(t, path, `ds.alter_columns({"path": "score", "name": "points"})`)
	if err := b.Close(); err == nil || !b.Closed() {
		t.Fatalf("close with rows that do not fit: %v (closed: %v)", err, b.Closed())
	}
	_, err = Open(refitOpts(dir, t))
	if !errors.Is(err, ErrWAL) || !errors.Is(err, ErrSchemaMismatch) || !strings.Contains(err.Error(), "field 'score'") ||
		!strings.Contains(err.Error(), "undo the change (pylance's restore)") {
		t.Fatalf("open before the change is undone: %v", err)
	}
	pylanceDo(t, path, `lance.dataset(uri, version=1).restore()`)
	b, err = Open(refitOpts(dir, t))
	if err != nil {
		t.Fatalf("open after the restore: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if got := pylanceIDs(t, path); !equalInts(got, seq(0, 15)) {
		t.Fatalf("pylance reads %v", got)
	}
}

// TestPutWaitingForAFlushThatFailsToRefitIsRefused: a put held back by a
// full buffer (back-pressure) waits for a flush that then finds rows that
// do not fit the schema pylance changed: it is refused like any put after
// it, not stored behind them.
func TestPutWaitingForAFlushThatFailsToRefitIsRefused(t *testing.T) {
	for _, kind := range []string{"arrow", "records"} {
		t.Run(kind, func(t *testing.T) {
			b := openBucket(t, t.TempDir(), 10)
			appendRows(t, b, 0, 5)
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
			pylanceDo(t, b.DatasetPath(), `ds.alter_columns({"path": "score", "name": "points"})`)
			entered, release := holdFlush(b)
			defer release()
			waiting := make(chan struct{}, 1)
			b.onBackPressure = func() { waiting <- struct{}{} }
			appendRows(t, b, 5, 10) // the threshold: a background flush takes them
			<-entered
			result := make(chan error, 1)
			go func() { // past twice the threshold: waits for that flush
				if kind == "arrow" {
					rec := makeRows(t, memory.DefaultAllocator, 15, 11)
					defer rec.Release()
					result <- b.Append(rec)
				} else {
					_, err := b.AppendRecords(pyMarshal(t, testRecords(15, 11)))
					result <- err
				}
			}()
			<-waiting
			release()
			if err := <-result; !errors.Is(err, ErrSchemaMismatch) || !strings.Contains(err.Error(), "put refused") {
				t.Fatalf("the put that waited for the failed flush: %v", err)
			}
			if total, _, buffered, err := b.Counts(); err != nil || total != 15 || buffered != 10 {
				t.Fatalf("counts: %d total, %d buffered, %v", total, buffered, err)
			}
			pylanceDo(t, b.DatasetPath(), `lance.dataset(uri, version=1).restore()`)
			if err := b.Close(); err != nil {
				t.Fatalf("close after the restore: %v", err)
			}
			if got := pylanceIDs(t, b.DatasetPath()); !equalInts(got, seq(0, 15)) {
				t.Fatalf("pylance reads %v", got)
			}
		})
	}
}
