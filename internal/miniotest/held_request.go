package miniotest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"sync"
)

// A HeldRequest is a request a FaultProxy kept from the server: the client
// saw its connection close without an answer (a server that stalled, or a
// queue that held the request), and the server gets the request only when
// the test releases it - the order of "it landed" against the client's
// later requests is then the test's choice, not the scheduler's.
type HeldRequest struct {
	p     *FaultProxy
	match *regexp.Regexp
	held  chan struct{} // closed once a request is held

	mu     sync.Mutex
	raw    []byte // the whole request as the client sent it
	status int    // the server's answer once released (0 before)
	err    error
}

// HoldOn holds the first request whose first bytes match (see HeldRequest);
// afterwards requests matching are cut off, as BreakOnly does, until
// SetDown(false).
func (p *FaultProxy) HoldOn(match *regexp.Regexp) *HeldRequest {
	h := &HeldRequest{p: p, match: match, held: make(chan struct{})}
	p.mu.Lock()
	p.hold = h
	p.mu.Unlock()
	return h
}

// Held is closed once the request is held.
func (h *HeldRequest) Held() <-chan struct{} { return h.held }

// Release sends the held request to the server on a connection of its own
// and returns the server's status (once; later calls return the same).
func (h *HeldRequest) Release() (int, error) {
	<-h.held
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.status != 0 || h.err != nil {
		return h.status, h.err
	}
	h.status, h.err = h.send()
	return h.status, h.err
}

// ReleaseBeforeNext releases the held request when the next request
// matching its pattern reaches the proxy, before that one is forwarded: the
// held request lands between the client's last look and its next write.
func (h *HeldRequest) ReleaseBeforeNext() {
	h.p.mu.Lock()
	h.p.releaseBefore = h
	h.p.mu.Unlock()
}

func (h *HeldRequest) send() (int, error) {
	u, err := net.Dial("tcp", h.p.server.Endpoint[len("http://"):])
	if err != nil {
		return 0, err
	}
	defer u.Close()
	if _, err := u.Write(h.raw); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(u), nil)
	if err != nil {
		return 0, fmt.Errorf("the held request got no answer: %w", err)
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// readWhole reads the rest of the request whose first bytes are first from
// c: its headers, then Content-Length bytes of body.
func readWhole(first []byte, c io.Reader) ([]byte, error) {
	raw := append([]byte(nil), first...)
	buf := make([]byte, 64<<10)
	for {
		if end := bytes.Index(raw, []byte("\r\n\r\n")); end >= 0 {
			want, err := contentLength(raw[:end])
			if err != nil {
				return nil, err
			}
			if len(raw) >= end+4+want {
				return raw[:end+4+want], nil
			}
		}
		n, err := c.Read(buf)
		raw = append(raw, buf[:n]...)
		if err != nil && n == 0 {
			return nil, fmt.Errorf("the request to hold ended early: %w", err)
		}
	}
}

func contentLength(head []byte) (int, error) {
	for _, line := range bytes.Split(head, []byte("\r\n"))[1:] {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(name), []byte("Content-Length")) {
			return strconv.Atoi(string(bytes.TrimSpace(value)))
		}
	}
	return 0, nil // no body
}
