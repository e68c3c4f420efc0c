package objstore

import (
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "env-key")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT", "")
	t.Setenv("AWS_ALLOW_HTTP", "")
	for _, tc := range []struct {
		name    string
		opts    map[string]string
		check   func(Config) bool
		wantErr string
	}{
		{"environment only", nil, func(c Config) bool {
			return c.AccessKeyID == "env-key" && c.SecretAccessKey == "env-secret" && c.Region == "eu-west-1" && c.Endpoint == ""
		}, ""},
		{"options win", map[string]string{"aws_access_key_id": "k", "aws_secret_access_key": "s", "aws_region": "us-east-2",
			"aws_endpoint": "http://127.0.0.1:9000/", "allow_http": "true"}, func(c Config) bool {
			return c.AccessKeyID == "k" && c.SecretAccessKey == "s" && c.Region == "us-east-2" && c.Endpoint == "http://127.0.0.1:9000" && c.AllowHTTP
		}, ""},
		{"aliases and case", map[string]string{"AWS_ENDPOINT_URL": "https://s3.example", "Region": "r", "session_token": "tok"}, func(c Config) bool {
			return c.Endpoint == "https://s3.example" && c.Region == "r" && c.SessionToken == "tok"
		}, ""},
		{"client options", map[string]string{"timeout": "2s", "connect_timeout": "1", "client_max_retries": "3", "client_retry_timeout": "10s"}, func(c Config) bool {
			return c.Timeout == 2*time.Second && c.ConnectTimeout == time.Second && c.MaxRetries == 3 && c.RetryTimeout == 10*time.Second
		}, ""},
		{"http needs allow_http", map[string]string{"aws_endpoint": "http://127.0.0.1:9000"}, nil, "allow_http"},
		{"unknown option", map[string]string{"aws_server_side_encryption": "aws:kms"}, nil, "unknown storage option(s) aws_server_side_encryption"},
		{"bad bool", map[string]string{"allow_http": "yes please"}, nil, "allow_http"},
		{"bad endpoint", map[string]string{"aws_endpoint": "127.0.0.1:9000"}, nil, "aws_endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Fatalf("config %+v", c)
			}
		})
	}
}

func TestSplitAndJoin(t *testing.T) {
	for _, tc := range []struct {
		path, bucket, key string
		ok                bool
	}{
		{"s3://b/p/q", "b", "p/q", true},
		{"s3:/b/p/q", "b", "p/q", true}, // what filepath.Join makes of an s3:// URL
		{"s3://b", "b", "", true},
		{"s3://", "", "", false},
		{"/tmp/x", "", "", false},
		{"file:///tmp/x", "", "", false},
	} {
		b, k, ok := splitS3(tc.path)
		if b != tc.bucket || k != tc.key || ok != tc.ok {
			t.Errorf("splitS3(%q) = %q, %q, %v", tc.path, b, k, ok)
		}
	}
	if got := JoinURL("s3://b/p/", "data.lance", "wal"); got != "s3://b/p/data.lance/wal" {
		t.Errorf("JoinURL = %q", got)
	}
	for in, want := range map[string]string{"s3:/b/p/q": "s3://b/p/q", "s3://b//p/": "s3://b/p", "s3://b": "s3://b", "/tmp//x/": "/tmp/x"} {
		if got := CleanPath(in); got != want {
			t.Errorf("CleanPath(%q) = %q, want %q", in, got, want)
		}
	}
	if p, ok := LocalPath("file:///tmp/x"); !ok || p != "/tmp/x" {
		t.Errorf("LocalPath(file:///tmp/x) = %q, %v", p, ok)
	}
	if err := CheckPath("gs://b/p"); err == nil {
		t.Error("gs:// accepted")
	}
}
