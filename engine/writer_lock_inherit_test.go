package engine

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// startInheritor starts a process that inherits f (a lock file descriptor),
// as a worker forked while the bucket is open does, and keeps it until its
// stdin closes. It returns the process; the test's cleanup ends it.
func startInheritor(t *testing.T, f *os.File) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("cat")
	cmd.ExtraFiles = []*os.File{f}
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
	startInheritor(t, b.lock.file)
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
	child.ExtraFiles = []*os.File{b.lock.file}
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
	holder := exec.Command(os.Args[0], "-test.run=^TestHelperHoldWriterLockWithChild$", "-test.count=1")
	holder.Env = append(os.Environ(), inheritEnv+"="+dir)
	stdin, err := holder.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	holder.Stderr = os.Stderr
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	childPID, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		holder.Process.Kill()
		holder.Wait()
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
