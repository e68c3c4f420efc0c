package lance

import (
	"container/list"
	"path/filepath"
	"strings"
	"sync"

	"github.com/persisting/persisting/lance/file"
)

// Opened data file readers (footer, offset tables, column metadata and, for
// a file of at most 256 KiB, its bytes) are kept between reads, so a short
// read at a deep offset does not reopen and re-parse its fragments' files
// each call. The cache is shared by every Dataset snapshot of the process:
// a flush or a compaction makes a new version, and the files it still
// references stay warm.
//
// Keys are data file paths. Lance data file names are random UUIDs and a
// file is never rewritten, so a path names the same bytes for as long as it
// exists, in every version that references it; a newer version never names
// a removed file. Cleanup, which removes files, forgets the entries of the
// dataset's data directory (forgetUnder), and an open that raced with it is
// not cached; a reader whose size differs from the manifest's record is
// reopened. Compaction reads its sources directly (they are about to be
// superseded) and does not fill the cache.
//
// Bound: entries are charged their FootprintBytes, at least
// readerMinCharge, and at least readerHandleCharge when they hold an open
// file (or object) handle; the least recently used are closed once the sum
// passes the limit. With the default limit that is at most 32 MiB of
// reader memory, at most 64 open handles and at most 8,192 entries. An entry
// evicted while a read uses it is closed when that read ends.
const (
	readerCacheBytes   = 32 << 20
	readerMinCharge    = 4 << 10
	readerHandleCharge = 512 << 10
)

// dataFiles is the process's reader cache.
var dataFiles = newReaderCache(readerCacheBytes)

type readerCache struct {
	limit int64

	mu      sync.Mutex
	entries map[string]*cachedReader
	lru     list.List // of *cachedReader, most recently used first
	charged int64
	// epoch counts forgetUnder calls: a reader opened across one may be of
	// a file being removed, so it is used once and not cached.
	epoch uint64
}

type cachedReader struct {
	key     string
	r       *file.Reader
	charge  int64
	refs    int
	evicted bool
	elem    *list.Element
}

func newReaderCache(limit int64) *readerCache {
	return &readerCache{limit: limit, entries: map[string]*cachedReader{}}
}

// open returns a reader of the data file at path and the function to call
// when done with it (with the read's error: a failed read drops the entry,
// so an I/O error is not remembered). size is the file's size as the
// manifest records it, 0 when unknown.
func (c *readerCache) open(path string, size uint64) (*file.Reader, func(error), error) {
	key := readerKey(path)
	c.mu.Lock()
	if e, ok := c.entries[key]; ok {
		if size == 0 || uint64(e.r.Size()) == size {
			e.refs++
			c.lru.MoveToFront(e.elem)
			c.mu.Unlock()
			return e.r, func(err error) { c.release(e, err) }, nil
		}
		c.evictLocked(e)
	}
	epoch := c.epoch
	c.mu.Unlock()

	r, err := file.Open(path)
	if err != nil {
		return nil, nil, err
	}
	uncached := func(error) { r.Close() }
	charge := max(r.FootprintBytes(), readerMinCharge)
	if !r.InMemory() {
		charge = max(charge, readerHandleCharge)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch != epoch || charge > c.limit || c.entries[key] != nil {
		return r, uncached, nil
	}
	e := &cachedReader{key: key, r: r, charge: charge, refs: 1}
	e.elem = c.lru.PushFront(e)
	c.entries[key] = e
	c.charged += charge
	for c.charged > c.limit {
		c.evictLocked(c.lru.Back().Value.(*cachedReader))
	}
	return r, func(err error) { c.release(e, err) }, nil
}

func (c *readerCache) release(e *cachedReader, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.refs--
	if err != nil && !e.evicted {
		c.evictLocked(e)
	}
	if e.evicted && e.refs == 0 {
		e.r.Close()
	}
}

// evictLocked removes e; its reader is closed now if no read uses it, else
// by the last release.
func (c *readerCache) evictLocked(e *cachedReader) {
	if e.evicted {
		return
	}
	e.evicted = true
	delete(c.entries, e.key)
	c.lru.Remove(e.elem)
	c.charged -= e.charge
	if e.refs == 0 {
		e.r.Close()
	}
}

// forgetUnder drops every reader of a file under dir, and keeps a reader
// being opened meanwhile from being cached: cleanup calls it when it may
// remove files there.
func (c *readerCache) forgetUnder(dir string) {
	prefix := readerKey(dir) + string(filepath.Separator)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	for key, e := range c.entries {
		if strings.HasPrefix(key, prefix) {
			c.evictLocked(e)
		}
	}
}

// stats returns the number of cached readers and their summed charge.
func (c *readerCache) stats() (entries int, charged int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries), c.charged
}

// readerKey makes one key of the spellings of a local path (relative,
// unclean); an object store URL is its own key.
func readerKey(path string) string {
	if isRemote(path) {
		return cleanPath(path)
	}
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return filepath.Clean(path)
}

// openDataFile opens the data file at path through the cache, or directly
// (closed by done) when cached is false. A file whose size differs from the
// manifest's record (size, 0 when unknown) is refused as ErrCorrupt: it is
// not the file the manifest names (truncated, appended to, or replaced by
// another fragment's file, whose rows would be read as these), and pylance
// refuses it too.
func openDataFile(path string, size uint64, cached bool) (r *file.Reader, done func(error), err error) {
	if cached {
		r, done, err = dataFiles.open(path, size)
	} else if r, err = file.Open(path); err == nil {
		done = func(error) { r.Close() }
	}
	if err != nil {
		return nil, nil, err
	}
	if size != 0 && uint64(r.Size()) != size {
		err = corruptf("data file %s has %d bytes, the manifest records %d", path, r.Size(), size)
		done(err)
		return nil, nil, err
	}
	return r, done, nil
}
