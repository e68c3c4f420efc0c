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
		// the key pylance 14 lists for the same URL: escapes decoded
		{"s3://b/a%20b/c", "b", "a b/c", true},
		{"s3://b/a b/c", "b", "a b/c", true},
		{"s3://b/q%2Fr", "b", "q/r", true},
		{"s3://b/%C3%A9", "b", "é", true},
		{"s3://b/é", "b", "é", true},
		{"s3://b/100%25", "b", "100%", true},
		{"s3://b/100%zz", "b", "100%zz", true}, // no escape: as written
		{"s3://b/a+b", "b", "a+b", true},
	} {
		b, k, ok := splitS3(tc.path)
		if b != tc.bucket || k != tc.key || ok != tc.ok {
			t.Errorf("splitS3(%q) = %q, %q, %v", tc.path, b, k, ok)
		}
	}
	if got := JoinURL("s3://b/p/", "data.lance", "wal"); got != "s3://b/p/data.lance/wal" {
		t.Errorf("JoinURL = %q", got)
	}
	// a URL JoinURL writes reads back as the same key, however often
	for _, in := range []string{"s3://b/100%25", "s3://b/a%2541", "s3://b/a%20b", "s3://b/100%zz"} {
		_, want, _ := splitS3(in)
		p := in
		for range 3 {
			p = JoinURL(p, "x%y")
			want += "/x%y"
			if _, got, _ := splitS3(p); got != want {
				t.Errorf("splitS3(%q) = %q, want %q", p, got, want)
			}
		}
	}
	for _, bad := range []string{"s3://b/a#b", "s3://b/a?x=1", "s3://b/q/../x", "s3://b/./q", "s3://b/q/%2E%2E/x"} {
		if err := CheckPath(bad); err == nil {
			t.Errorf("CheckPath(%q) accepted a URL pylance reads as another prefix", bad)
		}
	}
	for _, good := range []string{"s3://b/a%23b", "s3://b/a b", "s3://b/..x", "s3://b"} {
		if err := CheckPath(good); err != nil {
			t.Errorf("CheckPath(%q): %v", good, err)
		}
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

// In virtual-hosted style an endpoint that names the bucket already (the
// form pylance needs: it uses such an endpoint as given) is used as given.
func TestVirtualHostedBaseURL(t *testing.T) {
	on, off := true, false
	for _, tc := range []struct {
		endpoint string
		virtual  *bool
		want     string
		path     bool
	}{
		{"", nil, "https://b1.s3.us-east-1.amazonaws.com", false},
		{"https://minio:9000", nil, "https://minio:9000", true},
		{"https://minio:9000", &off, "https://minio:9000", true},
		{"https://s3.eu-west-3.amazonaws.com", &on, "https://b1.s3.eu-west-3.amazonaws.com", false},
		{"https://b1.oss-cn-hangzhou.aliyuncs.com", &on, "https://b1.oss-cn-hangzhou.aliyuncs.com", false},
		{"https://B1.storage.example", &on, "https://B1.storage.example", false},
		{"https://b10.storage.example", &on, "https://b1.b10.storage.example", false},
	} {
		c := Config{Endpoint: tc.endpoint, Region: "us-east-1", VirtualHosted: tc.virtual}
		u, path := c.baseURL("b1")
		if u.String() != tc.want || path != tc.path {
			t.Errorf("endpoint %q virtual %v: %s path-style %v, want %s %v", tc.endpoint, tc.virtual != nil && *tc.virtual, u, path, tc.want, tc.path)
		}
	}
}
