package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// WriterLockName is the file in a bucket's storage directory that its
// writer holds an exclusive flock on for as long as the bucket is open.
const WriterLockName = ".persisting.lock"

// A bucket has one writer at a time. Two writers would each replay, buffer
// and truncate the same WAL and commit versions built from different
// buffers: acknowledged rows would be lost or written twice. So Open takes
//
//   - an exclusive flock(2) on the bucket directory itself and one on
//     {path}/.persisting.lock, which the kernel drops when the holder exits
//     in any way (a crash or kill -9 needs no stale-lock recovery). The file
//     records the holder for the message the next writer gets, and its lock
//     is what earlier versions take; the directory's lock is what keeps a
//     second writer out when the file was deleted while held (a "stale
//     lock" cleared by hand), since a new file would be a new, free lock.
//     Where a directory cannot be flocked (NFS emulates flock with byte-range
//     locks, which need a file open for writing) the file's lock is the only
//     one, and
//   - a place in a process-wide registry of canonical bucket paths, so a
//     second Open in the same process is refused with an error that says so
//     (and does not depend on how the kernel treats a second descriptor).
//
// Read-only opens take neither. An s3:// bucket has no directory to flock:
// it takes the registry place and a lease instead (writer_lease.go).

// writerLock is a held writer lock; release it exactly once.
type writerLock struct {
	key   string       // canonical bucket path, the registry key
	dir   *os.File     // holds the directory's flock; nil for s3:// or where unsupported
	wal   *os.File     // holds the flock of a WAL kept apart (wal_path); else nil
	file  *os.File     // holds the lock file's flock; nil for an s3:// bucket
	lease *writerLease // an s3:// bucket's lease; nil for a local one
}

// lockHolder is what the lock file records about the process holding it.
type lockHolder struct {
	PID     int    `json:"pid"`
	Host    string `json:"host"`
	Started string `json:"started"`
}

func (h lockHolder) String() string {
	return fmt.Sprintf("pid %d on host %s since %s", h.PID, h.Host, h.Started)
}

var (
	openWritersMu sync.Mutex
	openWriters   = map[string]lockHolder{} // canonical path -> this process, when it opened
)

// acquireWriterLockFor takes the writer lock of the bucket of opts: the
// flock of a local bucket, the lease of an s3:// one.
func acquireWriterLockFor(opts Options) (*writerLock, error) {
	if !opts.remote() {
		l, err := acquireWriterLock(opts.Path)
		if err != nil {
			return nil, err
		}
		if l.wal, err = lockWALApart(opts); err != nil {
			l.release()
			return nil, err
		}
		return l, nil
	}
	key := strings.TrimSuffix(opts.Path, "/")
	if err := registerWriter(key, opts.Path); err != nil {
		return nil, err
	}
	walDir, err := lockWALApart(opts)
	if err != nil {
		unregisterWriter(key)
		return nil, err
	}
	lease, err := acquireWriterLease(opts)
	if err != nil {
		unregisterWriter(key)
		unlockAndClose(walDir)
		return nil, err
	}
	return &writerLock{key: key, wal: walDir, lease: lease}, nil
}

// registerWriter takes the registry place of bucket key (path: as given).
func registerWriter(key, path string) error {
	openWritersMu.Lock()
	defer openWritersMu.Unlock()
	if h, taken := openWriters[key]; taken {
		return busyInProcess(path, h)
	}
	openWriters[key] = currentHolder()
	return nil
}

func unregisterWriter(key string) {
	openWritersMu.Lock()
	delete(openWriters, key)
	openWritersMu.Unlock()
}

func busyInProcess(path string, h lockHolder) error {
	return fmt.Errorf("%w: bucket %s is already open for writing in this process (%s); close that handle first, or open this one read-only",
		ErrBusy, path, h)
}

// acquireWriterLock takes the writer lock of the bucket directory dir (which
// exists). It fails with ErrBusy, naming dir and the holder, when another
// handle in this process or another process holds it.
func acquireWriterLock(dir string) (*writerLock, error) {
	key, err := canonicalPath(dir)
	if err != nil {
		return nil, fmt.Errorf("engine: storage path %s: %w", dir, err)
	}
	me := currentHolder()

	openWritersMu.Lock()
	defer openWritersMu.Unlock()
	if h, taken := openWriters[key]; taken {
		return nil, busyInProcess(dir, h)
	}
	lockPath := filepath.Join(key, WriterLockName)
	busy := func() error {
		return fmt.Errorf("%w: bucket %s is open for writing by another process: %s (lock file %s; the kernel releases the lock when that process exits, deleting the file does not); a bucket has one writer at a time - open it read-only to read alongside",
			ErrBusy, dir, describeHolder(lockPath), lockPath)
	}
	d, err := lockDir(key)
	if err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, busy()
		}
		return nil, fmt.Errorf("engine: writer lock %s: %w", key, err)
	}
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		unlockAndClose(d)
		return nil, fmt.Errorf("engine: writer lock %s: %w", lockPath, err)
	}
	if err := flockExclusive(f); err != nil {
		// Unlocking f is harmless: a flock is only ever dropped by the open
		// file description that holds it.
		unlockAndClose(f, d)
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, busy()
		}
		return nil, fmt.Errorf("engine: writer lock %s: %w", lockPath, err)
	}
	if err := recordHolder(f, me); err != nil {
		unlockAndClose(f, d)
		return nil, fmt.Errorf("engine: writer lock %s: %w", lockPath, err)
	}
	openWriters[key] = me
	return &writerLock{key: key, dir: d, file: f}, nil
}

// lockDir takes an exclusive flock on the directory dir without waiting.
// It returns (nil, nil) where directories cannot be flocked, and an error
// wrapping EWOULDBLOCK when another open file description holds it.
func lockDir(dir string) (*os.File, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	switch err := flockExclusive(d); {
	case err == nil:
		return d, nil
	case errors.Is(err, syscall.EWOULDBLOCK):
		d.Close()
		return nil, err
	case errors.Is(err, syscall.EBADF), errors.Is(err, syscall.ENOLCK), errors.Is(err, syscall.EOPNOTSUPP), errors.Is(err, syscall.EINVAL):
		d.Close() // NFS and the like: the lock file's flock is the only lock
		return nil, nil
	default:
		d.Close()
		return nil, err
	}
}

// release gives the lock up: out of the registry, then the flock, then the
// descriptor. The flock is dropped explicitly (LOCK_UN) and not by the
// close alone: a flock belongs to the open file description, which a
// process forked while the bucket was open shares; closing only our
// descriptor would leave the bucket locked until that child exits. The
// file stays: removing it would race with a writer that has it open and
// is about to lock it.
func (l *writerLock) release() {
	if l == nil {
		return
	}
	l.lease.release()
	unregisterWriter(l.key)
	unlockAndClose(l.wal, l.file, l.dir)
}

// lockWALApart takes an exclusive flock on the bucket's WAL directory when
// it lives apart from the bucket (wal_path), where the bucket's own lock
// does not cover it; nil when there is none to lock. An s3:// bucket's lease
// can pass to a new writer while the old one still runs (paused past its
// lease): on the same node, with the same wal_path, both would append to,
// replay and truncate one log, and the old writer's acknowledged entries
// would be lost. So a second writer on that node is refused, before it
// touches the lease, until the old process ends.
func lockWALApart(opts Options) (*os.File, error) {
	if opts.WALPath == "" {
		return nil, nil
	}
	dir := opts.walPath()
	if !opts.WAL.Enabled && !isDir(dir) {
		return nil, nil // no WAL, and none left to flush (recoverWAL opens none)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrWAL, err)
	}
	d, err := lockDir(dir)
	switch {
	case errors.Is(err, syscall.EWOULDBLOCK):
		return nil, fmt.Errorf("%w: bucket %s: its WAL directory %s is in use by another process on this host: a writer of this bucket (one that lost its lease but still runs, paused or stopped, keeps its acknowledged entries there); end that process first, the kernel releases the directory when it exits",
			ErrBusy, opts.Path, dir)
	case err != nil:
		return nil, fmt.Errorf("%w: lock %s: %v", ErrWAL, dir, err)
	}
	return d, nil
}

// unlockAndClose drops the flock of each file that is not nil (retrying
// when a signal interrupts it), then closes it.
func unlockAndClose(files ...*os.File) {
	for _, f := range files {
		if f == nil {
			continue
		}
		for errors.Is(syscall.Flock(int(f.Fd()), syscall.LOCK_UN), syscall.EINTR) {
		}
		f.Close()
	}
}

// flockExclusive takes an exclusive flock on f without waiting, retrying
// when a signal interrupts the call.
func flockExclusive(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// recordHolder replaces the lock file's content with h. Only the holder of
// the flock writes, so a reader sees at worst a write in progress.
func recordHolder(f *os.File, h lockHolder) error {
	text, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err = f.WriteAt(append(text, '\n'), 0)
	return err
}

// describeHolder reads who holds the lock at lockPath, for an error message.
func describeHolder(lockPath string) string {
	text, err := os.ReadFile(lockPath)
	if errors.Is(err, os.ErrNotExist) {
		return "holder unknown (its lock file was deleted; the bucket directory stays locked)"
	} else if err != nil {
		return "holder unknown (" + err.Error() + ")"
	}
	var h lockHolder
	if err := json.Unmarshal(text, &h); err != nil || h.PID == 0 {
		return "holder unknown (the lock file does not say)"
	}
	return h.String() + holderNote(h)
}

// holderNote adds what this host can tell about a recorded holder that
// cannot be the lock's only owner: this very process (the bucket reached
// through another path, such as a bind mount), or a process that has
// exited, whose lock a child it forked while the bucket was open keeps
// (the kernel drops it when that child exits).
func holderNote(h lockHolder) string {
	if host, err := os.Hostname(); err != nil || host != h.Host {
		return ""
	}
	if h.PID == os.Getpid() {
		return ", which is this process: the bucket is already open for writing here under another path"
	}
	if err := syscall.Kill(h.PID, 0); errors.Is(err, syscall.ESRCH) {
		return ", which has exited: a process it started while the bucket was open (a forked worker) still holds the lock, until it exits"
	}
	return ""
}

func currentHolder() lockHolder {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return lockHolder{PID: os.Getpid(), Host: host, Started: time.Now().UTC().Format(time.RFC3339)}
}

// canonicalPath names dir the same way however it was spelt: absolute, clean,
// symbolic links resolved.
func canonicalPath(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	resolved, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", err
	}
	return resolved, nil
}
