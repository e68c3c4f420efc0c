package main

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/engine"
)

// followRetries is how many failed reads in a row end tail (--follow or
// not): a version removed by a cleanup between listing and reading it fails
// one read, the reopened bucket sees it gone; a bucket that stays
// unreadable ends the command.
const followRetries = 3

// Records are read in batches of up to --batch rows, but of no more than
// about readBudget bytes: 1000 records of 4 MiB each would hold 4 GiB at
// once. The first read takes firstReadRows; later ones are sized by the
// bytes per row seen so far.
const (
	readBudget    = 64 << 20
	firstReadRows = 16
)

// rowsPerRead is how many rows the next read may take, given the bytes and
// rows read so far and the --batch ceiling.
func rowsPerRead(bytesRead, rowsRead, ceiling int64) int64 {
	if rowsRead == 0 {
		return min(ceiling, firstReadRows)
	}
	perRow := max(bytesRead/rowsRead, 1)
	return max(min(ceiling, readBudget/perRow), 1)
}

// tailReader is the bucket opened read-only, reopened to see newer versions.
type tailReader struct {
	opts   engine.Options
	bucket *engine.Bucket
}

// reopen opens the newest committed version; it returns the offset after
// its last record and the first offset retention kept.
func (r *tailReader) reopen() (end, first int64, err error) {
	r.close()
	b, err := engine.Open(r.opts)
	if err != nil {
		return 0, 0, err
	}
	r.bucket = b
	st, err := b.Stats()
	if err != nil {
		return 0, 0, err
	}
	_, end, _, err = b.Counts()
	return end, st.FirstRetainedOffset, err
}

func (r *tailReader) close() {
	if r.bucket != nil {
		r.bucket.Close()
		r.bucket = nil
	}
}

func runTail(e *env, path string) (int, error) {
	b, err := oneBucket(path)
	if err != nil {
		return 0, err
	}
	opts, err := e.s.bucketOptions(b.path, map[string]any{"read_only": true})
	if err != nil {
		return 0, err
	}
	if e.s.follow {
		graceful.Store(true)
	}
	r := &tailReader{opts: opts}
	defer r.close()
	out := bufio.NewWriter(e.stdout)
	rows, first, err := r.reopen()
	if err != nil {
		return 0, err
	}
	offset := e.s.from
	if offset < 0 {
		offset = max(rows+offset, 0)
	}
	offset = max(offset, first) // what retention dropped is not there to print
	var printed, bytesRead int64
	limited := func() bool { return e.s.limit >= 0 && printed >= e.s.limit }
	stale, failures := false, 0
	for {
		err := func() error {
			if stale {
				var err error
				if rows, first, err = r.reopen(); err != nil {
					return err
				}
				stale = false
				if offset < first {
					fmt.Fprintf(e.stderr, "persisting tail: offsets %d..%d were dropped by retention before they were printed\n", offset, first-1)
					offset = first
				}
			}
			for offset < rows && !limited() {
				// A range of offsets, not of rows: cleared offsets hold no
				// record, so a range may print fewer (or none) and the
				// records' own offsets are asked for.
				n := min(rowsPerRead(bytesRead, printed, e.s.batch), rows-offset)
				if e.s.limit >= 0 {
					n = min(n, e.s.limit-printed)
				}
				got, size, err := printRecords(out, r.bucket, offset, n, e.s.offsets)
				printed += got
				bytesRead += size
				if err != nil {
					return err
				}
				offset += n
			}
			return nil
		}()
		var printing *writeError
		switch {
		case errors.As(err, &printing):
			return 0, printing.err
		case err != nil:
			failures++
			if failures >= followRetries {
				return 0, err
			}
			fmt.Fprint(e.stderr, printable(fmt.Sprintf("persisting tail: %v (trying again)\n", err)))
			if !e.s.follow {
				// A writer's compaction and cleanup beside it removed the
				// files of the version being read: reopen the newest at once.
				stale = true
				continue
			}
		default:
			failures = 0
		}
		if !e.s.follow || limited() {
			return exitOK, nil
		}
		select {
		case <-e.interrupted:
			return exitOK, nil // the way --follow ends
		case <-e.outputClosed:
			return exitOK, nil // as a write would have met EPIPE
		case <-time.After(time.Duration(e.s.poll * float64(time.Second))):
		}
		stale = true
	}
}

// writeError is a failure to write the output (not to read the bucket).
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }

// printRecords prints up to n records from offset, one JSON line each, and
// returns how many it printed and the bytes of what it read.
func printRecords(out *bufio.Writer, b *engine.Bucket, offset, n int64, withOffsets bool) (int64, int64, error) {
	_, recs, err := b.Read(offset, n, memory.DefaultAllocator)
	if err != nil {
		return 0, 0, err
	}
	offsets := make([]int64, n)
	for i := range offsets {
		offsets[i] = offset + int64(i)
	}
	if offsets, err = b.LiveIndexes(offsets); err != nil {
		releaseRecords(recs)
		return 0, 0, err
	}
	var size int64
	for _, rec := range recs {
		size += recordBytes(rec)
	}
	defer releaseRecords(recs)
	rows := 0
	for _, rec := range recs {
		rows += int(rec.NumRows())
	}
	if rows != len(offsets) {
		return 0, 0, fmt.Errorf("read %d records at offsets %d..%d, but %d of those offsets hold one", rows, offset, offset+n-1, len(offsets))
	}
	var line strings.Builder
	var printed int64
	for _, rec := range recs {
		for i := 0; i < int(rec.NumRows()); i++ {
			line.Reset()
			if withOffsets {
				fmt.Fprintf(&line, `{"offset": %d, "record": `, offsets[printed])
			}
			if err := recordJSON(&line, rec, i); err != nil {
				return printed, size, err
			}
			if withOffsets {
				line.WriteByte('}')
			}
			line.WriteByte('\n')
			if _, err := out.WriteString(line.String()); err != nil {
				return printed, size, &writeError{err}
			}
			printed++
		}
	}
	if err := out.Flush(); err != nil {
		return printed, size, &writeError{err}
	}
	return printed, size, nil
}

// recordBytes is the size of rec's buffers (children and dictionaries too).
func recordBytes(rec arrow.Record) int64 {
	var size int64
	var add func(d arrow.ArrayData)
	add = func(d arrow.ArrayData) {
		for _, buf := range d.Buffers() {
			if buf != nil {
				size += int64(buf.Len())
			}
		}
		for _, child := range d.Children() {
			add(child)
		}
		if d.DataType().ID() == arrow.DICTIONARY { // else Dictionary() is a typed nil
			add(d.Dictionary())
		}
	}
	for _, col := range rec.Columns() {
		add(col.Data())
	}
	return size
}

func releaseRecords(recs []arrow.Record) {
	for _, rec := range recs {
		rec.Release()
	}
}
