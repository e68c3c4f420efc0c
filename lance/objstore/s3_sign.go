package objstore

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sort"
	"strings"
	"time"
)

// AWS Signature Version 4 for S3 requests (header form).

const (
	sigAlgorithm   = "AWS4-HMAC-SHA256"
	amzDateFormat  = "20060102T150405Z"
	emptySHA256Hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// signRequest adds x-amz-date, x-amz-content-sha256, the session token and
// the Authorization header to req, whose URL path and query are already in
// canonical (URI-encoded) form. payloadHash is the hex SHA-256 of the body.
func signRequest(req *http.Request, c *Config, payloadHash string, now time.Time) {
	if c.AccessKeyID == "" {
		return // anonymous: public buckets
	}
	amzDate := now.UTC().Format(amzDateFormat)
	day := amzDate[:8]
	req.Header.Set("x-amz-date", amzDate)
	req.Header.Set("x-amz-content-sha256", payloadHash)
	if c.SessionToken != "" {
		req.Header.Set("x-amz-security-token", c.SessionToken)
	}

	// Signed headers: host and every x-amz-* or conditional header we set.
	names := []string{"host"}
	values := map[string]string{"host": req.URL.Host}
	for name, vs := range req.Header {
		l := strings.ToLower(name)
		if strings.HasPrefix(l, "x-amz-") || l == "if-none-match" || l == "if-match" || l == "content-type" || l == "range" {
			names = append(names, l)
			values[l] = strings.TrimSpace(strings.Join(vs, ","))
		}
	}
	sort.Strings(names)
	var canon strings.Builder
	canon.WriteString(req.Method)
	canon.WriteByte('\n')
	canon.WriteString(req.URL.EscapedPath())
	canon.WriteByte('\n')
	canon.WriteString(req.URL.RawQuery)
	canon.WriteByte('\n')
	for _, n := range names {
		canon.WriteString(n)
		canon.WriteByte(':')
		canon.WriteString(values[n])
		canon.WriteByte('\n')
	}
	canon.WriteByte('\n')
	signed := strings.Join(names, ";")
	canon.WriteString(signed)
	canon.WriteByte('\n')
	canon.WriteString(payloadHash)

	scope := day + "/" + c.Region + "/s3/aws4_request"
	crHash := sha256.Sum256([]byte(canon.String()))
	toSign := sigAlgorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(crHash[:])

	key := hmacSHA256([]byte("AWS4"+c.SecretAccessKey), day)
	key = hmacSHA256(key, c.Region)
	key = hmacSHA256(key, "s3")
	key = hmacSHA256(key, "aws4_request")
	sig := hex.EncodeToString(hmacSHA256(key, toSign))
	req.Header.Set("Authorization", sigAlgorithm+" Credential="+c.AccessKeyID+"/"+scope+
		", SignedHeaders="+signed+", Signature="+sig)
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func sha256Hex(b []byte) string {
	if len(b) == 0 {
		return emptySHA256Hex
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// uriEncode percent-encodes s as SigV4 wants: every byte but the unreserved
// characters (and '/' when keepSlash).
func uriEncode(s string, keepSlash bool) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == '/' && keepSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexd[c>>4])
			b.WriteByte(hexd[c&15])
		}
	}
	return b.String()
}

// canonicalQuery encodes params sorted by key (SigV4's canonical form, also
// what is sent).
func canonicalQuery(params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = uriEncode(k, false) + "=" + uriEncode(params[k], false)
	}
	return strings.Join(parts, "&")
}
