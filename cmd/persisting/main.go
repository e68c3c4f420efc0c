// Command persisting looks at, checks and maintains persisting buckets: the
// Lance datasets and write-ahead logs the queue backends keep, on local
// disk or in an object store (s3://). Each command is a thin shell over the
// engine (engine.Inspect, engine.Verify, a read-only engine.Open for tail,
// Bucket.Compact, Bucket.CleanupOldVersions); the manual is
// `persisting --help` and docs/cli.md.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/persisting/persisting/engine"
	"github.com/persisting/persisting/lance/objstore"
)

// Exit statuses (documented in exitCodes, the help and docs/cli.md).
const (
	exitOK          = 0
	exitProblems    = 1 // verify found damage
	exitUsage       = 2 // bad arguments, or PATH holds no bucket
	exitFailed      = 3 // the command could not do its work (I/O, access, engine error)
	exitInterrupted = 130
)

// version is set by build.sh (-X main.version=...) from
// python/persisting/_version.py, the one source of the version.
var version = "unknown (built without build.sh)"

// settings are the parsed options of every command (each command defines
// the flags that fill its part).
type settings struct {
	json, all, quiet, follow, offsets bool
	versions                          int64
	from                              int64
	limit                             int64 // -1: no limit
	poll                              float64
	batch                             int64
	targetRows                        int64
	olderThan                         float64
	progress                          *bool // nil: on when stderr is a terminal
	storage                           storageFlags
}

// env is what a command runs with.
type env struct {
	stdout, stderr io.Writer
	stderrIsTTY    bool
	command        string
	s              settings
	// interrupted is closed on SIGINT/SIGTERM (tail --follow ends on it).
	interrupted <-chan struct{}
	// outputClosed is closed when stdout's reader went away (tail --follow ends on it).
	outputClosed <-chan struct{}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, isTerminal(os.Stderr)))
}

// run parses args and runs the command; it returns the exit status.
func run(args []string, stdout, stderr io.Writer, stderrIsTTY bool) int {
	commands := buildCommands()
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage(commands)+"persisting: error: the following arguments are required: COMMAND\n")
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help":
		fmt.Fprint(stdout, topHelp(commands))
		return exitOK
	case "--version":
		fmt.Fprintf(stdout, "persisting %s\n", version)
		return exitOK
	}
	var c *command
	for _, cand := range commands {
		if cand.name == args[0] {
			c = cand
		}
	}
	if c == nil {
		fmt.Fprintf(stderr, "%spersisting: error: argument COMMAND: invalid choice: '%s' (choose from %s)\n",
			topUsage(commands), args[0], commandNames(commands))
		return exitUsage
	}
	e := &env{stdout: stdout, stderr: stderr, stderrIsTTY: stderrIsTTY, command: c.name,
		outputClosed: watchOutputClosed(stdout)}
	path, err := parseArgs(c, args[1:])
	var help helpRequested
	var usage *usageError
	switch {
	case errors.As(err, &help):
		fmt.Fprint(stdout, commandHelp(c))
		return exitOK
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "%spersisting %s: error: %s\n", commandUsage(c), c.name, usage.msg)
		return exitUsage
	}
	e.s = *c.s
	if err := objstore.CheckPath(path); err != nil { // the library's own rule for locations
		return report(e, fmt.Errorf("%w: %v", engine.ErrInvalidArgument, err))
	}
	path = cleanPath(path)
	e.interrupted = notifyInterrupt()
	// Every bucket under PATH reads its objects with these settings.
	if err := e.s.configureStore(path); err != nil {
		return report(e, err)
	}
	status, err := c.run(e, path)
	if err != nil {
		return report(e, err)
	}
	return status
}

// cleanPath spells PATH as the buckets found under it are spelled (so a
// bucket named with a trailing slash is still "the one bucket"): a file://
// URL as its local directory.
func cleanPath(path string) string {
	if local, ok := objstore.LocalPath(path); ok {
		return filepath.Clean(local)
	}
	if trimmed := strings.TrimRight(path, "/"); objstore.IsRemote(trimmed) {
		return trimmed
	}
	return path
}

// report prints a command's failure and picks its exit status: 2 for a bad
// argument or PATH, 0 for a reader that went away (`tail | head`), 3 else.
func report(e *env, err error) int {
	if errors.Is(err, syscall.EPIPE) {
		return exitOK
	}
	fmt.Fprint(e.stderr, printable(fmt.Sprintf("persisting %s: %v\n", e.command, err)))
	if isUsageFailure(err) {
		return exitUsage
	}
	return exitFailed
}

// pathError: PATH does not exist or names no bucket (exit 2).
type pathError struct{ msg string }

func (e *pathError) Error() string { return e.msg }

func pathProblem(format string, a ...any) error { return &pathError{msg: fmt.Sprintf(format, a...)} }

// isUsageFailure: the error is the caller's (a bad option value, a path that
// is no bucket), not the storage's.
func isUsageFailure(err error) bool {
	if errors.Is(err, engine.ErrNotFlushed) {
		return false
	}
	var p *pathError
	var c *callerError
	return errors.Is(err, engine.ErrInvalidArgument) || errors.As(err, &p) || errors.As(err, &c)
}
