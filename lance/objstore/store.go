package objstore

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"time"
)

// ErrNotExist: no object or file has the key. It is fs.ErrNotExist, so
// errors.Is(err, os.ErrNotExist) holds too.
var ErrNotExist = fs.ErrNotExist

// ErrExist: PutIfAbsent found the key taken (fs.ErrExist).
var ErrExist = fs.ErrExist

// ErrStore marks every error an S3 store returns after its retries (access
// denied, throttling that did not clear, timeouts, bad responses).
var ErrStore = errors.New("object store")

// ErrOutcomeUnknown marks a failed request that may still have taken effect:
// it got no answer (connection lost, timeout) or a 5xx, and retrying did
// not tell. A conditional PUT failing so may have created its object.
var ErrOutcomeUnknown = errors.New("outcome unknown")

// ErrNoAnswer marks a request that got no answer at all after its retries
// (the server could not be reached, the connection broke, a timeout): the
// server is gone for now, and other requests would wait as long.
var ErrNoAnswer = errors.New("no answer")

// Info describes one object or file.
type Info struct {
	// Key is the full key (for List: relative to the listed directory).
	Key     string
	Size    int64
	ModTime time.Time
}

// Store is a flat namespace of immutable objects addressed by key.
type Store interface {
	// Get reads a whole object.
	Get(ctx context.Context, key string) ([]byte, error)
	// GetRange reads n bytes at off.
	GetRange(ctx context.Context, key string, off, n int64) ([]byte, error)
	// Head returns the size and modification time of an object.
	Head(ctx context.Context, key string) (Info, error)
	// Put writes an object, replacing any object with the key.
	Put(ctx context.Context, key string, data []byte) error
	// PutIfAbsent writes an object unless one with the key exists
	// (ErrExist). At most one of concurrent callers succeeds.
	PutIfAbsent(ctx context.Context, key string, data []byte) error
	// Create starts a streamed upload of a new object.
	Create(ctx context.Context, key string) (Upload, error)
	// List calls fn with every object under dir (recursively, keys relative
	// to dir, lexical order) until fn returns false. A missing dir lists
	// nothing.
	List(ctx context.Context, dir string, fn func(Info) bool) error
	// Delete removes an object; deleting a missing object is no error.
	Delete(ctx context.Context, key string) error
	// URL names key for messages ("s3://bucket/key" or a local path).
	URL(key string) string
}

// Upload is an object being written. Nothing is visible until Close
// returns nil; Abort discards what was written.
type Upload interface {
	io.Writer
	Close() error
	Abort()
}
