package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
)

// ErrChanged: a conditional replace (ReplaceIfMatch) found the object no
// longer the version it was read as: someone else wrote it meanwhile.
var ErrChanged = errors.New("object changed since it was read")

// errPrecondition is a 412 that was not our own earlier attempt.
var errPrecondition = errors.New("precondition failed")

// An object read with its ETag can be replaced only if nobody wrote it since:
// a PUT with "If-Match: <etag>" (S3 and MinIO answer 412 otherwise). This is
// what a lease object needs; datasets need only PutIfAbsent.

// GetTagged reads a whole object and its ETag.
func (s *S3) GetTagged(ctx context.Context, key string) ([]byte, string, error) {
	r, _, err := s.c.do(ctx, "GET", s3Request{method: http.MethodGet, key: key})
	if err != nil {
		return nil, "", err
	}
	return r.body, r.header.Get("ETag"), nil
}

// CreateTagged is PutIfAbsent returning the new object's ETag.
func (s *S3) CreateTagged(ctx context.Context, key string, data []byte) (string, error) {
	tag, err := s.putConditional(ctx, key, data, map[string]string{"If-None-Match": "*"})
	if errors.Is(err, errPrecondition) {
		return "", fmt.Errorf("%s: %w", s.URL(key), ErrExist)
	}
	return tag, err
}

// ReplaceIfMatch writes data over the object if its ETag is still etag, and
// returns the new ETag. ErrChanged: it has been written since; ErrNotExist:
// it has been deleted.
func (s *S3) ReplaceIfMatch(ctx context.Context, key string, data []byte, etag string) (string, error) {
	tag, err := s.putConditional(ctx, key, data, map[string]string{"If-Match": etag})
	if errors.Is(err, errPrecondition) {
		return "", fmt.Errorf("%s: %w", s.URL(key), ErrChanged)
	}
	return tag, err
}

// putConditional PUTs data with the precondition in header. When the
// request had to be retried, a 412 may be our own earlier attempt that
// succeeded unseen: the object is then read back, and equal bytes count as
// ours (callers write unique bytes: a manifest names its own transaction, a
// lease record its holder and renewal).
func (s *S3) putConditional(ctx context.Context, key string, data []byte, header map[string]string) (string, error) {
	r, retried, err := s.c.do(ctx, "PUT", s3Request{method: http.MethodPut, key: key, body: data,
		header: header, okStatus: []int{http.StatusPreconditionFailed}})
	if err != nil {
		return "", err
	}
	if r.status != http.StatusPreconditionFailed {
		return r.header.Get("ETag"), nil
	}
	if retried {
		if cur, tag, err := s.GetTagged(ctx, key); err == nil && bytes.Equal(cur, data) {
			return tag, nil
		}
	}
	return "", errPrecondition
}

// errNotConditional: conditional replaces are offered by object stores only
// (a local bucket is guarded by flock instead).
func errNotConditional(path string) error {
	return fmt.Errorf("objstore: %s: conditional replace needs an s3:// path", path)
}

// ReadTagged reads the object at an s3:// path and its ETag.
func ReadTagged(path string) ([]byte, string, error) {
	s, key, err := resolveS3(path)
	if err != nil {
		return nil, "", err
	}
	return s.GetTagged(context.Background(), key)
}

// CreateTagged creates the object at an s3:// path unless it exists
// (ErrExist) and returns its ETag.
func CreateTagged(path string, data []byte) (string, error) {
	s, key, err := resolveS3(path)
	if err != nil {
		return "", err
	}
	return s.CreateTagged(context.Background(), key, data)
}

// ReplaceIfMatch replaces the object at an s3:// path if its ETag is still
// etag (else ErrChanged or ErrNotExist) and returns the new ETag.
func ReplaceIfMatch(path string, data []byte, etag string) (string, error) {
	return ReplaceIfMatchContext(context.Background(), path, data, etag)
}

// ReplaceIfMatchContext is ReplaceIfMatch ending (retries included) when
// ctx is done.
func ReplaceIfMatchContext(ctx context.Context, path string, data []byte, etag string) (string, error) {
	s, key, err := resolveS3(path)
	if err != nil {
		return "", err
	}
	return s.ReplaceIfMatch(ctx, key, data, etag)
}

func resolveS3(path string) (*S3, string, error) {
	l, err := Resolve(path)
	if err != nil {
		return nil, "", err
	}
	s, ok := l.Store.(*S3)
	if !ok {
		return nil, "", errNotConditional(path)
	}
	return s, l.Key, nil
}
