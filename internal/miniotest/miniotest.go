// Package miniotest starts a MinIO server on 127.0.0.1 for tests, through
// tests/s3/minio.sh (which builds the server with go install the first
// time). A server that cannot be built or started fails the test: the s3://
// tests never skip.
package miniotest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/persisting/persisting/lance/objstore"
)

// Credentials of the test server (tests/s3/minio.sh's defaults).
const (
	AccessKey = "persisting"
	SecretKey = "persisting-secret"
)

// Server is a running MinIO.
type Server struct {
	Endpoint string // http://127.0.0.1:PORT
}

// Options returns storage options in pylance's vocabulary for the server.
func (s *Server) Options() map[string]string {
	return map[string]string{
		"aws_endpoint":          s.Endpoint,
		"aws_region":            "us-east-1",
		"aws_access_key_id":     AccessKey,
		"aws_secret_access_key": SecretKey,
		"allow_http":            "true",
	}
}

// Start starts a server for the test (stopped by t.Cleanup) and creates
// the given buckets, each configured in objstore under "s3://bucket".
func Start(t testing.TB, buckets ...string) *Server {
	t.Helper()
	script := filepath.Join(repoRoot(t), "tests", "s3", "minio.sh")
	dir := t.TempDir()
	cmd := exec.Command(script, "start", dir)
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+AccessKey, "MINIO_ROOT_PASSWORD="+SecretKey)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("starting MinIO with %s: %v\n%s%s", script, err, out, stderr)
	}
	t.Cleanup(func() { exec.Command(script, "stop", dir).Run() })
	var s Server
	for _, line := range strings.Split(string(out), "\n") {
		if ep, ok := strings.CutPrefix(line, "endpoint="); ok {
			s.Endpoint = strings.TrimSpace(ep)
		}
	}
	if s.Endpoint == "" {
		t.Fatalf("minio.sh start printed no endpoint: %q", out)
	}
	for _, b := range buckets {
		s.CreateBucket(t, b)
	}
	return &s
}

// CreateBucket creates bucket and configures objstore to reach it.
func (s *Server) CreateBucket(t testing.TB, bucket string) {
	t.Helper()
	if err := objstore.Configure("s3://"+bucket, s.Options()); err != nil {
		t.Fatal(err)
	}
	cfg, err := objstore.ParseConfig(s.Options())
	if err != nil {
		t.Fatal(err)
	}
	if err := objstore.NewS3(cfg, bucket).CreateBucket(context.Background()); err != nil {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
}

func repoRoot(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}
