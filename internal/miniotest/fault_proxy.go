package miniotest

import (
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// FaultProxy stands between a client and a Server, passing TCP through
// until told to fail: down, it closes every connection (a server that is
// gone); a fault breaks the connection of one request when it passes,
// before or after the server acted on it, and then goes down.
type FaultProxy struct {
	Endpoint string // http://127.0.0.1:PORT of the proxy
	server   *Server
	ln       net.Listener
	down     atomic.Bool
	stalled  atomic.Bool

	mu            sync.Mutex
	fault         *fault
	blocked       *regexp.Regexp // requests matching it are cut off (BreakOnly)
	answered      *regexp.Regexp // requests matching it get answerStatus (AnswerOnly)
	answerStatus  int
	hold          *HeldRequest // armed by HoldOn
	releaseBefore *HeldRequest // armed by ReleaseBeforeNext
}

type fault struct {
	match     *regexp.Regexp
	forwarded bool          // whether the server gets the request
	only      bool          // afterwards cut off only requests matching, not all
	done      chan struct{} // closed once the fault has struck
}

// Proxy starts a FaultProxy in front of s (closed by t.Cleanup).
func (s *Server) Proxy(t testing.TB) *FaultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &FaultProxy{Endpoint: "http://" + ln.Addr().String(), server: s, ln: ln}
	t.Cleanup(func() { ln.Close() })
	go p.serve()
	return p
}

// Options are the server's storage options with the proxy as endpoint.
func (p *FaultProxy) Options() map[string]string {
	o := p.server.Options()
	o["aws_endpoint"] = p.Endpoint
	return o
}

// SetDown makes the proxy refuse (down) or pass connections; passing, it
// also lifts BreakOnly's cut and AnswerOnly's answers.
func (p *FaultProxy) SetDown(down bool) {
	p.down.Store(down)
	if !down {
		p.mu.Lock()
		p.blocked, p.answered = nil, nil
		p.mu.Unlock()
	}
}

// SetStalled makes the proxy accept connections and take requests but
// never answer them nor pass them on (stalled), or pass them (a server
// that stalls: each request waits for the client's timeout).
func (p *FaultProxy) SetStalled(stalled bool) { p.stalled.Store(stalled) }

// AnswerOnly answers every request matching with status (an S3 error
// document, the server never gets the request) until SetDown(false): a
// server that answers, but fails, some requests (503 SlowDown, 500).
func (p *FaultProxy) AnswerOnly(match *regexp.Regexp, status int) {
	p.mu.Lock()
	p.answered, p.answerStatus = match, status
	p.mu.Unlock()
}

// answerFor returns the status AnswerOnly gives chunk's request (0: none).
func (p *FaultProxy) answerFor(chunk []byte) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.answered != nil && p.answered.Match(chunk) {
		return p.answerStatus
	}
	return 0
}

// answer writes an S3 error answer with status and closes the connection.
func answer(c net.Conn, status int) {
	body := fmt.Sprintf("<Error><Code>%s</Code><Message>answered by the fault proxy</Message></Error>",
		strings.ReplaceAll(http.StatusText(status), " ", ""))
	fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Type: application/xml\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		status, http.StatusText(status), len(body), body)
}

// BreakOnly is BreakOn, except that afterwards only the requests matching
// are cut off (the server stays up for the others) until SetDown(false).
func (p *FaultProxy) BreakOnly(match *regexp.Regexp, forwarded bool) <-chan struct{} {
	f := &fault{match: match, forwarded: forwarded, only: true, done: make(chan struct{})}
	p.mu.Lock()
	p.fault = f
	p.mu.Unlock()
	return f.done
}

// strike makes the proxy fail as f says once f has struck.
func (p *FaultProxy) strike(f *fault) {
	if f.only {
		p.mu.Lock()
		p.blocked = f.match
		p.mu.Unlock()
	} else {
		p.down.Store(true)
	}
	close(f.done)
}

// BreakOn arms a fault for the first request whose first bytes (its
// request line and headers) match: with forwarded the server gets the
// request and its answer is lost, else the request is lost. Either way the
// connection closes and the proxy goes down. The channel closes when it
// has struck.
func (p *FaultProxy) BreakOn(match *regexp.Regexp, forwarded bool) <-chan struct{} {
	f := &fault{match: match, forwarded: forwarded, done: make(chan struct{})}
	p.mu.Lock()
	p.fault = f
	p.mu.Unlock()
	return f.done
}

func (p *FaultProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.down.Load() {
			c.Close()
			continue
		}
		go p.relay(c)
	}
}

// takeFault returns the armed fault if chunk matches it, disarming it;
// cut says the chunk's request is one BreakOnly cuts off.
func (p *FaultProxy) takeFault(chunk []byte) (f *fault, cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.blocked != nil && p.blocked.Match(chunk) {
		return nil, true
	}
	if p.fault == nil || !p.fault.match.Match(chunk) {
		return nil, false
	}
	f = p.fault
	p.fault = nil
	return f, false
}

// takeHold returns the armed hold if chunk's request is to be held (and
// then cuts off the requests matching it), or the held request to release
// before chunk's request is forwarded.
func (p *FaultProxy) takeHold(chunk []byte) (hold, releaseFirst *HeldRequest) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if h := p.hold; h != nil && h.match.Match(chunk) {
		p.hold, p.blocked = nil, h.match
		return h, nil
	}
	if h := p.releaseBefore; h != nil && h.match.Match(chunk) {
		p.releaseBefore = nil
		return nil, h
	}
	return nil, nil
}

func (p *FaultProxy) relay(c net.Conn) {
	defer c.Close()
	u, err := net.Dial("tcp", p.server.Endpoint[len("http://"):])
	if err != nil {
		return
	}
	defer u.Close()
	var struck atomic.Pointer[fault] // a forwarded request whose answer is to be lost
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := u.Read(buf)
			if n > 0 {
				if f := struck.Load(); f != nil { // the server answered: lose it
					c.Close()
					p.strike(f)
					return
				}
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				c.Close()
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if p.down.Load() {
				return
			}
			if p.stalled.Load() {
				continue // swallowed: the client waits until it gives up
			}
			f, cut := p.takeFault(buf[:n])
			if cut {
				return
			}
			if status := p.answerFor(buf[:n]); status != 0 {
				answer(c, status)
				return
			}
			hold, releaseFirst := p.takeHold(buf[:n])
			if hold != nil {
				hold.raw, hold.err = readWhole(buf[:n], c)
				close(hold.held)
				return // the client's connection closes unanswered
			}
			if releaseFirst != nil {
				releaseFirst.Release()
			}
			if f != nil {
				if !f.forwarded {
					p.strike(f)
					return
				}
				struck.Store(f)
			}
			if _, err := u.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
