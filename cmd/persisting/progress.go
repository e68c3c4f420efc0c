package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// progress is a one-line bar on stderr, redrawn while a step runs; it
// draws nothing unless enabled (stderr is a terminal), so piped output and
// logs stay clean.
type progress struct {
	mu      sync.Mutex
	out     io.Writer
	enabled bool
	what    string
	total   int
	done    int
	label   string
	started time.Time
	stop    chan struct{}
	stopped sync.WaitGroup
}

const progressWidth = 24

func startProgress(out io.Writer, enabled bool, what string, total int) *progress {
	p := &progress{out: out, enabled: enabled, what: what, total: total, started: time.Now(), stop: make(chan struct{})}
	if enabled {
		p.draw()
		p.stopped.Add(1)
		go p.tick()
	}
	return p
}

func (p *progress) tick() {
	defer p.stopped.Done()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.draw()
		}
	}
}

// finish stops the redrawing and clears the bar.
func (p *progress) finish() {
	if !p.enabled {
		return
	}
	close(p.stop)
	p.stopped.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprint(p.out, "\r\x1b[2K")
}

func (p *progress) step(label string) {
	p.mu.Lock()
	p.label = printable(label)
	p.mu.Unlock()
	p.draw()
}

func (p *progress) advance() {
	p.mu.Lock()
	p.done++
	p.mu.Unlock()
	p.draw()
}

// println writes a line of output above the bar (redrawn below it).
func (p *progress) println(w io.Writer, line string) error {
	if p.enabled {
		p.mu.Lock()
		fmt.Fprint(p.out, "\r\x1b[2K")
		p.mu.Unlock()
	}
	_, err := fmt.Fprintln(w, line)
	p.draw()
	return err
}

func (p *progress) draw() {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	filled := progressWidth * p.done / max(p.total, 1)
	bar := strings.Repeat("#", filled) + strings.Repeat("-", progressWidth-filled)
	fmt.Fprintf(p.out, "\r\x1b[2K%s [%s] %d/%d %5.1fs %s", p.what, bar, p.done, p.total, time.Since(p.started).Seconds(), p.label)
}

// isTerminal: f is a terminal (TCGETS works on it).
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// progressEnabled: --progress / --no-progress, else on a terminal that is not "dumb".
func (e *env) progressEnabled() bool {
	if e.s.progress != nil {
		return *e.s.progress
	}
	return e.stderrIsTTY && os.Getenv("TERM") != "dumb"
}
