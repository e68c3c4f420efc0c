package objstore

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// A multipart upload whose part got no answer (a server gone or stalled)
// fails after that one request's retry budget: it sends no abort, which
// would wait as long again for the same silence (what a server keeps of an
// upload never aborted is invisible to readers). A part the server
// refused is aborted, once.
func TestS3UploadAbortedOnlyWhenTheServerAnswers(t *testing.T) {
	for _, tc := range []struct {
		name       string
		part       int // the answer to a part: -1 stalls past the client's timeout
		wantAborts int64
		wantIs     error
	}{
		{"part stalls", -1, 0, ErrNoAnswer},
		{"part refused", 403, 1, ErrStore},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var aborts atomic.Int64
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.Method == http.MethodPost && r.URL.Query().Has("uploads"):
					w.Write([]byte("<InitiateMultipartUploadResult><UploadId>u1</UploadId></InitiateMultipartUploadResult>"))
				case r.Method == http.MethodDelete:
					aborts.Add(1)
					if tc.part == -1 {
						<-release // a server still gone
					}
					w.WriteHeader(http.StatusNoContent)
				case r.Method == http.MethodPut && tc.part == -1:
					<-release
				default:
					w.WriteHeader(tc.part)
					w.Write([]byte("<Error><Code>AccessDenied</Code><Message>scripted</Message></Error>"))
				}
			}))
			defer srv.Close()
			defer close(release)
			cfg, err := ParseConfig(map[string]string{"aws_endpoint": srv.URL, "allow_http": "true",
				"aws_access_key_id": "k", "aws_secret_access_key": "s", "client_max_retries": "1", "timeout": "0.2"})
			if err != nil {
				t.Fatal(err)
			}
			s := NewS3(cfg, "bkt")
			s.PartSize = 4
			u, err := s.Create(context.Background(), "k")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := u.Write([]byte("0123456789")); err != nil {
				t.Fatal(err)
			}
			err = u.Close()
			if !errors.Is(err, tc.wantIs) {
				t.Fatalf("close: %v, want %v", err, tc.wantIs)
			}
			if got := aborts.Load(); got != tc.wantAborts {
				t.Fatalf("%d abort requests, want %d", got, tc.wantAborts)
			}
		})
	}
}
