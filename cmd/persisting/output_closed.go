package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// watchOutputClosed returns a channel closed when the reader of out goes
// away (`persisting tail --follow | head -1`): a follower that has nothing
// new to print would otherwise never write again, never meet EPIPE and
// wait forever. Only a pipe or socket can lose its reader; for anything
// else (a file, a terminal, a test's buffer) the channel is never closed.
func watchOutputClosed(out any) <-chan struct{} {
	closed := make(chan struct{})
	f, ok := out.(*os.File)
	if !ok {
		return closed
	}
	info, err := f.Stat()
	if err != nil || info.Mode()&(os.ModeNamedPipe|os.ModeSocket) == 0 {
		return closed
	}
	fd := int(f.Fd())
	go func() {
		// The write end of a pipe reports POLLERR once its last reader
		// closed (a socket POLLHUP); asking for no event waits for just that.
		fds := []unix.PollFd{{Fd: int32(fd)}}
		for {
			n, err := unix.Poll(fds, -1)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return // cannot watch: fall back to EPIPE at the next write
			}
			if n > 0 && fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0 {
				close(closed)
				return
			}
		}
	}()
	return closed
}
