package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/engine"
	"github.com/persisting/persisting/lance"
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
	// mark names the version last read (Version 0: none), to tell a later
	// version of that dataset from another dataset in its place.
	mark lance.Mark
	held bool // a dataset was read: no dataset (or bucket directory) there since is a dataset gone
}

// reopened is what a reopen found.
type reopened struct {
	end, first int64 // the offset after the last record; the first one retention kept
	// replaced says why the dataset is not the one read before (it was
	// overwritten, restored or made again); gone: one was read, and there
	// is none now
	replaced string
	gone     bool
}

// reopen opens the newest committed version. A bucket directory that went
// away after a dataset was read is a dataset gone (not a failed open).
func (r *tailReader) reopen() (reopened, error) {
	r.close()
	b, err := engine.Open(r.opts)
	if err != nil {
		if r.held && errors.Is(err, fs.ErrNotExist) {
			r.mark = lance.Mark{}
			return reopened{gone: true}, nil
		}
		return reopened{}, err
	}
	r.bucket = b
	st, err := b.Stats()
	if err != nil {
		return reopened{}, err
	}
	got := reopened{end: st.PersistedCount, first: st.FirstRetainedOffset}
	switch {
	case st.Version == 0:
		got.gone = r.held
		r.mark = lance.Mark{}
	case r.mark.Version == 0:
		mark, err := lance.VersionMark(b.DatasetPath(), st.Version)
		if err != nil {
			return reopened{}, err
		}
		r.mark, r.held = mark, true
	default:
		mark, why, err := lance.ReplacedSince(b.DatasetPath(), r.mark, st.Version)
		if err != nil {
			return reopened{}, err // the mark stays: the next poll checks again
		}
		r.mark, got.replaced = mark, why
	}
	return got, nil
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
	now, err := r.reopen()
	if err != nil {
		return 0, err
	}
	rows, first := now.end, now.first
	offset := e.s.from
	if offset < 0 {
		offset = max(rows+offset, 0)
	}
	offset = max(offset, first) // what retention dropped is not there to print
	var printed, bytesRead int64
	limited := func() bool { return e.s.limit >= 0 && printed >= e.s.limit }
	stale, failures, gone := false, 0, false
	for {
		err := func() error {
			if stale {
				now, err := r.reopen()
				if err != nil {
					return err
				}
				rows, first, stale = now.end, now.first, false
				switch {
				case now.gone && !gone:
					fmt.Fprint(e.stderr, printable(fmt.Sprintf("persisting tail: the dataset of %s is no longer there; waiting for it\n", b.path)))
				case now.replaced != "" || gone && !now.gone && rows > 0:
					why := now.replaced
					if why == "" {
						why = "it is there again"
					}
					fmt.Fprint(e.stderr, printable(fmt.Sprintf("persisting tail: the dataset of %s was replaced: %s; printing it from its first record\n", b.path, why)))
					offset = first
				}
				if gone = now.gone || gone && rows == 0; gone {
					return nil
				}
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
