package objstore

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// s3Client sends signed requests to one bucket and retries what S3 allows
// to retry.
type s3Client struct {
	cfg       Config
	bucket    string
	base      *url.URL
	pathStyle bool
	http      *http.Client
	counts    RequestCounts
	// gone: the last request that ended got no answer after its retries
	// (the server is down or stalled). Until a request gets an answer,
	// each request makes one attempt: the buckets closing one after
	// another at interpreter exit, the lease renewals and the flushes of
	// an outage each fail after one attempt (one timeout at most, at once
	// for a refused connection), not after a whole retry budget each.
	gone atomic.Bool
	// goneErr is the error of the request that got no answer last (what
	// KnownGone reports while gone holds).
	goneMu  sync.Mutex
	goneErr error
}

// noteGone keeps err as goneErr when it is a request's final failure
// without an answer; it returns err.
func (c *s3Client) noteGone(err error) error {
	if e, ok := err.(*s3Error); ok && e.cause != nil && c.gone.Load() {
		c.goneMu.Lock()
		c.goneErr = err
		c.goneMu.Unlock()
	}
	return err
}

// RequestCounts counts the requests a store sent (retries included), by
// kind, for tests and benchmarks.
type RequestCounts struct {
	Get, Head, Put, List, Delete, Post atomic.Int64
}

func newS3Client(cfg Config, bucket string) *s3Client {
	base, pathStyle := cfg.baseURL(bucket)
	dialer := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:               nil, // never route a store's traffic through an environment proxy
		DialContext:         dialer.DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	return &s3Client{cfg: cfg, bucket: bucket, base: base, pathStyle: pathStyle, http: &http.Client{Transport: tr}}
}

// s3Request is one S3 call.
type s3Request struct {
	method string
	key    string // "" for bucket-level calls (LIST)
	// bucketOnly addresses the bucket itself ("/bucket" rather than
	// "/bucket/", which S3 reads as an object path).
	bucketOnly bool
	query      map[string]string
	header     map[string]string
	body       []byte
	// okStatus lists statuses that are answers, not errors (besides 2xx):
	// 412 for a conditional PUT, 404 where absence is an answer.
	okStatus []int
}

type s3Response struct {
	status int
	header http.Header
	body   []byte
}

// s3Error is what S3 answered when a request failed.
type s3Error struct {
	op, url string
	status  int
	code    string
	message string
	cause   error // transport error, when there was no answer
	// endpoint, attempts and elapsed say, for a request that got no
	// answer, whom it tried to reach and for how long (set by do).
	endpoint string
	attempts int
	elapsed  time.Duration
	cfg      *Config
	// neverSent: no attempt got as far as a connection, so the server
	// cannot have acted on the request
	neverSent bool
	// serverGone: not retried, the server being known gone (s3Client.gone)
	serverGone bool
	// notS3: an error answer without an S3 error document (a web server,
	// a proxy's page: a wrong endpoint)
	notS3 bool
}

func (e *s3Error) Error() string {
	if e.cause != nil {
		msg := fmt.Sprintf("%s %s: %s", e.op, e.url, describeTransport(e.cause, e.endpoint))
		switch {
		case e.serverGone:
			msg += fmt.Sprintf(" (attempts: %d in %.1fs; not retried: an earlier request got no answer after its retries, and none has since; each attempt limited by timeout=%v)",
				e.attempts, e.elapsed.Seconds(), e.cfg.Timeout)
		case e.attempts > 0:
			msg += fmt.Sprintf(" (attempts: %d in %.1fs; retried up to client_max_retries=%d within client_retry_timeout=%v, each attempt limited by timeout=%v)",
				e.attempts, e.elapsed.Seconds(), e.cfg.MaxRetries, e.cfg.RetryTimeout, e.cfg.Timeout)
		}
		return msg
	}
	msg := e.code
	if e.message != "" {
		msg += ": " + e.message
	}
	hint := ""
	switch {
	case e.notS3:
		hint = " (the answer is no S3 error document: is aws_endpoint an S3 server?)"
	case e.status == http.StatusForbidden:
		hint = " (check aws_access_key_id/aws_secret_access_key and the bucket's policy)"
	case e.status == http.StatusServiceUnavailable || e.status == http.StatusTooManyRequests:
		hint = " (throttled; still failing after retries)"
	}
	return fmt.Sprintf("%s %s: HTTP %d %s%s", e.op, e.url, e.status, msg, hint)
}

func (e *s3Error) Unwrap() []error {
	errs := []error{ErrStore}
	if e.status == http.StatusNotFound {
		errs = append(errs, ErrNotExist)
	}
	if (e.cause != nil && !e.neverSent) || e.status >= 500 {
		errs = append(errs, ErrOutcomeUnknown)
	}
	if e.cause != nil {
		errs = append(errs, ErrNoAnswer)
	}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}

func (c *s3Client) objectURL(key string) string {
	return "s3://" + c.bucket + "/" + escapeKey(key)
}

func (c *s3Client) count(method string, query map[string]string) {
	switch method {
	case http.MethodGet:
		if _, ok := query["list-type"]; ok {
			c.counts.List.Add(1)
		} else {
			c.counts.Get.Add(1)
		}
	case http.MethodHead:
		c.counts.Head.Add(1)
	case http.MethodPut:
		c.counts.Put.Add(1)
	case http.MethodDelete:
		c.counts.Delete.Add(1)
	case http.MethodPost:
		c.counts.Post.Add(1)
	}
}

// do sends r, retrying transport failures, timeouts, 5xx, 429 and 409
// (a concurrent conditional write still in flight) with jittered
// exponential backoff, up to cfg.MaxRetries times within cfg.RetryTimeout.
// retried reports whether a request was sent more than once (a
// conditional PUT's 412 may then be our own earlier attempt).
func (c *s3Client) do(ctx context.Context, op string, r s3Request) (resp *s3Response, retried bool, err error) {
	u := *c.base
	path := "/"
	if c.pathStyle {
		path += c.bucket + "/"
	}
	path += r.key
	if !c.pathStyle && r.key == "" {
		path = "/"
	}
	if r.bucketOnly && c.pathStyle {
		path = "/" + c.bucket
	}
	u.Path = path
	u.RawPath = uriEncode(path, true)
	u.RawQuery = canonicalQuery(r.query)
	payloadHash := sha256Hex(r.body)
	start := time.Now()
	deadline := start.Add(c.cfg.RetryTimeout)
	name := c.objectURL(r.key)
	sent := false // whether an attempt may have reached the server
	// gaveUp notes on a request that got no answer how hard it was tried.
	gaveUp := func(err error, attempts int) error {
		if e, ok := err.(*s3Error); ok && e.cause != nil {
			e.endpoint, e.attempts, e.elapsed, e.cfg = c.base.Scheme+"://"+c.base.Host, attempts, time.Since(start), &c.cfg
			e.neverSent = !sent
			e.serverGone = attempts == 1 && c.cfg.MaxRetries > 0 && c.gone.Load()
		}
		return err
	}
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			retried = true
			d := retryBackoff(attempt)
			if time.Now().Add(d).After(deadline) {
				if err.(*s3Error).cause != nil {
					c.gone.Store(true)
				}
				return nil, retried, c.noteGone(gaveUp(err, attempt))
			}
			select {
			case <-ctx.Done():
				return nil, retried, &s3Error{op: op, url: name, cause: ctx.Err(), neverSent: !sent}
			case <-time.After(d):
			}
		}
		var retry bool
		resp, retry, err = c.once(ctx, op, name, &u, r, payloadHash)
		var dial *net.OpError
		if !errors.As(err, &dial) || dial.Op != "dial" {
			sent = true
		}
		noAnswer := err != nil && err.(*s3Error).cause != nil
		if !noAnswer {
			c.gone.Store(false)
		}
		if err == nil || !retry || attempt >= c.maxRetries() {
			if noAnswer && ctx.Err() == nil {
				c.gone.Store(true)
			}
			return resp, retried, c.noteGone(gaveUp(err, attempt+1))
		}
	}
}

// maxRetries is how often a failed request is retried: not at all while
// the server is known gone (see s3Client.gone).
func (c *s3Client) maxRetries() int {
	if c.gone.Load() {
		return 0
	}
	return c.cfg.MaxRetries
}

// misconfigured says whether a transport failure is one that retrying
// cannot cure: TLS against a plain-http server, a certificate the client
// does not trust, a host name that does not exist.
func misconfigured(err error) bool {
	var rec tls.RecordHeaderError
	var verify *tls.CertificateVerificationError
	return errors.As(err, &rec) || errors.As(err, &verify) || unknownHost(err) ||
		strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")
}

// unknownHost: the DNS answered that the endpoint's host name does not
// exist (NXDOMAIN), almost always a typo in aws_endpoint, so the request
// fails at once instead of after client_max_retries' backoff (~15 s). A
// resolver that fails or cannot be reached (a timeout, SERVFAIL) is
// retried like a lost connection; a name not yet published (a service
// still starting) fails the open or flush, which keeps its rows and can
// be called again. The request was never sent either way.
func unknownHost(err error) bool {
	var dns *net.DNSError
	return errors.As(err, &dns) && dns.IsNotFound
}

// describeTransport says why a request got no answer from endpoint, in
// words rather than Go's "Put \"http://...\": dial tcp ...".
func describeTransport(err error, endpoint string) string {
	var op *net.OpError
	var ue *url.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer from " + endpoint + " in time (timeout)"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case unknownHost(err):
		return "cannot connect to " + endpoint + ": its host name does not exist (" + err.Error() + "; check aws_endpoint)"
	case errors.As(err, &op) && op.Op == "dial":
		return "cannot connect to " + endpoint + ": " + op.Err.Error()
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "the connection to " + endpoint + " closed before an answer"
	case errors.As(err, &ue):
		return "no answer from " + endpoint + ": " + ue.Err.Error()
	}
	return err.Error()
}

func (c *s3Client) once(ctx context.Context, op, name string, u *url.URL, r s3Request, payloadHash string) (*s3Response, bool, error) {
	rctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, r.method, u.String(), bytes.NewReader(r.body))
	if err != nil {
		return nil, false, &s3Error{op: op, url: name, cause: err}
	}
	req.URL = u // keep the exact encoding that is signed
	req.ContentLength = int64(len(r.body))
	if len(r.body) == 0 {
		req.Body = http.NoBody
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	signRequest(req, &c.cfg, payloadHash, time.Now())
	c.count(r.method, r.query)
	hr, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, false, &s3Error{op: op, url: name, cause: ctx.Err()}
		}
		return nil, !misconfigured(err), &s3Error{op: op, url: name, cause: err}
	}
	defer hr.Body.Close()
	body, err := io.ReadAll(hr.Body)
	if err != nil {
		return nil, true, &s3Error{op: op, url: name, cause: fmt.Errorf("reading the response: %w", err)}
	}
	resp := &s3Response{status: hr.StatusCode, header: hr.Header, body: body}
	if hr.StatusCode/100 == 2 {
		return resp, false, nil
	}
	for _, s := range r.okStatus {
		if hr.StatusCode == s {
			return resp, false, nil
		}
	}
	e := &s3Error{op: op, url: name, status: hr.StatusCode}
	var x struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	if xml.Unmarshal(body, &x) == nil {
		e.code, e.message = x.Code, x.Message
	}
	// S3 answers every failed request but a HEAD with an error document
	e.notS3 = e.code == "" && (len(body) > 0 || r.method != http.MethodHead)
	if e.code == "" {
		e.code = http.StatusText(hr.StatusCode)
	}
	retry := hr.StatusCode >= 500 || hr.StatusCode == http.StatusTooManyRequests ||
		hr.StatusCode == http.StatusRequestTimeout || hr.StatusCode == http.StatusConflict
	// An InternalError on CompleteMultipartUpload may still have completed
	// it; S3 documents that retrying is safe there too.
	return nil, retry, e
}

// retryBackoff is the wait before retry attempt n (1-based): jittered
// exponential from 50ms, capped at 5s (object_store's shape).
func retryBackoff(n int) time.Duration {
	d := 50 * time.Millisecond << min(n-1, 7)
	d = min(d, 5*time.Second)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}
