package objstore

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// The retry policy and the error messages, against a loopback HTTP server
// that answers what a test scripts (MinIO cannot be made to throttle or
// stall on demand).
func TestS3ErrorsAndRetries(t *testing.T) {
	for _, tc := range []struct {
		name      string
		answers   []int // status per request; the last repeats
		op        func(s *S3) error
		wantCalls int64
		wantErr   []string // substrings; nil: success
		wantIs    error
	}{
		{"slowdown then ok", []int{503, 503, 200}, func(s *S3) error { _, err := s.Get(context.Background(), "k"); return err }, 3, nil, nil},
		{"throttled until retries run out", []int{503}, func(s *S3) error { _, err := s.Get(context.Background(), "k"); return err }, 3,
			[]string{"GET s3://bkt/k", "HTTP 503 SlowDown", "throttled"}, ErrStore},
		{"forbidden is not retried", []int{403}, func(s *S3) error { _, err := s.Get(context.Background(), "k"); return err }, 1,
			[]string{"GET s3://bkt/k", "HTTP 403 AccessDenied", "aws_access_key_id"}, ErrStore},
		{"not found", []int{404}, func(s *S3) error { _, err := s.Get(context.Background(), "k"); return err }, 1,
			[]string{"s3://bkt/k", "404"}, ErrNotExist},
		{"conditional put taken", []int{412}, func(s *S3) error { return s.PutIfAbsent(context.Background(), "k", []byte("x")) }, 1,
			[]string{"s3://bkt/k"}, ErrExist},
		{"conditional put after a conflict", []int{409, 200}, func(s *S3) error { return s.PutIfAbsent(context.Background(), "k", []byte("x")) }, 2, nil, nil},
		{"timeout", []int{-1}, func(s *S3) error { _, err := s.Get(context.Background(), "k"); return err }, 3,
			[]string{"GET s3://bkt/k", "no answer from http://127.0.0.1:", "in time (timeout)", "attempts: 3"}, ErrOutcomeUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int64
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := calls.Add(1)
				st := tc.answers[min(int(n), len(tc.answers))-1]
				if r.Header.Get("Authorization") == "" {
					st = 400
				}
				switch st {
				case -1:
					<-release // stall past the client's timeout
				case 200:
					w.Write([]byte("body"))
				default:
					code := map[int]string{503: "SlowDown", 403: "AccessDenied", 404: "NoSuchKey", 412: "PreconditionFailed",
						409: "ConditionalRequestConflict", 400: "MissingAuth"}[st]
					w.WriteHeader(st)
					w.Write([]byte("<Error><Code>" + code + "</Code><Message>scripted</Message></Error>"))
				}
			}))
			defer srv.Close()
			defer close(release)
			cfg, err := ParseConfig(map[string]string{"aws_endpoint": srv.URL, "allow_http": "true",
				"aws_access_key_id": "k", "aws_secret_access_key": "s", "client_max_retries": "2", "timeout": "0.2"})
			if err != nil {
				t.Fatal(err)
			}
			err = tc.op(NewS3(cfg, "bkt"))
			if got := calls.Load(); got != tc.wantCalls {
				t.Errorf("%d requests, want %d", got, tc.wantCalls)
			}
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range tc.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if !errors.Is(err, tc.wantIs) {
				t.Errorf("error %q is not %v", err, tc.wantIs)
			}
		})
	}
}

// A failure says whether the request may have taken effect: no answer or a
// 5xx may have (a conditional PUT's object may exist); a 4xx has not, nor a
// request that never got a connection.
func TestS3OutcomeUnknownOnlyWithoutADefiniteAnswer(t *testing.T) {
	for _, tc := range []struct {
		status  int // 0: the server is gone (connection refused)
		unknown bool
	}{{0, false}, {500, true}, {503, true}, {403, false}, {400, false}, {404, false}} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
			}))
			if tc.status == 0 {
				srv.Close() // its port now refuses connections
			} else {
				defer srv.Close()
			}
			cfg, err := ParseConfig(map[string]string{"aws_endpoint": srv.URL, "allow_http": "true",
				"aws_access_key_id": "k", "aws_secret_access_key": "s", "client_max_retries": "1"})
			if err != nil {
				t.Fatal(err)
			}
			err = NewS3(cfg, "bkt").PutIfAbsent(context.Background(), "k", []byte("x"))
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, ErrOutcomeUnknown); got != tc.unknown {
				t.Errorf("ErrOutcomeUnknown %v, want %v: %v", got, tc.unknown, err)
			}
			if tc.status == 0 {
				for _, s := range []string{"PUT s3://bkt/k", "cannot connect to " + srv.URL, "connection refused", "attempts: 2", "client_max_retries=1"} {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				if strings.Contains(err.Error(), `Put "`) {
					t.Errorf("error %q quotes Go's raw transport error", err)
				}
			}
		})
	}
}

// TLS against a plain-http endpoint is a configuration error: one attempt,
// not a retried outage.
func TestS3HTTPSToPlainHTTPServerIsNotRetried(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	endpoint := strings.Replace(srv.URL, "http://", "https://", 1)
	cfg, err := ParseConfig(map[string]string{"aws_endpoint": endpoint, "aws_access_key_id": "k", "aws_secret_access_key": "s"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewS3(cfg, "bkt").Get(context.Background(), "k")
	for _, s := range []string{"GET s3://bkt/k", endpoint, "HTTP response to HTTPS client", "attempts: 1 "} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("error %v does not mention %q", err, s)
		}
	}
}

// An endpoint that is no S3 server (a web page answers) is named as the
// likely cause.
func TestS3AnswerThatIsNotS3(t *testing.T) {
	for _, page := range []string{"<html><body>404 page not found</body></html>", ""} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(page))
		}))
		cfg, err := ParseConfig(map[string]string{"aws_endpoint": srv.URL, "allow_http": "true",
			"aws_access_key_id": "k", "aws_secret_access_key": "s"})
		if err != nil {
			t.Fatal(err)
		}
		err = NewS3(cfg, "bkt").Put(context.Background(), "k", []byte("x"))
		for _, s := range []string{"PUT s3://bkt/k", "HTTP 404", "is aws_endpoint an S3 server?"} {
			if err == nil || !strings.Contains(err.Error(), s) {
				t.Errorf("answer %q: error %v does not mention %q", page, err, s)
			}
		}
		srv.Close()
	}
}

// Once a request got no answer after all its retries, the next requests
// make one attempt each until one gets an answer: buckets closing one
// after another at interpreter exit with the server gone each fail after
// one attempt, not a retry budget apiece. An answer - a 503 too - brings
// the retries back.
func TestS3RetriesPauseWhileTheServerIsGone(t *testing.T) {
	var calls atomic.Int64
	var answer atomic.Int64 // 0: stall past the client's timeout
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		switch st := int(answer.Load()); st {
		case 0:
			<-release
		case 200:
			w.Write([]byte("body"))
		default:
			w.WriteHeader(st)
			w.Write([]byte("<Error><Code>SlowDown</Code><Message>scripted</Message></Error>"))
		}
	}))
	defer srv.Close()
	defer close(release)
	cfg, err := ParseConfig(map[string]string{"aws_endpoint": srv.URL, "allow_http": "true",
		"aws_access_key_id": "k", "aws_secret_access_key": "s", "client_max_retries": "2", "timeout": "0.2"})
	if err != nil {
		t.Fatal(err)
	}
	s := NewS3(cfg, "bkt")
	for i, step := range []struct {
		answer    int64
		wantCalls int64
		wantIs    error // nil: success
	}{
		{0, 3, ErrNoAnswer}, // the outage: the whole budget
		{0, 1, ErrNoAnswer}, // known gone: one attempt
		{0, 1, ErrNoAnswer}, // still
		{503, 3, ErrStore},  // an answer: retried again
		{0, 3, ErrNoAnswer}, // a new outage
		{200, 1, nil},       // back: the one attempt succeeds
		{0, 3, ErrNoAnswer}, // and the retries are back
	} {
		answer.Store(step.answer)
		calls.Store(0)
		_, err := s.Get(context.Background(), "k")
		if got := calls.Load(); got != step.wantCalls {
			t.Errorf("step %d: %d requests, want %d", i, got, step.wantCalls)
		}
		if step.wantIs == nil && err != nil || step.wantIs != nil && !errors.Is(err, step.wantIs) {
			t.Fatalf("step %d: %v, want %v", i, err, step.wantIs)
		}
		if want := "not retried: an earlier request got no answer"; step.wantCalls == 1 && err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("step %d: %q does not say why it was tried once", i, err)
		}
	}
}
