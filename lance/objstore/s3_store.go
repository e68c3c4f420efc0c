package objstore

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// S3 is a Store on one bucket of an S3-compatible server; keys are object
// keys ("prefix/data.lance/_versions/…").
type S3 struct {
	c *s3Client
	// PartSize is the size of multipart upload parts (and the size up to
	// which Create sends one PUT). Default 8 MiB; S3's minimum is 5 MiB.
	PartSize int
}

// DefaultPartSize is S3.PartSize when zero.
const DefaultPartSize = 8 << 20

// NewS3 returns the store for bucket.
func NewS3(cfg Config, bucket string) *S3 {
	return &S3{c: newS3Client(cfg, bucket)}
}

// Counts returns the store's request counters.
func (s *S3) Counts() *RequestCounts { return &s.c.counts }

func (s *S3) URL(key string) string { return s.c.objectURL(key) }

func (s *S3) Get(ctx context.Context, key string) ([]byte, error) {
	r, _, err := s.c.do(ctx, "GET", s3Request{method: http.MethodGet, key: key})
	if err != nil {
		return nil, err
	}
	return r.body, nil
}

func (s *S3) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	r, _, err := s.c.do(ctx, "GET", s3Request{method: http.MethodGet, key: key,
		header: map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", off, off+n-1)}})
	if err != nil {
		return nil, err
	}
	if int64(len(r.body)) != n {
		return nil, fmt.Errorf("%w: GET %s bytes %d-%d: got %d bytes, want %d (object shorter than expected?)",
			ErrStore, s.URL(key), off, off+n-1, len(r.body), n)
	}
	return r.body, nil
}

// getTail reads the last n bytes (fewer if the object is smaller) and
// returns them with the object's size: one request for a file's footer
// and metadata.
func (s *S3) getTail(ctx context.Context, key string, n int64) ([]byte, int64, error) {
	r, _, err := s.c.do(ctx, "GET", s3Request{method: http.MethodGet, key: key,
		header: map[string]string{"Range": fmt.Sprintf("bytes=-%d", n)}})
	if err != nil {
		return nil, 0, err
	}
	size := int64(len(r.body))
	if r.status == http.StatusPartialContent {
		cr := r.header.Get("Content-Range") // "bytes a-b/size"
		i := strings.LastIndexByte(cr, '/')
		if i < 0 {
			return nil, 0, fmt.Errorf("%w: GET %s: bad Content-Range %q", ErrStore, s.URL(key), cr)
		}
		if size, err = strconv.ParseInt(cr[i+1:], 10, 64); err != nil {
			return nil, 0, fmt.Errorf("%w: GET %s: bad Content-Range %q", ErrStore, s.URL(key), cr)
		}
	}
	return r.body, size, nil
}

func (s *S3) Head(ctx context.Context, key string) (Info, error) {
	r, _, err := s.c.do(ctx, "HEAD", s3Request{method: http.MethodHead, key: key})
	if err != nil {
		return Info{}, err
	}
	size, _ := strconv.ParseInt(r.header.Get("Content-Length"), 10, 64)
	mt, _ := http.ParseTime(r.header.Get("Last-Modified"))
	return Info{Key: key, Size: size, ModTime: mt}, nil
}

func (s *S3) Put(ctx context.Context, key string, data []byte) error {
	_, _, err := s.c.do(ctx, "PUT", s3Request{method: http.MethodPut, key: key, body: data})
	return err
}

// PutIfAbsent is a PUT with "If-None-Match: *": S3 (and MinIO) answer 412
// Precondition Failed when the key exists (see putConditional for a 412
// after a retry).
func (s *S3) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	_, err := s.CreateTagged(ctx, key, data)
	return err
}

func (s *S3) Delete(ctx context.Context, key string) error {
	_, _, err := s.c.do(ctx, "DELETE", s3Request{method: http.MethodDelete, key: key, okStatus: []int{http.StatusNotFound}})
	return err
}

// List uses ListObjectsV2, whose keys come in lexical (UTF-8 byte) order.
// Pages hold up to 1000 keys; fn returning false ends the listing without
// fetching further pages.
func (s *S3) List(ctx context.Context, dir string, fn func(Info) bool) error {
	return s.list(ctx, dir, 0, fn)
}

// list is List with pages of at most pageSize keys (0: the server's
// default, 1000).
func (s *S3) list(ctx context.Context, dir string, pageSize int, fn func(Info) bool) error {
	prefix := strings.TrimSuffix(dir, "/") + "/"
	if dir == "" {
		prefix = ""
	}
	token := ""
	for {
		q := map[string]string{"list-type": "2", "prefix": prefix}
		if pageSize > 0 {
			q["max-keys"] = strconv.Itoa(pageSize)
		}
		if token != "" {
			q["continuation-token"] = token
		}
		r, _, err := s.c.do(ctx, "LIST", s3Request{method: http.MethodGet, query: q, key: ""})
		if err != nil {
			if e, ok := err.(*s3Error); ok {
				e.url = s.URL(prefix)
			}
			return err
		}
		var page struct {
			Contents []struct {
				Key          string `xml:"Key"`
				Size         int64  `xml:"Size"`
				LastModified string `xml:"LastModified"`
			} `xml:"Contents"`
			IsTruncated           bool   `xml:"IsTruncated"`
			NextContinuationToken string `xml:"NextContinuationToken"`
		}
		if err := xml.Unmarshal(r.body, &page); err != nil {
			return fmt.Errorf("%w: LIST %s: bad response: %v", ErrStore, s.URL(prefix), err)
		}
		for _, o := range page.Contents {
			mt, _ := time.Parse(time.RFC3339Nano, o.LastModified)
			if !fn(Info{Key: strings.TrimPrefix(o.Key, prefix), Size: o.Size, ModTime: mt}) {
				return nil
			}
		}
		if !page.IsTruncated || page.NextContinuationToken == "" {
			return nil
		}
		token = page.NextContinuationToken
	}
}

// CreateBucket creates the store's bucket; an existing bucket we own is
// no error.
func (s *S3) CreateBucket(ctx context.Context) error {
	_, _, err := s.c.do(ctx, "PUT (create bucket)", s3Request{method: http.MethodPut, bucketOnly: true,
		okStatus: []int{http.StatusConflict}}) // 409 BucketAlreadyOwnedByYou
	return err
}
