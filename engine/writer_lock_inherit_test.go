package engine

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// lockFiles are the descriptors that hold the writer lock of b, which a
// process forked while the bucket is open inherits.
func lockFiles(b *Bucket) []*os.File {
	if b.lock.dir == nil {
		return []*os.File{b.lock.file}
	}
	return []*os.File{b.lock.file, b.lock.dir}
}

// startInheritor starts a process that inherits files (lock descriptors),
// as a worker forked while the bucket is open does, and keeps them until its
// stdin closes. It returns the process; the test's cleanup ends it.
func startInheritor(t *testing.T, files []*os.File) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("cat")
	cmd.ExtraFiles = files
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	return cmd
}

// TestCloseReleasesALockAChildInherited: a process started while the bucket
// was open that inherited the lock's descriptor (a forked worker) does not
// keep the bucket locked once the writer closes it.
func TestCloseReleasesALockAChildInherited(t *testing.T) {
	dir := t.TempDir()
	b, err := Open(Options{Path: dir, WAL: WALOptions{Enabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	startInheritor(t, lockFiles(b))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Open(Options{Path: dir, WAL: WALOptions{Enabled: true}})
	if err != nil {
		t.Fatalf("reopen after close while a child holds the inherited descriptor: %v", err)
	}
	again.Close()
}

// inheritEnv makes TestHelperHoldWriterLockWithChild's holder start a child
// that inherits its lock descriptor.
const inheritEnv = "PERSISTING_TEST_LOCK_INHERIT_DIR"

// TestHelperHoldWriterLockWithChild is not a test: run in a child process by
// TestBusyNamesAnExitedHolder, it opens the bucket, starts a process that
// inherits the lock's descriptor, prints that process's pid and waits to
// be killed.
func TestHelperHoldWriterLockWithChild(t *testing.T) {
	dir := os.Getenv(inheritEnv)
	if dir == "" {
		t.Skip("helper process for TestBusyNamesAnExitedHolder")
	}
	b, err := Open(Options{Path: dir})
	if err != nil {
		fmt.Println("open failed:", err)
		os.Exit(2)
	}
	child := exec.Command("sleep", "600")
	child.ExtraFiles = lockFiles(b)
	if err := child.Start(); err != nil {
		fmt.Println("start failed:", err)
		os.Exit(2)
	}
	fmt.Println(child.Process.Pid)
	bufio.NewReader(os.Stdin).ReadString('\n') // until killed
	os.Exit(3)
}

// TestBusyNamesAnExitedHolder: when the writer was killed but a process it
// started still holds the inherited lock, the next writer's ErrBusy says
// the recorded holder has exited and why the bucket is still locked (the
// kernel drops the lock when that process ends).
func TestBusyNamesAnExitedHolder(t *testing.T) {
	dir := t.TempDir()
	holder, line := startChild(t, "TestHelperHoldWriterLockWithChild", inheritEnv+"="+dir)
	childPID, err := strconv.Atoi(line)
	if err != nil {
		t.Fatalf("helper process: %q", line)
	}
	defer syscall.Kill(childPID, syscall.SIGKILL)
	holder.Process.Signal(syscall.SIGKILL)
	holder.Wait()

	_, err = Open(Options{Path: dir})
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("open while the inheritor holds the lock: err = %v, want ErrBusy", err)
	}
	for _, want := range []string{"pid " + strconv.Itoa(holder.Process.Pid), "has exited", "forked"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("the error does not say %q: %v", want, err)
		}
	}

}

// TestDeletedLockFileKeepsTheBucketLocked: deleting (or replacing) the lock
// file of a running writer, as someone clearing a "stale lock" by hand
// does, does not let a second writer in: it would replay the same WAL
// entries again (duplicates) beside the first. Once the holder is gone the
// bucket opens, with each acknowledged row once.
func TestDeletedLockFileKeepsTheBucketLocked(t *testing.T) {
	for name, tamper := range map[string]func(lockPath string) error{
		"deleted": os.Remove,
		"replaced": func(lockPath string) error {
			if err := os.Remove(lockPath); err != nil {
				return err
			}
			return os.WriteFile(lockPath, nil, 0o644)
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			holder := startHolder(t, dir)
			if err := tamper(filepath.Join(dir, WriterLockName)); err != nil {
				t.Fatal(err)
			}
			_, err := Open(Options{Path: dir, WAL: WALOptions{Enabled: true}})
			if !errors.Is(err, ErrBusy) {
				t.Fatalf("open beside a writer whose lock file was %s: err = %v, want ErrBusy", name, err)
			}
			if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "deleting the file does not") {
				t.Fatalf("the error does not explain the lock: %v", err)
			}
			if got := idsAfterKilling(t, holder, dir); len(got) != 10 {
				t.Fatalf("rows %v, want the holder's 10 once each", got)
			}
		})
	}
}

// TestBusyByThisProcessUnderAnotherPath: when this process already holds a
// bucket's lock under a path the registry does not recognise as the same
// (a bind mount), the error says the holder is this process, instead of
// calling it another one.
func TestBusyByThisProcessUnderAnotherPath(t *testing.T) {
	dir := t.TempDir()
	// What a writer opened through a bind mount holds: the directory's and
	// the file's locks, taken by this process, under another registry key.
	d, err := lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, WriterLockName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := flockExclusive(f); err != nil {
		t.Fatal(err)
	}
	if err := recordHolder(f, currentHolder()); err != nil {
		t.Fatal(err)
	}
	_, err = Open(Options{Path: dir})
	unlockAndClose(f, d)
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "which is this process") {
		t.Fatalf("open while this process holds the lock under another path: %v", err)
	}
}
