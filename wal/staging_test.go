package wal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hourly is an interval no test waits for: entries stay staged until
// something moves them.
var hourly = Options{Sync: SyncInterval(time.Hour)}

// stagedPayloads writes n payloads of size bytes (seeds from seed on) to l
// and returns them.
func stagedPayloads(t *testing.T, l *Log, seed, n, size int) [][]byte {
	t.Helper()
	var ps [][]byte
	for k := range n {
		p := payload(seed+k, size)
		mustWrite(t, l, p)
		ps = append(ps, p)
	}
	return ps
}

// recordOffset is where staged record k starts when every staged payload
// has size bytes.
func recordOffset(k, size int) int64 { return int64(stagingStart + k*stagedLen(size)) }

// editStaging changes the staging file of dir.
func editStaging(t *testing.T, dir string, edit func(data []byte) []byte) {
	t.Helper()
	path := filepath.Join(dir, StagingName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, edit(data), 0o640); err != nil {
		t.Fatal(err)
	}
}

// A killed process leaves its staged entries in the staging file (the
// mapping's pages are the file's): a copy of the directory taken while the
// log is open, never closed, is what a kill leaves. Open moves them to the
// segments, drops what a crash cut short, and never replays stale bytes.
func TestStagingReopen(t *testing.T) {
	const size = 100
	for _, tc := range []struct {
		name string
		// prepare writes to l (open on a fresh directory) and returns the
		// payloads written; the directory is then copied (a kill) and
		// damaged by edit.
		prepare func(t *testing.T, l *Log) [][]byte
		edit    func(t *testing.T, dir string)
		want    int    // entries 1..want of those written are kept
		first   uint64 // FirstIndex after reopening (default 1)
		warns   string // a warning that must be logged, if any
	}{
		{name: "staged only", want: 5,
			prepare: func(t *testing.T, l *Log) [][]byte { return stagedPayloads(t, l, 0, 5, size) }},
		{name: "staged after moved ones", want: 7,
			prepare: func(t *testing.T, l *Log) [][]byte {
				ps := stagedPayloads(t, l, 0, 4, size)
				if err := l.Sync(); err != nil {
					t.Fatal(err)
				}
				return append(ps, stagedPayloads(t, l, 4, 3, size)...)
			}},
		{name: "torn last entry", want: 2, warns: "dropping the staged entry at offset " + strconv.FormatInt(recordOffset(2, size), 10),
			prepare: func(t *testing.T, l *Log) [][]byte { return stagedPayloads(t, l, 0, 3, size) },
			edit: func(t *testing.T, dir string) {
				editStaging(t, dir, func(d []byte) []byte {
					end := recordOffset(3, size)
					clear(d[end-40 : end]) // the copy of its payload did not finish
					return d
				})
			}},
		{name: "corrupt entry before valid ones", want: 1, warns: "checksum mismatch",
			prepare: func(t *testing.T, l *Log) [][]byte { return stagedPayloads(t, l, 0, 4, size) },
			edit: func(t *testing.T, dir string) {
				editStaging(t, dir, func(d []byte) []byte { d[recordOffset(1, size)+50] ^= 0xff; return d })
			}},
		{name: "stale epoch beyond the write position", want: 7,
			// 5 moved, then 2 staged over the first two records of the
			// old epoch: records 3..5 of the old epoch follow them.
			prepare: func(t *testing.T, l *Log) [][]byte {
				ps := stagedPayloads(t, l, 0, 5, size)
				if err := l.Sync(); err != nil {
					t.Fatal(err)
				}
				return append(ps, stagedPayloads(t, l, 5, 2, size)...)
			}},
		{name: "header of another epoch", want: 0,
			prepare: func(t *testing.T, l *Log) [][]byte { return stagedPayloads(t, l, 0, 3, size) },
			edit: func(t *testing.T, dir string) {
				editStaging(t, dir, func(d []byte) []byte { d[8]++; return d })
			}},
		{name: "staging file never reset (zeros)", want: 0,
			prepare: func(t *testing.T, l *Log) [][]byte { return stagedPayloads(t, l, 0, 3, size) },
			edit: func(t *testing.T, dir string) {
				editStaging(t, dir, func(d []byte) []byte { return make([]byte, len(d)) })
			}},
		{name: "staging file missing", want: 0,
			prepare: func(t *testing.T, l *Log) [][]byte { return stagedPayloads(t, l, 0, 3, size) },
			edit: func(t *testing.T, dir string) {
				if err := os.Remove(filepath.Join(dir, StagingName)); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "staging file cut short", want: 2, warns: "runs past the end of the file",
			prepare: func(t *testing.T, l *Log) [][]byte { return stagedPayloads(t, l, 0, 3, size) },
			edit: func(t *testing.T, dir string) {
				editStaging(t, dir, func(d []byte) []byte { return d[:recordOffset(3, size)-1] })
			}},
		{name: "staging file too big", want: 3,
			prepare: func(t *testing.T, l *Log) [][]byte { return stagedPayloads(t, l, 0, 3, size) },
			edit: func(t *testing.T, dir string) {
				editStaging(t, dir, func(d []byte) []byte { return append(d, make([]byte, StagingSize)...) })
			}},
		{name: "indexes past TruncateFront", want: 12, first: 10,
			prepare: func(t *testing.T, l *Log) [][]byte {
				ps := stagedPayloads(t, l, 0, 3, size)
				if err := l.TruncateFront(10); err != nil {
					t.Fatal(err)
				}
				for k := 3; k < 9; k++ {
					ps = append(ps, nil) // indexes 4..9 were skipped
				}
				return append(ps, stagedPayloads(t, l, 9, 3, size)...)
			}},
		{name: "entry bigger than the staging file", want: 4,
			prepare: func(t *testing.T, l *Log) [][]byte {
				ps := stagedPayloads(t, l, 0, 2, size)
				ps = append(ps, stagedPayloads(t, l, 2, 1, StagingSize+1)...)
				return append(ps, stagedPayloads(t, l, 3, 1, size)...)
			}},
		{name: "staging file full", want: 300,
			prepare: func(t *testing.T, l *Log) [][]byte {
				ps := stagedPayloads(t, l, 0, 300, 8<<10) // 2.4 MiB: moved twice
				if dirSize(t, l.dir) == 0 {
					t.Fatal("nothing moved to the segments when the staging file was full")
				}
				return ps
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := mustOpen(t, dir, hourly)
			written := tc.prepare(t, l)
			killed := copyDir(t, dir)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if tc.edit != nil {
				tc.edit(t, killed)
			}
			if tc.edit == nil && tc.want != len(written) {
				t.Fatalf("the case keeps %d of %d entries but damages nothing", tc.want, len(written))
			}
			var rec recorder
			opts := hourly
			opts.Logger = rec.logf
			r := mustOpen(t, killed, opts)
			first := max(tc.first, 1)
			checkIndexes(t, r, first, uint64(tc.want))
			checkEntries(t, readAll(t, r), written[first-1:tc.want], first)
			if tc.warns != "" && !strings.Contains(rec.String(), tc.warns) {
				t.Errorf("log says %q, want a warning with %q", rec.String(), tc.warns)
			}
			// More writes follow on; nothing is replayed twice.
			more := payload(99, size)
			if i := mustWrite(t, r, more); i != uint64(tc.want)+1 {
				t.Fatalf("next write got index %d, want %d", i, tc.want+1)
			}
			again := copyDir(t, killed)
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(filepath.Join(killed, StagingName))
			if err != nil || st.Size() != StagingSize {
				t.Fatalf("staging file after reopening: %v, %v; want %d bytes", st, err, StagingSize)
			}
			r2 := mustOpen(t, again, hourly)
			defer r2.Close()
			checkIndexes(t, r2, first, uint64(tc.want)+1)
			checkEntries(t, readAll(t, r2), append(written[first-1:tc.want:tc.want], more), first)
		})
	}
}

// Size counts staged entries at what they will take in the segments, so
// that the engine's max_wal_size sees them.
func TestStagingSize(t *testing.T) {
	l := mustOpen(t, t.TempDir(), hourly)
	defer l.Close()
	stagedPayloads(t, l, 0, 10, 100)
	if got, want := l.Size(), 10*recordSize(100); got != want {
		t.Fatalf("Size with 10 staged entries = %d, want %d", got, want)
	}
	if got := dirSize(t, l.dir); got != 0 {
		t.Fatalf("segments hold %d bytes before any sync, want 0 (staged)", got)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if got, want := l.Size(), 10*recordSize(100); got != want || dirSize(t, l.dir) != want {
		t.Fatalf("after Sync: Size %d, segments %d; want %d", got, dirSize(t, l.dir), want)
	}
}

// A failing move keeps the staged entries staged: an Append that needs
// room fails and stages nothing, a sync tick logs it and the next retries,
// and once moves work again everything is there, in order.
func TestStagingTransferFails(t *testing.T) {
	const size = 64 << 10 // 15 fit in the staging file
	failing := errors.New("injected write failure")
	var fail bool
	ticks := make(chan time.Time)
	var rec recorder
	opts := hourly
	opts.Logger = rec.logf
	synced := make(chan struct{}, 1)
	opts.hooks = &testHooks{
		tick: ticks,
		transfer: func() error {
			if fail {
				return failing
			}
			return nil
		},
		fsync: func(f func() error) error {
			defer func() {
				select {
				case synced <- struct{}{}:
				default: // one not taken yet
				}
			}()
			return f()
		},
	}
	dir := t.TempDir()
	l := mustOpen(t, dir, opts) // an empty log: no fsync
	defer l.Close()
	var written [][]byte
	l.mu.Lock()
	fail = true
	l.mu.Unlock()
	for {
		p := payload(len(written), size)
		_, err := l.Write(p)
		if err != nil {
			if !errors.Is(err, failing) {
				t.Fatalf("Write with a full staging file: %v, want the move's error", err)
			}
			break
		}
		written = append(written, p)
	}
	if len(written) != 15 {
		t.Fatalf("%d entries staged before the staging file was full, want 15", len(written))
	}
	checkIndexes(t, l, 1, 15)
	if _, err := readFrom(l, 1); !errors.Is(err, failing) {
		t.Fatalf("ReadFrom while moves fail: %v, want the move's error", err)
	}
	if err := l.Sync(); !errors.Is(err, failing) {
		t.Fatalf("Sync while moves fail: %v, want the move's error", err)
	}
	ticks <- time.Now()
	ticks <- time.Now() // taken once the first tick's move failed
	if !strings.Contains(rec.String(), "retried at each sync") {
		t.Fatalf("log says %q, want the failed move", rec.String())
	}
	killed := copyDir(t, dir) // a kill now loses nothing
	l.mu.Lock()
	fail = false
	l.mu.Unlock()
	ticks <- time.Now()
	<-synced
	if dirSize(t, dir) != 15*recordSize(size) {
		t.Fatalf("segments hold %d bytes after the retry, want %d", dirSize(t, dir), 15*recordSize(size))
	}
	written = append(written, payload(99, 10))
	if i := mustWrite(t, l, written[15]); i != 16 {
		t.Fatalf("write after the retry got index %d, want 16", i)
	}
	checkEntries(t, readAll(t, l), written, 1)
	r := mustOpen(t, killed, hourly)
	defer r.Close()
	checkEntries(t, readAll(t, r), written[:15], 1)
}

// A child process staging entries and killed with SIGKILL loses none of
// them.
func TestStagingSIGKILL(t *testing.T) {
	if dir := os.Getenv("WAL_STAGING_CHILD"); dir != "" {
		l, err := Open(dir, hourly)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		for k := range 50 {
			if _, err := l.Write(payload(k, 200)); err != nil {
				fmt.Println("error", err)
				os.Exit(1)
			}
		}
		fmt.Println("written")
		select {} // until killed
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestStagingSIGKILL$")
	cmd.Env = append(os.Environ(), "WAL_STAGING_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "written\n" {
		_ = cmd.Process.Kill()
		t.Fatalf("child said %q, %v", line, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if dirSize(t, dir) != 0 {
		t.Fatalf("the child's entries reached the segments before the kill: the test tests nothing")
	}
	l := mustOpen(t, dir, hourly)
	defer l.Close()
	want := make([][]byte, 50)
	for k := range want {
		want[k] = payload(k, 200)
	}
	checkEntries(t, readAll(t, l), want, 1)
}

// The staging file's record layout, which Open of an older run relies on.
func TestStagingRecordLayout(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, hourly)
	defer l.Close()
	p := []byte("hello")
	mustWrite(t, l, p)
	data, err := os.ReadFile(filepath.Join(dir, StagingName))
	if err != nil {
		t.Fatal(err)
	}
	if string(data[:8]) != stagingMagic {
		t.Fatalf("header %q", data[:8])
	}
	epoch := binary.LittleEndian.Uint64(data[8:16])
	rec := data[stagingStart:]
	frame := appendEntry(nil, p)
	if n := binary.LittleEndian.Uint32(rec[0:4]); n != uint32(len(frame)) {
		t.Fatalf("record length %d, want %d", n, len(frame))
	}
	if e, i := binary.LittleEndian.Uint64(rec[8:16]), binary.LittleEndian.Uint64(rec[16:24]); e != epoch || i != 1 {
		t.Fatalf("record epoch %d index %d, want %d, 1", e, i, epoch)
	}
	// CRC-32C of epoch, index, length (little endian) and frame.
	covered := binary.LittleEndian.AppendUint64(nil, epoch)
	covered = binary.LittleEndian.AppendUint64(covered, 1)
	covered = binary.LittleEndian.AppendUint32(covered, uint32(len(frame)))
	covered = append(covered, frame...)
	if string(rec[24:24+len(frame)]) != string(frame) || binary.LittleEndian.Uint32(rec[4:8]) != crc32.Checksum(covered, castagnoli) {
		t.Fatal("record frame or checksum differ")
	}
}

// Survey and OpenReadOnly see what a killed process left staged, without
// changing the directory.
func TestStagingReadOnlyAndSurvey(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, hourly)
	written := stagedPayloads(t, l, 0, 3, 100)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	written = append(written, stagedPayloads(t, l, 3, 2, 100)...)
	killed := copyDir(t, dir)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, killed)
	s, err := Survey(killed)
	if err != nil || s.LastIndex != 5 || s.Staged != 2 || len(s.Damage) != 0 || s.Lost != nil || s.Bytes != 5*recordSize(100) {
		t.Fatalf("Survey = %+v, %v; want LastIndex 5 with 2 staged, %d bytes, no damage or loss", s, err, 5*recordSize(100))
	}
	r, err := OpenReadOnly(killed, Options{Logger: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	checkIndexes(t, r, 1, 5)
	checkEntries(t, readAll(t, r), written, 1)
	if got, want := r.Size(), 5*recordSize(100); got != want {
		t.Errorf("read-only Size = %d, want %d", got, want)
	}
	es, err := readFrom(r, 5)
	if err != nil || len(es) != 1 || es[0].index != 5 {
		t.Fatalf("ReadFrom(5) = %v, %v; want entry 5", es, err)
	}
	r.Close()
	if after := snapshot(t, killed); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatal("Survey or OpenReadOnly changed the directory")
	}
}

// Entries left staged are moved to the segments by an Open under
// SyncEveryWrite too (the engine opens a log so when the sync interval was
// changed to 0, or to flush a WAL it no longer writes), which removes the
// staging file.
func TestStagingReopenSyncEveryWrite(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, hourly)
	written := stagedPayloads(t, l, 0, 4, 100)
	killed := copyDir(t, dir)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	r := mustOpen(t, killed, Options{})
	checkIndexes(t, r, 1, 4)
	checkEntries(t, readAll(t, r), written, 1)
	if _, err := os.Stat(filepath.Join(killed, StagingName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("staging file after an Open under SyncEveryWrite: %v, want it removed", err)
	}
	if i := mustWrite(t, r, []byte("next")); i != 5 {
		t.Fatalf("next write got index %d, want 5", i)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}
