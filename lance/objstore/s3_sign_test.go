package objstore

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The examples of the S3 SigV4 documentation ("Signature calculation
// examples: GET object, list objects").
func TestSignRequestAWSExamples(t *testing.T) {
	cfg := &Config{Region: "us-east-1", AccessKeyID: "AKIAIOSFODNN7EXAMPLE",
		SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
	now := time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, path, query string
		header            map[string]string
		wantSigned, want  string
	}{
		{"get object", "/test.txt", "", map[string]string{"Range": "bytes=0-9"},
			"host;range;x-amz-content-sha256;x-amz-date",
			"f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"},
		{"list objects", "/", canonicalQuery(map[string]string{"max-keys": "2", "prefix": "J"}), nil,
			"host;x-amz-content-sha256;x-amz-date",
			"34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := &url.URL{Scheme: "https", Host: "examplebucket.s3.amazonaws.com", Path: tc.path, RawQuery: tc.query}
			req, _ := http.NewRequest(http.MethodGet, u.String(), nil)
			req.URL = u
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			signRequest(req, cfg, emptySHA256Hex, now)
			auth := req.Header.Get("Authorization")
			if !strings.Contains(auth, "SignedHeaders="+tc.wantSigned+",") || !strings.HasSuffix(auth, "Signature="+tc.want) {
				t.Fatalf("Authorization %q, want signed headers %s and signature %s", auth, tc.wantSigned, tc.want)
			}
		})
	}
}

func TestURIEncode(t *testing.T) {
	for _, tc := range []struct{ in, slash, noSlash string }{
		{"a/b c+d", "a/b%20c%2Bd", "a%2Fb%20c%2Bd"},
		{"~x_y.z-", "~x_y.z-", "~x_y.z-"},
		{"é", "%C3%A9", "%C3%A9"},
	} {
		if got := uriEncode(tc.in, true); got != tc.slash {
			t.Errorf("uriEncode(%q, true) = %q, want %q", tc.in, got, tc.slash)
		}
		if got := uriEncode(tc.in, false); got != tc.noSlash {
			t.Errorf("uriEncode(%q, false) = %q, want %q", tc.in, got, tc.noSlash)
		}
	}
}
