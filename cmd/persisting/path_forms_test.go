package main

import (
	"bytes"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// PATH takes every spelling of a location the library takes for a
// storage_path (objstore.CheckPath is the one authority): file:///abs,
// file://localhost/abs, file:/abs, percent-escapes decoded, as pylance
// reads them; a file: URL naming another host, or no absolute path, is
// refused in the library's words, with exit status 2.
func TestPathTakesTheLibrarysLocations(t *testing.T) {
	queue := filepath.Join(t.TempDir(), "a queue")
	if err := os.Rename(queueOfTwo(t), queue); err != nil {
		t.Fatal(err)
	}
	bucket := filepath.Join(queue, "bucket_0")
	escaped := (&url.URL{Path: bucket}).EscapedPath()
	for _, tc := range []struct {
		path       string
		wantStatus int
		want       string // in stdout for 0, in stderr otherwise
	}{
		{bucket, exitOK, bucket + ": ok"},
		{"file://" + escaped, exitOK, bucket + ": ok"},
		{"file://localhost" + escaped, exitOK, bucket + ": ok"},
		{"file:" + escaped, exitOK, bucket + ": ok"},
		{"file://" + escaped + "/", exitOK, bucket + ": ok"},
		{"file://elsewhere" + escaped, exitUsage, `file:// names host "elsewhere"`},
		{"file:a/b", exitUsage, "needs an absolute path"},
		{"gs://b/q", exitUsage, "scheme gs:// is not supported"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			status := run([]string{"verify", tc.path}, &stdout, &stderr, false)
			out := stdout.String()
			if tc.wantStatus != exitOK {
				out = stderr.String()
			}
			if status != tc.wantStatus || !strings.Contains(out, tc.want) {
				t.Fatalf("verify %s: status %d, stdout %q, stderr %q; want status %d and %q",
					tc.path, status, stdout.String(), stderr.String(), tc.wantStatus, tc.want)
			}
		})
	}
}
