package objstore

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Location is a parsed path: a store and the key within it.
type Location struct {
	Store Store
	Key   string
}

// URL names the location for messages.
func (l Location) URL() string { return l.Store.URL(l.Key) }

// IsRemote says whether path names an object in an object store (s3://)
// rather than a local file.
func IsRemote(path string) bool {
	_, _, ok := splitS3(path)
	return ok
}

// splitS3 parses "s3://bucket/key" and the "s3:/bucket/key" filepath.Join
// makes of it. The key is read as pylance reads the URL's path, so one URL
// names one dataset in both: percent-escapes are decoded ("%20" is a space,
// "%2F" a slash; a '%' that starts no escape stays as written). What
// pylance reads otherwise still ('?', '#', "." and ".." segments) CheckPath
// refuses; JoinURL and S3.URL write a '%' of a key back as "%25".
func SplitS3(path string) (bucket, key string, ok bool) { return splitS3(path) }

func splitS3(path string) (bucket, key string, ok bool) {
	var rest string
	switch {
	case strings.HasPrefix(path, "s3://"):
		rest = path[len("s3://"):]
	case strings.HasPrefix(path, "s3:/"):
		rest = path[len("s3:/"):]
	default:
		return "", "", false
	}
	bucket, key, _ = strings.Cut(rest, "/")
	return bucket, strings.Trim(strings.ReplaceAll(unescapeKey(key), "//", "/"), "/"), bucket != ""
}

// unescapeKey decodes the %XX escapes of an s3:// URL's path, leaving a
// '%' not followed by two hex digits as it is (as pylance does).
func unescapeKey(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(v))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// escapeKey writes a key into an s3:// URL that splitS3 reads back as the
// same key.
func escapeKey(key string) string { return strings.ReplaceAll(key, "%", "%25") }

// checkS3URL refuses what pylance would read as another location than
// the one written: it ends the path at '?' or '#' and resolves "." and
// ".." segments.
func checkS3URL(path string) error {
	_, rest, _ := strings.Cut(strings.TrimPrefix(path, "s3://"), "/")
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		return fmt.Errorf("storage path %q: pylance reads an s3:// URL only up to %q; write %%%02X for the character", path, rest[i], rest[i])
	}
	for _, seg := range strings.Split(unescapeKey(rest), "/") {
		if seg == "." || seg == ".." {
			return fmt.Errorf("storage path %q: an s3:// URL may not hold %q segments (pylance would resolve them to another prefix)", path, seg)
		}
	}
	return nil
}

// LocalPath returns the local file path of a local path or file: URL
// (ok false for s3:// and other URLs, and for a file: URL CheckPath
// refuses).
func LocalPath(path string) (string, bool) {
	if IsRemote(path) {
		return "", false
	}
	if isFileURL(path) {
		p, err := fileURLPath(path)
		return p, err == nil
	}
	if i := strings.Index(path, "://"); i > 0 && !strings.ContainsAny(path[:i], "/\\") {
		return "", false // another scheme (gs://, az://, ...)
	}
	return path, true
}

func isFileURL(path string) bool { return len(path) >= 5 && strings.EqualFold(path[:5], "file:") }

// fileURLPath is the local path a file: URL names, read as pylance reads it
// (file:///abs, file://localhost/abs, file:/abs; percent-escapes decoded),
// so a bucket and its dataset opened in pylance with the same URL are one
// directory. A host other than localhost names another machine's disk and
// is refused rather than read as a local directory.
func fileURLPath(path string) (string, error) {
	u, err := url.Parse(path)
	if err != nil {
		return "", fmt.Errorf("storage path %q: %v", path, err)
	}
	if u.Host != "" && !strings.EqualFold(u.Host, "localhost") {
		return "", fmt.Errorf("storage path %q: file:// names host %q; write file:///absolute/path for a local directory", path, u.Host)
	}
	if u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return "", fmt.Errorf("storage path %q: a file: URL needs an absolute path (file:///absolute/path)", path)
	}
	return filepath.FromSlash(u.Path), nil
}

// CheckPath validates a storage path: a local path, a file: URL or
// s3://bucket[/prefix]; other URL schemes are refused. It is the one
// authority on which locations exist; the library and the CLI both ask it.
func CheckPath(path string) error {
	if IsRemote(path) {
		if !strings.HasPrefix(path, "s3://") {
			return fmt.Errorf("storage path %q: write s3://bucket/prefix", path)
		}
		return checkS3URL(path)
	}
	if isFileURL(path) {
		_, err := fileURLPath(path)
		return err
	}
	if _, ok := LocalPath(path); !ok {
		scheme, _, _ := strings.Cut(path, "://")
		if scheme == "s3" { // "s3://" without a bucket name
			return fmt.Errorf("storage path %q: write s3://bucket/prefix", path)
		}
		return fmt.Errorf("storage path %q: scheme %s:// is not supported (s3://, file:// and local paths are)", path, scheme)
	}
	return nil
}

// JoinURL appends slash-separated elements to a local path or s3:// URL,
// keeping the URL form intact (filepath.Join would fold "s3://" to "s3:/").
func JoinURL(base string, elem ...string) string {
	if bucket, key, ok := splitS3(base); ok {
		parts := []string{}
		if key != "" {
			parts = append(parts, escapeKey(key))
		}
		for _, e := range elem {
			if e = strings.Trim(e, "/"); e != "" {
				parts = append(parts, escapeKey(e))
			}
		}
		if len(parts) == 0 {
			return "s3://" + bucket
		}
		return "s3://" + bucket + "/" + strings.Join(parts, "/")
	}
	return filepath.Join(append([]string{base}, elem...)...)
}

// CleanPath is one spelling of a path: an s3:// URL with a single slash
// between its parts and none at the end (what filepath.Clean would make
// "s3:/..." of is mended), a local path cleaned.
func CleanPath(path string) string {
	if IsRemote(path) {
		return JoinURL(path)
	}
	return filepath.Clean(path)
}

var registry struct {
	sync.Mutex
	byPrefix map[string]*S3 // "bucket/prefix" -> store configured for it
	byBucket map[string]*S3 // bucket -> store from the environment
}

// Configure sets the endpoint and credentials used for every path under
// prefix (an s3:// URL), from storage options in pylance's vocabulary on
// top of the AWS_* environment (see ParseConfig). The longest configured
// prefix of a path wins; paths under no configured prefix use the
// environment alone. Configuring a prefix again replaces its settings
// (new requests use them; readers already open keep theirs).
func Configure(prefix string, options map[string]string) error {
	bucket, key, ok := splitS3(prefix)
	if !ok {
		return fmt.Errorf("objstore: %q is not an s3:// URL", prefix)
	}
	cfg, err := ParseConfig(options)
	if err != nil {
		return fmt.Errorf("%s: %w", prefix, err)
	}
	registry.Lock()
	defer registry.Unlock()
	if registry.byPrefix == nil {
		registry.byPrefix = map[string]*S3{}
	}
	id := bucket + "/" + key
	// Buckets of one queue share their settings: share the store too (one
	// connection pool, one set of counters) rather than one per prefix.
	for _, st := range registry.byPrefix {
		if st.c.bucket == bucket && st.c.cfg == cfg {
			registry.byPrefix[id] = st
			return nil
		}
	}
	registry.byPrefix[id] = NewS3(cfg, bucket)
	return nil
}

// Resolve maps a path to its store and key. S3 paths use the store
// Configure set for their longest configured prefix, else one configured
// from the environment.
func Resolve(path string) (Location, error) {
	bucket, key, ok := splitS3(path)
	if !ok {
		return Location{Store: Local{}, Key: path}, nil
	}
	registry.Lock()
	defer registry.Unlock()
	full := bucket + "/" + key
	var best *S3
	bestLen := -1
	for id, st := range registry.byPrefix {
		if (full == id || strings.HasPrefix(full, strings.TrimSuffix(id, "/")+"/")) && len(id) > bestLen {
			best, bestLen = st, len(id)
		}
	}
	if best != nil {
		return Location{Store: best, Key: key}, nil
	}
	if st, ok := registry.byBucket[bucket]; ok {
		return Location{Store: st, Key: key}, nil
	}
	cfg, err := ParseConfig(nil)
	if err != nil {
		return Location{}, fmt.Errorf("%s: %w", path, err)
	}
	st := NewS3(cfg, bucket)
	if registry.byBucket == nil {
		registry.byBucket = map[string]*S3{}
	}
	registry.byBucket[bucket] = st
	return Location{Store: st, Key: key}, nil
}

// The path-level helpers below are what the lance package calls.

// ReadFile reads a whole file or object.
func ReadFile(path string) ([]byte, error) {
	l, err := Resolve(path)
	if err != nil {
		return nil, err
	}
	return l.Store.Get(context.Background(), l.Key)
}

// Remove deletes a file or object (a missing one is no error).
func Remove(path string) error {
	l, err := Resolve(path)
	if err != nil {
		return err
	}
	return l.Store.Delete(context.Background(), l.Key)
}

// List walks the files under dir (recursively, lexical order, names
// relative to dir with '/' separators) until fn returns false.
func List(dir string, fn func(Info) bool) error {
	l, err := Resolve(dir)
	if err != nil {
		return err
	}
	return l.Store.List(context.Background(), l.Key, fn)
}

// ListFirst is List for a caller that expects to stop after the first few
// keys (the newest V2 manifest): an object store is asked for small pages,
// so the answer does not carry a thousand keys nobody reads.
func ListFirst(dir string, fn func(Info) bool) error {
	l, err := Resolve(dir)
	if err != nil {
		return err
	}
	if s, ok := l.Store.(*S3); ok {
		return s.list(context.Background(), l.Key, firstPageKeys, fn)
	}
	return l.Store.List(context.Background(), l.Key, fn)
}

// firstPageKeys is ListFirst's page size.
const firstPageKeys = 16

// PutIfAbsent creates path with data unless it exists (ErrExist).
func PutIfAbsent(path string, data []byte) error {
	l, err := Resolve(path)
	if err != nil {
		return err
	}
	return l.Store.PutIfAbsent(context.Background(), l.Key, data)
}

// Put writes path, replacing what was there.
func Put(path string, data []byte) error {
	l, err := Resolve(path)
	if err != nil {
		return err
	}
	return l.Store.Put(context.Background(), l.Key, data)
}

// Create starts a streamed upload of path.
func Create(path string) (Upload, error) {
	l, err := Resolve(path)
	if err != nil {
		return nil, err
	}
	return l.Store.Create(context.Background(), l.Key)
}

// Stat returns the size and modification time of path.
func Stat(path string) (Info, error) {
	l, err := Resolve(path)
	if err != nil {
		return Info{}, err
	}
	return l.Store.Head(context.Background(), l.Key)
}

// KnownGone returns, while the store holding path counts as gone, the
// error of its last request that got no answer (it wraps ErrNoAnswer):
// that request got none after all its retries, and none has got one since
// (s3Client.gone), so each request makes one attempt - a whole timeout
// against a server that stalls. nil otherwise, and for a local path.
func KnownGone(path string) error {
	loc, err := Resolve(path)
	if err != nil {
		return nil
	}
	s, ok := loc.Store.(*S3)
	if !ok || !s.c.gone.Load() {
		return nil
	}
	s.c.goneMu.Lock()
	defer s.c.goneMu.Unlock()
	if s.c.goneErr == nil {
		return ErrNoAnswer
	}
	return s.c.goneErr
}
