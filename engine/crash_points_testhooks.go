//go:build testhooks

package engine

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// Unset, each crash point costs one atomic load.

var crashPoint struct {
	once  sync.Once
	name  string
	after int64
	hits  atomic.Int64
	armed atomic.Bool
}

func loadCrashPoint() {
	spec := os.Getenv("PERSISTING_TEST_CRASH_AT")
	if spec == "" {
		return
	}
	name, count, _ := strings.Cut(spec, ":")
	n, err := strconv.ParseInt(count, 10, 64)
	if err != nil || n < 1 {
		n = 1
	}
	crashPoint.name, crashPoint.after = name, n
	crashPoint.armed.Store(true)
}

func crashAt(point string) {
	crashPoint.once.Do(loadCrashPoint)
	if !crashPoint.armed.Load() || crashPoint.name != point {
		return
	}
	if crashPoint.hits.Add(1) == crashPoint.after {
		syscall.Kill(os.Getpid(), syscall.SIGKILL) //nolint:errcheck // the process is gone either way
	}
}
