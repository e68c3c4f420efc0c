package engine

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance"
)

// TestSecondWriterInOneProcessIsBusy: however the path is spelt, a second
// writer handle in the same process is refused with ErrBusy naming the path,
// and the first handle's rows are untouched; after Close the path opens again.
func TestSecondWriterInOneProcessIsBusy(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	first, err := Open(Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	rec := makeRows(t, memory.DefaultAllocator, 0, 5)
	defer rec.Release()
	if err := first.Append(rec); err != nil {
		t.Fatal(err)
	}
	for _, spelling := range []string{dir, dir + "/", dir + "/.", link} {
		_, err := Open(Options{Path: spelling, WAL: WALOptions{Enabled: true}})
		if !errors.Is(err, ErrBusy) {
			t.Fatalf("second open of %s: err = %v, want ErrBusy", spelling, err)
		}
		if !strings.Contains(err.Error(), spelling) || !strings.Contains(err.Error(), "this process") {
			t.Fatalf("the error names neither the path nor the holder: %v", err)
		}
	}
	if total, _, _, err := first.Counts(); err != nil || total != 5 {
		t.Fatalf("first handle: total %d, err %v", total, err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Open(Options{Path: link})
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	defer again.Close()
	if total, _, _, _ := again.Counts(); total != 5 {
		t.Fatalf("reopened bucket holds %d rows, want 5", total)
	}
}

// TestFailedOpenReleasesTheWriterLock: an open that fails after taking the
// lock (here: a damaged WAL) gives it back.
func TestFailedOpenReleasesTheWriterLock(t *testing.T) {
	dir := t.TempDir()
	walDir := filepath.Join(dir, WALDirName)
	if err := os.MkdirAll(walDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Two segments with a gap between them: not a torn tail, Open fails.
	for _, name := range []string{"00000000000000000001", "00000000000000000009"} {
		if err := os.WriteFile(filepath.Join(walDir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Open(Options{Path: dir, WAL: WALOptions{Enabled: true}}); err == nil || errors.Is(err, ErrBusy) {
		t.Fatalf("open over a damaged WAL: err = %v, want a WAL error", err)
	}
	b, err := Open(Options{Path: dir, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	lock, err := acquireWriterLock(dir)
	if err != nil {
		t.Fatalf("the failed open kept the writer lock: %v", err)
	}
	lock.release()
}

// TestReadOnlyOpenBesideTheWriter: a read-only handle needs no lock, reads
// what was committed, and refuses to write.
func TestReadOnlyOpenBesideTheWriter(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	rec := makeRows(t, memory.DefaultAllocator, 0, 7)
	defer rec.Release()
	if err := w.Append(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(Options{Path: dir, ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only open beside the writer: %v", err)
	}
	defer r.Close()
	_, recs, err := r.Read(0, -1, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(t, recs); len(got) != 7 {
		t.Fatalf("read-only handle reads %v", got)
	}
	releaseAll(recs)
	writes := map[string]func() error{
		"append":  func() error { return r.Append(rec) },
		"compact": func() error { _, err := r.Compact(0); return err },
		"cleanup": func() error { _, err := r.CleanupOldVersions(0); return err },
		"index":   func() error { _, err := r.CreateIndex("id", lance.IndexBTree); return err },
	}
	for name, write := range writes {
		if err := write(); !errors.Is(err, lance.ErrUnsupported) {
			t.Errorf("%s on a read-only handle: err = %v, want ErrUnsupported", name, err)
		}
	}
	if _, err := Open(Options{Path: filepath.Join(dir, "missing"), ReadOnly: true}); err == nil {
		t.Fatal("a read-only open created a missing bucket")
	}
}

// holderEnv names the bucket directory the helper process locks.
const holderEnv = "PERSISTING_TEST_LOCK_HOLDER_DIR"

// TestHelperHoldWriterLock is not a test: run by startHolder in a child
// process, it opens the bucket with the WAL, appends rows 0..9 (each
// acknowledged, so fsynced), says "holding" and waits to be killed.
func TestHelperHoldWriterLock(t *testing.T) {
	dir := os.Getenv(holderEnv)
	if dir == "" {
		t.Skip("helper process for TestWriterLockAcrossProcesses")
	}
	b, err := Open(Options{Path: dir, WAL: WALOptions{Enabled: true}})
	if err != nil {
		fmt.Println("open failed:", err)
		os.Exit(2)
	}
	for i := int64(0); i < 10; i++ {
		rec := makeRows(t, memory.DefaultAllocator, i, 1)
		if err := b.Append(rec); err != nil {
			fmt.Println("append failed:", err)
			os.Exit(2)
		}
		rec.Release()
	}
	fmt.Println("holding")
	bufio.NewReader(os.Stdin).ReadString('\n') // until killed (or stdin closes)
	os.Exit(3)                                 // never reached under the test: it kills us
}

// startHolder runs TestHelperHoldWriterLock in a child process and returns
// once the child holds the lock.
func startHolder(t *testing.T, dir string) *exec.Cmd {
	t.Helper()
	cmd, line := startChild(t, "TestHelperHoldWriterLock", holderEnv+"="+dir)
	if line != "holding" {
		t.Fatalf("helper process: %q", line)
	}
	return cmd
}

// idsAfterKilling kills holder (kill -9), then opens the bucket at dir for
// writing, as the next writer does, and returns the ids of its rows.
func idsAfterKilling(t *testing.T, holder *exec.Cmd, dir string) []int64 {
	t.Helper()
	if err := holder.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	holder.Wait() // the process is gone: the kernel dropped its flock
	b, err := Open(Options{Path: dir, WAL: WALOptions{Enabled: true}})
	if err != nil {
		t.Fatalf("open after the holder was killed: %v", err)
	}
	defer b.Close()
	_, recs, err := b.Read(0, -1, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseAll(recs)
	return ids(t, recs)
}

// startChild runs this binary's test function name in a child process with
// env (NAME=value) set, and returns it with the first line it printed. The
// child runs until it is killed; the test's cleanup kills it.
func startChild(t *testing.T, name, env string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); stdin.Close() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	return cmd, strings.TrimSpace(line)
}

// TestWriterLockAcrossProcesses: while another process holds the bucket, an
// open for writing fails with ErrBusy naming the holder's pid and host (and
// a read-only open works); kill -9 of the holder releases the lock, and the
// next writer recovers every row the holder had acknowledged.
func TestWriterLockAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	holder := startHolder(t, dir)

	_, err := Open(Options{Path: dir, WAL: WALOptions{Enabled: true}})
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("open while another process writes: err = %v, want ErrBusy", err)
	}
	host, _ := os.Hostname()
	for _, want := range []string{dir, "pid " + strconv.Itoa(holder.Process.Pid), host, WriterLockName} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("the error does not say %q: %v", want, err)
		}
	}
	ro, err := Open(Options{Path: dir, ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only open beside another process's writer: %v", err)
	}
	ro.Close()

	got := idsAfterKilling(t, holder, dir)
	if len(got) != 10 {
		t.Fatalf("after kill -9 the bucket holds rows %v, want the 10 acknowledged", got)
	}
	for i, id := range got {
		if id != int64(i) {
			t.Fatalf("rows %v, want 0..9 in order", got)
		}
	}
}
