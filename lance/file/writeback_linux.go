package file

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks Linux to start writing back bytes [off, off+n) of f
// (sync_file_range(SYNC_FILE_RANGE_WRITE)). Failure only loses the head start.
func startWriteback(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
	})
}
