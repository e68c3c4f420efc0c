package objstore

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// A host name the DNS says does not exist (NXDOMAIN: a typo in
// aws_endpoint) fails the request at once, saying so; a resolver that
// fails or times out is retried like a lost connection. Neither request
// was sent, so neither outcome is unknown.
func TestS3UnknownHostFailsAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name      string
		dns       net.DNSError
		wantCalls int64
		wantErr   []string
	}{
		{"no such host", net.DNSError{Err: "no such host", Name: "minoi", IsNotFound: true}, 1,
			[]string{"PUT s3://bkt/k", "cannot connect to http://minoi:9000: its host name does not exist", "no such host", "check aws_endpoint", "attempts: 1"}},
		{"resolver timeout", net.DNSError{Err: "i/o timeout", Name: "minio", IsTimeout: true, IsTemporary: true}, 3,
			[]string{"PUT s3://bkt/k", "cannot connect to http://minoi:9000", "i/o timeout", "attempts: 3"}},
		{"resolver failure", net.DNSError{Err: "server misbehaving", Name: "minio", IsTemporary: true}, 3,
			[]string{"server misbehaving", "attempts: 3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseConfig(map[string]string{"aws_endpoint": "http://minoi:9000", "allow_http": "true",
				"aws_access_key_id": "k", "aws_secret_access_key": "s", "client_max_retries": "2"})
			if err != nil {
				t.Fatal(err)
			}
			s := NewS3(cfg, "bkt")
			var calls atomic.Int64
			s.c.http.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				calls.Add(1)
				dns := tc.dns
				return nil, &net.OpError{Op: "dial", Net: network, Err: &dns}
			}
			err = s.PutIfAbsent(context.Background(), "k", []byte("x"))
			if got := calls.Load(); got != tc.wantCalls {
				t.Errorf("%d attempts, want %d", got, tc.wantCalls)
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if errors.Is(err, ErrOutcomeUnknown) {
				t.Errorf("a request never sent has a known outcome: %v", err)
			}
		})
	}
}
