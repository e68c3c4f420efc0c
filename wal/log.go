package wal

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	twal "github.com/tidwall/wal"
)

// DefaultSegmentSize is the segment size used when Options.SegmentSize is 0.
const DefaultSegmentSize = 16 << 20

// segmentPerms are the permissions of a new segment file.
const segmentPerms = 0o640

// Options configure Open and OpenReadOnly. The zero value is usable.
type Options struct {
	// Sync says when writes are fsynced; the zero value is SyncEveryWrite.
	Sync SyncPolicy
	// SegmentSize is the size at which a segment file is full and the next
	// one is started (a target: the entry that crosses it stays in the full
	// segment). The whole last segment is held in memory. 0 means
	// DefaultSegmentSize.
	SegmentSize int64
	// Logger gets warnings, such as a torn tail cut off by Open. nil means
	// log.Printf.
	Logger func(format string, args ...any)

	hooks *testHooks
}

// testHooks let tests observe and fail fsyncs, and drive the background
// sync loop without a clock.
type testHooks struct {
	// fsync wraps every fsync of the log's data (not of the directory).
	fsync func(fsync func() error) error
	// appended runs after entries up to last were written (not yet synced).
	appended func(last uint64)
	// tick replaces SyncInterval's ticker: each value received is one tick.
	tick <-chan time.Time
	// listed runs when the log lists its segment files to learn its tail
	// and sizes; an error it returns is taken as the listing's.
	listed func() error
	// transfer runs before staged entries are moved to the segments; an
	// error it returns fails the move.
	transfer func() error
}

func (o Options) withDefaults() (Options, error) {
	if o.Sync.invalid {
		return o, fmt.Errorf("wal: %v: the interval must be positive", o.Sync)
	}
	switch {
	case o.SegmentSize == 0:
		o.SegmentSize = DefaultSegmentSize
	case o.SegmentSize < 0 || o.SegmentSize > math.MaxInt32:
		return o, fmt.Errorf("wal: SegmentSize %d out of range", o.SegmentSize)
	}
	if o.Logger == nil {
		o.Logger = log.Printf
	}
	return o, nil
}

// tidwallOptions are the options every tidwall/wal log is opened with. It
// never fsyncs by itself (the committer does, see group_commit.go), except
// that it always fsyncs a full segment before starting the next one.
func (o Options) tidwallOptions() *twal.Options {
	return &twal.Options{
		NoSync:           true,
		SegmentSize:      int(o.SegmentSize),
		LogFormat:        twal.Binary,
		SegmentCacheSize: 2,
		AllowEmpty:       true, // TruncateFront(LastIndex()+1) must work
		// Read hands out the entry inside its in-memory segment instead of
		// a copy (a big entry is copied once fewer when replayed). Safe to
		// keep: tidwall/wal never changes bytes it has written there, it
		// only appends after them or replaces the whole segment.
		NoCopy:    true,
		DirPerms:  0o750,
		FilePerms: segmentPerms,
	}
}

// Log is a write-ahead log of byte payloads with stable, monotonic indexes.
// It is safe for concurrent use.
type Log struct {
	dir      string
	opts     Options
	readOnly bool
	ro       dirState // content of a read-only log

	// mu guards tw and the fields below it. Writes, truncations and reads
	// through tw hold it exclusively (tidwall/wal's Read changes its segment
	// cache under a shared lock, so concurrent Reads race).
	mu       sync.RWMutex
	tw       *twal.Log   // nil once closed, or broken
	broken   error       // why tw is nil if the log is not closed
	tail     segmentFile // the segment written to
	tailSize int64       // bytes in tail (tidwall/wal's rule for a full segment uses it)
	restSize int64       // bytes in the other segments
	// stale says tail, tailSize and restSize may be wrong: listing the
	// segment files after the directory changed failed. The next Append
	// lists them again first (and fails if it cannot): a stale tailSize
	// would mirror tidwall/wal's rotation wrongly and leave the fsyncs on a
	// full segment while entries go to the next.
	stale   bool
	scratch []byte // framing buffer
	batch   twal.Batch
	// stage is the staging file under SyncInterval (staging.go): entries
	// appended after twLast are in it, not yet in tidwall/wal.
	stage *staging

	first, last atomic.Uint64 // first == last+1 when empty
	twLast      atomic.Uint64 // the last entry in the segments (last, unless some are staged)
	size        atomic.Int64
	closed      atomic.Bool
	dirDirty    atomic.Bool // segment files were created since the directory was fsynced
	// syncTarget is the tail segment file to fsync; a new pointer whenever
	// the file may have changed (a new segment, a truncation rewriting it).
	syncTarget atomic.Pointer[segmentFile]

	// syncMu guards the file the committer fsyncs through: its own handle
	// on the tail segment, so that an fsync blocks neither tidwall/wal nor
	// writers (tidwall/wal's Sync would hold its lock for the fsync, and
	// writers arriving meanwhile could not append to join the next one).
	syncMu     sync.Mutex
	syncFile   *os.File
	syncOf     *segmentFile // what syncFile is open on
	syncClosed bool

	// markMu guards marked, the high-water mark recorded on disk
	// (high_water.go); lost is what Open found missing against it.
	markMu  sync.Mutex
	marked  uint64
	lost    *Lost
	markDue atomic.Uint64 // an index to record as the mark once it is durable

	commit *committer
	stop   chan struct{} // SyncInterval: ends syncLoop
	done   chan struct{}
}

// Open opens the log in dir, creating dir if needed. It reads and checks
// every entry. A torn tail (damage at the end of the last segment with
// nothing valid after it, as a crash in the middle of a write leaves) is
// cut off with a warning to Options.Logger; every entry before it is kept.
// Any other damage makes Open fail with a *CorruptError; OpenReadOnly then
// still reads the entries before it. Everything in the log is durable when
// Open returns.
func Open(dir string, opts Options) (*Log, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("wal: open: %w", err)
	}
	_, pending, temps, err := listSegments(dir)
	if err != nil {
		return nil, fmt.Errorf("wal: open: %w", err)
	}
	for _, t := range temps { // left by a crash in tidwall/wal's atomic write
		if err := os.Remove(t); err != nil {
			return nil, fmt.Errorf("wal: open: %w", err)
		}
	}
	if len(pending) > 0 {
		// tidwall/wal finishes an interrupted truncation on open, before
		// it reads the last segment (so even if that is torn).
		tw, err := twal.Open(dir, o.tidwallOptions())
		if err == nil {
			err = tw.Close()
		} else if errors.Is(err, twal.ErrCorrupt) {
			err = nil // a torn tail: loadDir cuts it
		}
		if err != nil {
			return nil, fmt.Errorf("wal: open: finishing an interrupted truncation: %w", err)
		}
	}
	st, err := loadDir(dir, true, o.Logger)
	if err != nil {
		return nil, err
	}
	mark, err := readHighWater(dir, o.Logger)
	if err != nil {
		return nil, err
	}
	tw, err := openTidwall(dir, o, st.first, st.last)
	if err != nil {
		return nil, err
	}
	l := &Log{dir: dir, opts: o, tw: tw}
	l.first.Store(st.first)
	l.last.Store(st.last)
	l.commit = newCommitter(0, l.fsync)
	fail := func(err error) (*Log, error) {
		if l.tw != nil {
			_ = l.tw.Close()
		}
		if l.stage != nil {
			_ = l.stage.unmap()
		}
		if l.syncFile != nil {
			_ = l.syncFile.Close()
		}
		return nil, err
	}
	l.twLast.Store(st.last)
	if err := l.refreshSizes(); err != nil {
		return fail(fmt.Errorf("wal: open: %w", err))
	}
	// Entries a killed process left staged are moved to the segments
	// whatever the policy is now.
	if err := l.openStaging(!o.Sync.everyWrite()); err != nil {
		return fail(err)
	}
	// Make what was found durable (it may have been written without an
	// fsync before a process crash) and the directory with it.
	l.dirDirty.Store(true)
	if err := l.commit.syncTo(l.last.Load()); err != nil {
		return fail(err)
	}
	// The staged entries are in the durable segments now.
	if l.stage != nil {
		err = l.stage.reset()
	} else {
		err = os.Remove(filepath.Join(dir, StagingName))
		if errors.Is(err, os.ErrNotExist) {
			err = nil
		}
	}
	if err != nil {
		return fail(fmt.Errorf("wal: open: %w", err))
	}
	if err := syncDir(dir); err != nil {
		return fail(fmt.Errorf("wal: open: %w", err))
	}
	l.dirDirty.Store(false)
	// A mark above the last entry found means the tail segment lost entries
	// after they were written; it is reported once (Lost), and the mark now
	// says what the log holds, so indexes given again are not reported.
	last := l.last.Load()
	l.lost = lostAgainst(mark, last)
	if mark != last {
		if err := writeHighWater(dir, last); err != nil {
			return fail(err)
		}
	}
	l.marked = last
	if !o.Sync.everyWrite() {
		l.stop, l.done = make(chan struct{}), make(chan struct{})
		go l.syncLoop(o.Sync.interval, l.stop, l.done)
	}
	return l, nil
}

// openTidwall opens dir with tidwall/wal and checks it sees the entries
// first..last.
func openTidwall(dir string, o Options, first, last uint64) (*twal.Log, error) {
	tw, err := twal.Open(dir, o.tidwallOptions())
	if err != nil {
		return nil, fmt.Errorf("wal: open: %w", err)
	}
	f, err1 := tw.FirstIndex()
	t, err2 := tw.LastIndex()
	if err := errors.Join(err1, err2); err != nil || f != first || t != last {
		_ = tw.Close()
		return nil, fmt.Errorf("wal: open: tidwall/wal sees entries %d..%d, the scan %d..%d (%v)", f, t, first, last, err)
	}
	return tw, nil
}

// OpenReadOnly opens the log in dir for reading only and never changes the
// directory. Unlike Open it does not fail on damage: the log ends just
// before the first damaged entry, and ReadFrom, after giving every entry
// up to LastIndex, returns the *CorruptError. A torn tail is ignored with a
// warning. Only Options.Logger is used.
func OpenReadOnly(dir string, opts Options) (*Log, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("wal: open read-only: %w", err)
	}
	st, err := loadDir(dir, false, o.Logger)
	if err != nil {
		return nil, fmt.Errorf("wal: open read-only: %w", err)
	}
	mark, err := readHighWater(dir, o.Logger)
	if err != nil {
		return nil, fmt.Errorf("wal: open read-only: %w", err)
	}
	var size int64
	if st.corrupt == nil {
		// What a killed process left staged; Open would move it to the
		// segments.
		if st.staged, err = readStaging(dir, st.last, o.Logger); err != nil {
			return nil, fmt.Errorf("wal: open read-only: %w", err)
		}
		for _, r := range st.staged {
			size += recordSize(len(r.frame) - headerSize)
		}
	}
	last := st.last + uint64(len(st.staged))
	l := &Log{dir: dir, opts: o, readOnly: true, ro: st, lost: lostAgainst(mark, last)}
	if st.corrupt != nil {
		l.lost = nil // the damage ends the readable log; Open reports it
	}
	l.first.Store(st.first)
	l.last.Store(last)
	for _, s := range st.sizes {
		size += s
	}
	l.size.Store(size)
	return l, nil
}

// Write appends payload as one entry and returns its index, which is
// LastIndex()+1. When it returns without error the entry is durable as the
// sync policy says. On error nothing was written (a failed fsync excepted:
// then whether the entry survives a crash is unknown, and the log refuses
// further writes until it is reopened).
func (l *Log) Write(payload []byte) (index uint64, err error) {
	first, _, err := l.write([][]byte{payload})
	return first, err
}

// WriteBatch appends the payloads as consecutive entries with one write
// (and at most one fsync) and returns the first and last index. The batch
// is written completely or, on error, not at all. An empty batch writes
// nothing and returns 0, 0, nil.
func (l *Log) WriteBatch(payloads [][]byte) (first, last uint64, err error) {
	if len(payloads) == 0 {
		return 0, 0, nil
	}
	return l.write(payloads)
}

func (l *Log) write(payloads [][]byte) (first, last uint64, err error) {
	first, last, err = l.Append(payloads)
	if err != nil {
		return 0, 0, err
	}
	if err := l.Commit(last); err != nil {
		return 0, 0, err
	}
	return first, last, nil
}

// Append writes the payloads as consecutive entries, completely or not at
// all, like WriteBatch, but returns without waiting for them to be durable:
// Commit(last) does that. A caller that must keep its entries in order
// with other state (the engine's bucket lock) appends under its lock and
// commits after releasing it, so that writers arriving while an fsync runs
// can append and share the next fsync (group commit). An empty batch
// writes nothing and returns 0, 0, nil.
func (l *Log) Append(payloads [][]byte) (first, last uint64, err error) {
	entries := make([][][]byte, len(payloads))
	for i, p := range payloads {
		entries[i] = [][]byte{p}
	}
	return l.AppendParts(entries)
}

// AppendParts is Append for entries given in parts: the payload of entry i
// is entries[i]'s parts one after the other. They are written as they are,
// never joined in memory, so a caller can put a header before a large
// payload without copying it.
func (l *Log) AppendParts(entries [][][]byte) (first, last uint64, err error) {
	if len(entries) == 0 {
		return 0, 0, nil
	}
	if l.readOnly {
		return 0, 0, ErrReadOnly
	}
	written := 0
	framed := int64(0)
	sizes := make([]int, len(entries))
	for i, parts := range entries {
		for _, p := range parts {
			sizes[i] += len(p)
		}
		if sizes[i] > MaxPayloadSize {
			return 0, 0, fmt.Errorf("wal: payload %d has %d bytes, more than the %d (4 GiB - 1) an entry holds", i, sizes[i], MaxPayloadSize)
		}
		written += sizes[i]
		framed += recordSize(sizes[i])
	}
	// Entries that fill a segment are written directly: tidwall/wal would
	// copy them twice, and keep the copies (writeDirect).
	direct := framed >= l.opts.SegmentSize
	l.mu.Lock()
	if err := l.usable(); err != nil {
		l.mu.Unlock()
		return 0, 0, err
	}
	if l.stale {
		if err := l.refreshSizes(); err != nil {
			l.mu.Unlock()
			return 0, 0, fmt.Errorf("wal: append: %w", err)
		}
	}
	first = l.last.Load() + 1
	last = first + uint64(len(entries)) - 1
	if l.stage != nil {
		// Entries that fill a segment are not staged (see direct); the
		// staged ones go first.
		staged, err := false, error(nil)
		if direct {
			err = l.transfer()
		} else {
			staged, err = l.stageEntries(first, entries, sizes)
		}
		if staged || err != nil {
			l.mu.Unlock()
			if err != nil {
				return 0, 0, err
			}
			if h := l.opts.hooks; h != nil && h.appended != nil {
				h.appended(last)
			}
			return first, last, nil
		}
	}
	// The first entries of a segment raise the high-water mark once they
	// are durable (account starts a new segment before the batch when the
	// tail is over size).
	startsSegment := l.tailSize == 0 || l.tailSize > l.opts.SegmentSize
	if direct {
		err = l.writeDirect(first, last, entries)
	} else {
		// Always a batch of our own: tidwall/wal's Write copies into a
		// batch buffer it keeps.
		for i, parts := range entries {
			l.scratch = appendEntry(l.scratch[:0], parts...)
			l.batch.Write(first+uint64(i), l.scratch)
		}
		err = l.tw.WriteBatch(&l.batch)
		l.batch.Clear()
		l.trimBuffers(written)
	}
	err = l.settleWrite(first, last, sizes, startsSegment, err)
	l.mu.Unlock()
	if err != nil {
		return 0, 0, err
	}
	if h := l.opts.hooks; h != nil && h.appended != nil {
		h.appended(last)
	}
	return first, last, nil
}

// settleWrite accounts for entries first..last just written to the
// segments (startsSegment: the first of them began a segment), or undoes
// the write when it failed with err. Callers hold mu.
func (l *Log) settleWrite(first, last uint64, sizes []int, startsSegment bool, err error) error {
	if err != nil {
		return l.undoFailedWrite(first, last, err)
	}
	l.account(sizes, first)
	if startsSegment {
		l.markDue.Store(last) // recorded by the fsync that covers it
	}
	l.twLast.Store(last)
	if l.last.Load() < last {
		l.last.Store(last)
	}
	return nil
}

// Commit returns once every entry up to index is durable as the sync
// policy says. Under SyncEveryWrite it waits for an fsync that covers
// index: the one under way if it does, else the next, which one of the
// waiting callers runs for all of them. Under SyncInterval it returns at
// once (the background fsync follows), with the error of an earlier
// failed fsync if there was one.
func (l *Log) Commit(index uint64) error {
	if l.readOnly {
		return ErrReadOnly
	}
	if !l.opts.Sync.everyWrite() {
		return l.commit.failure()
	}
	return l.commit.syncTo(index)
}

// usable returns why the log cannot be written or read through tw.
// Callers hold mu.
func (l *Log) usable() error {
	if l.closed.Load() {
		return ErrClosed
	}
	if l.broken != nil {
		return l.broken
	}
	return l.commit.failure()
}

// trimBuffers drops framing buffers grown by a large write.
func (l *Log) trimBuffers(written int) {
	const keep = 1 << 20
	if written > keep {
		l.scratch = nil
		l.batch = twal.Batch{}
	}
}

// account mirrors tidwall/wal's rule for starting a new segment, so that
// the log knows its tail segment (for the directory fsync) and its size
// without asking the file system after every write: before a batch, a tail
// larger than SegmentSize is closed; after each entry, a tail of at least
// SegmentSize is closed and the next entry starts a new segment.
func (l *Log) account(sizes []int, first uint64) {
	rotated := false
	rotate := func(start uint64) {
		l.restSize += l.tailSize
		l.tailSize = 0
		l.setTail(segmentFile{start: start, path: filepath.Join(l.dir, segmentName(start))})
		rotated = true
	}
	if l.tailSize > l.opts.SegmentSize {
		rotate(first)
	}
	for i, n := range sizes {
		l.tailSize += recordSize(n)
		if l.tailSize >= l.opts.SegmentSize {
			rotate(first + uint64(i) + 1)
		}
	}
	l.storeSize()
	if rotated {
		l.dirDirty.Store(true)
		if _, err := os.Stat(l.tail.path); err != nil {
			l.opts.Logger("wal: expected tidwall/wal to have started segment %s: %v", l.tail.path, err)
			_ = l.refreshSizes()
		}
	}
}

// refreshSizes learns the segments and their sizes from the file system;
// an error is also logged. Callers hold mu exclusively (or own l).
func (l *Log) refreshSizes() error {
	segs, _, _, err := listSegments(l.dir)
	if h := l.opts.hooks; err == nil && h != nil && h.listed != nil {
		err = h.listed()
	}
	var sizes []int64
	if err == nil {
		sizes, err = segmentSizes(segs)
	}
	if err == nil && len(segs) == 0 {
		err = errNoSegments
	}
	if err != nil {
		l.stale = true
		l.opts.Logger("wal: listing segments of %s: %v", l.dir, err)
		return err
	}
	l.stale = false
	n := len(segs) - 1
	l.setTail(segs[n])
	l.tailSize, l.restSize = sizes[n], 0
	for _, s := range sizes[:n] {
		l.restSize += s
	}
	l.storeSize()
	return nil
}

// storeSize records the log's size: the segments and what the staged
// entries will take in them. Callers hold mu exclusively (or own l).
func (l *Log) storeSize() {
	size := l.restSize + l.tailSize
	if l.stage != nil {
		size += l.stage.bytes
	}
	l.size.Store(size)
}

// setTail records the tail segment. Callers hold mu exclusively.
func (l *Log) setTail(s segmentFile) {
	l.tail = s
	l.syncTarget.Store(&s)
}

// writeDirect writes entries first..last to the segment files itself, in
// tidwall/wal's format and by its rule for starting a segment, with
// tidwall/wal closed meanwhile: through tidwall/wal each payload would be
// copied twice (its batch buffer and its in-memory tail segment, which it
// keeps), 2 GiB more for a 1 GiB entry. tidwall/wal, opened again, loads
// only the last segment, which holds less than a segment's size of them (an
// entry that fills a segment ends it). On error the caller undoes the write
// (undoFailedWrite). Callers hold mu.
func (l *Log) writeDirect(first, last uint64, entries [][][]byte) error {
	err := l.tw.Close() // fsyncs the tail, as tidwall/wal does before it starts a segment
	l.tw = nil
	if err != nil {
		return err
	}
	if err := appendToSegments(l.dir, l.tail, l.tailSize, l.opts.SegmentSize, first, entries); err != nil {
		return err
	}
	l.tw, err = openTidwall(l.dir, l.opts, l.first.Load(), last)
	return err
}

// undoFailedWrite restores the log to its state before a failed write, so
// that no partial entry stays on disk for a later write to follow; it
// reopens tidwall/wal, whose memory holds the failed entries. If that
// fails too the log is broken until reopened (Open then cuts the partial
// entry as a torn tail). Callers hold mu.
func (l *Log) undoFailedWrite(first, last uint64, cause error) error {
	werr := fmt.Errorf("wal: write of entries %d..%d: %w", first, last, cause)
	if l.tw != nil {
		_ = l.tw.Close() // best effort: it may not close after a failed write
		l.tw = nil
	}
	err := restoreTail(l.dir, l.tail, l.tailSize)
	if err == nil {
		l.tw, err = openTidwall(l.dir, l.opts, l.first.Load(), l.twLast.Load())
	}
	if err != nil {
		l.broken = fmt.Errorf("wal: log unusable until reopened: a write failed (%v) and undoing it failed: %w", cause, err)
		return errors.Join(werr, l.broken)
	}
	return werr
}

// fsync makes every entry written so far durable and returns the last
// index it covers; the committer calls it. It takes no lock writers take:
// entries up to covered are in the tail segment read after covered (a
// writer records a new tail before the entries written to it) or in
// earlier segments, which tidwall/wal fsyncs before it starts the next.
func (l *Log) fsync() (uint64, error) {
	covered := l.twLast.Load()
	dirty := l.dirDirty.Swap(false)
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	if l.syncClosed {
		return 0, ErrClosed
	}
	err := l.syncTail()
	if err == nil && dirty {
		err = syncDir(l.dir)
	}
	if err != nil {
		if dirty {
			l.dirDirty.Store(true)
		}
		return 0, fmt.Errorf("wal: fsync: %w", err)
	}
	if due := l.markDue.Load(); due > 0 && due <= covered {
		l.raiseHighWater(due) // once per segment: the writer, or the interval loop, waits for it
	}
	return covered, nil
}

// syncTail fsyncs the tail segment, (re)opening it if it changed. Callers
// hold syncMu.
func (l *Log) syncTail() error {
	for {
		target := l.syncTarget.Load()
		if l.syncOf != target {
			if l.syncFile != nil {
				_ = l.syncFile.Close()
				l.syncFile, l.syncOf = nil, nil
			}
			f, err := os.Open(target.path)
			if errors.Is(err, os.ErrNotExist) {
				// A truncation may have removed it and not yet recorded
				// the new tail: wait for it to finish, then look again.
				// If listing the segments failed (after a reload) the
				// tail is unknown: list them now.
				l.mu.Lock()
				if l.stale && l.syncTarget.Load() == target {
					_ = l.refreshSizes()
				}
				changed := l.syncTarget.Load() != target
				l.mu.Unlock()
				if changed {
					continue
				}
			}
			if err != nil {
				return err
			}
			l.syncFile, l.syncOf = f, target
		}
		if h := l.opts.hooks; h != nil && h.fsync != nil {
			return h.fsync(l.syncFile.Sync)
		}
		return l.syncFile.Sync()
	}
}

// FirstIndex returns the index of the first entry. For an empty log it is
// LastIndex()+1, the index the next Write gets.
func (l *Log) FirstIndex() (uint64, error) {
	if l.closed.Load() {
		return 0, ErrClosed
	}
	return l.first.Load(), nil
}

// LastIndex returns the index of the last entry written (or dropped by
// TruncateFront); 0 for a log never written. For a log opened read-only it
// is the last entry before any damage.
func (l *Log) LastIndex() (uint64, error) {
	if l.closed.Load() {
		return 0, ErrClosed
	}
	return l.last.Load(), nil
}

// Size returns the bytes the segment files take on disk.
func (l *Log) Size() int64 { return l.size.Load() }

// ReadFrom calls fn with each entry from index (or from FirstIndex, if
// index is smaller) to the LastIndex at the time of the call, in order.
// fn may keep payload. An error from fn stops the reading and is returned.
// An entry that fails its checks is returned as a *CorruptError.
func (l *Log) ReadFrom(index uint64, fn func(index uint64, payload []byte) error) error {
	if l.closed.Load() {
		return ErrClosed
	}
	if l.readOnly {
		return l.readOnlyFrom(index, fn)
	}
	last := l.last.Load()
	for i := max(index, l.first.Load()); i <= last; i++ {
		payload, err := l.read(i)
		if err != nil {
			return err
		}
		if err := fn(i, payload); err != nil {
			return err
		}
	}
	return nil
}

// read returns the payload of entry i.
func (l *Log) read(i uint64) (payload []byte, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Reading stays possible after a failed fsync.
	if l.closed.Load() {
		return nil, ErrClosed
	}
	if l.tw == nil {
		return nil, l.broken
	}
	if i < l.first.Load() {
		return nil, fmt.Errorf("wal: entry %d was dropped by TruncateFront while being read", i)
	}
	if i > l.twLast.Load() {
		if err := l.transfer(); err != nil {
			return nil, err
		}
	}
	defer func() {
		// tidwall/wal indexes into its segment without a bounds check, so
		// a segment file shortened behind its back makes it panic.
		if v := recover(); v != nil {
			payload, err = nil, l.corruptAt(i, fmt.Sprintf("tidwall/wal failed reading it: %v", v))
		}
	}()
	frame, err := l.tw.Read(i)
	if errors.Is(err, twal.ErrCorrupt) {
		return nil, l.corruptAt(i, "unreadable segment")
	}
	if err != nil {
		return nil, fmt.Errorf("wal: read entry %d: %w", i, err)
	}
	payload, err = decodeEntry(frame)
	if err != nil {
		return nil, l.corruptAt(i, err.Error())
	}
	// It lies inside tidwall/wal's segment (NoCopy): capped, so that a
	// caller appending to it gets a copy instead of writing over the
	// entries after it.
	return payload[:len(payload):len(payload)], nil
}

// corruptAt builds the CorruptError for entry i, finding the segment and
// offset of the entry on disk (Offset is -1 if it cannot).
func (l *Log) corruptAt(i uint64, reason string) *CorruptError {
	e := &CorruptError{Offset: -1, Index: i, Reason: reason}
	segs, _, _, err := listSegments(l.dir)
	if err != nil {
		return e
	}
	for _, s := range segs {
		if s.start <= i {
			e.Segment = s.path
		}
	}
	if e.Segment == "" {
		return e
	}
	data, err := os.ReadFile(e.Segment)
	if err != nil {
		return e
	}
	start, err := strconv.ParseUint(filepath.Base(e.Segment), 10, 64)
	if err != nil {
		return e
	}
	var off int64
	for n := start; n < i; n++ {
		_, size, err := nextRecord(data[off:])
		if err != nil {
			return e
		}
		off += int64(size)
	}
	e.Offset = off
	return e
}

// readOnlyFrom is ReadFrom of a read-only log: it reads the segment files
// itself.
func (l *Log) readOnlyFrom(index uint64, fn func(index uint64, payload []byte) error) error {
	st := &l.ro
	lo := max(index, st.first)
	for k, seg := range st.segs {
		end := st.last // last index to read from this segment
		if k+1 < len(st.segs) {
			end = st.segs[k+1].start - 1
		}
		if end < lo || seg.start > st.last {
			continue
		}
		data, err := os.ReadFile(seg.path)
		if err != nil {
			return fmt.Errorf("wal: read %s: %w", seg.path, err)
		}
		errStop := errors.New("stop")
		sc, err := scanSegment(data, func(n uint64, payload []byte) error {
			i := seg.start + n
			if i > end {
				return errStop
			}
			if i < lo {
				return nil
			}
			return fn(i, bytes.Clone(payload))
		})
		if errors.Is(err, errStop) {
			continue
		}
		if err != nil {
			return err
		}
		if seg.start+sc.entries <= end { // changed since OpenReadOnly
			return &CorruptError{Segment: seg.path, Offset: sc.end, Index: seg.start + sc.entries, Reason: sc.reason}
		}
	}
	if st.corrupt != nil {
		return st.corrupt
	}
	for _, r := range st.staged {
		if r.index >= lo {
			if err := fn(r.index, bytes.Clone(r.frame[headerSize:])); err != nil {
				return err
			}
		}
	}
	return nil
}

// TruncateFront drops every entry before index; call it once they are
// stored elsewhere. Indexes are never reused: an index at or below
// FirstIndex changes nothing, LastIndex()+1 empties the log (the next Write
// still gets LastIndex()+1), and an index beyond that empties the log and
// makes the next Write get index (for when entries committed elsewhere were
// lost from the log, say by a crash under SyncInterval).
func (l *Log) TruncateFront(index uint64) error {
	if l.readOnly {
		return ErrReadOnly
	}
	if dropped, err := l.truncateFront(index); err != nil || !dropped {
		return err
	}
	// tidwall/wal does not fsync the directory after removing and renaming
	// segments; if this fails the next fsync retries it (until then a crash
	// may bring back dropped entries, never lose kept ones). Without mu:
	// appends need not wait for this fsync.
	if err := syncDir(l.dir); err != nil {
		l.dirDirty.Store(true)
	}
	return nil
}

// truncateFront is TruncateFront's part under mu; dropped says whether it
// changed the log.
func (l *Log) truncateFront(index uint64) (dropped bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return false, err
	}
	first, last := l.first.Load(), l.last.Load()
	if index <= first {
		return false, nil
	}
	if err := l.transfer(); err != nil {
		return false, err
	}
	if index <= last+1 {
		err = l.tw.TruncateFront(index)
	} else {
		err = l.skipTo(index)
	}
	if err != nil {
		return false, l.reload(fmt.Errorf("wal: truncate front to %d: %w", index, err))
	}
	if index > last+1 {
		l.twLast.Store(index - 1)
		l.last.Store(index - 1)
	}
	l.first.Store(index)
	if index >= l.tail.start {
		// tidwall/wal wrote the entries kept from the tail segment to a
		// new file named by index and removed the old one (skipTo renamed
		// the empty one to that name): fsyncs go to the new file from now
		// on, whether or not the listing below works.
		l.setTail(segmentFile{start: index, path: filepath.Join(l.dir, segmentName(index))})
	}
	_ = l.refreshSizes() // on failure the next Append lists again
	return true, nil
}

// skipTo empties the log and makes index the next index. tidwall/wal keeps
// an empty log as one empty segment file named for the next index, so
// after emptying it the way it allows (truncating to LastIndex()+1) that
// file is renamed, which is atomic. Callers hold mu.
func (l *Log) skipTo(index uint64) error {
	next := l.last.Load() + 1
	if l.first.Load() < next {
		if err := l.tw.TruncateFront(next); err != nil {
			return err
		}
	}
	err := l.tw.Close()
	l.tw = nil
	if err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(l.dir, segmentName(next)), filepath.Join(l.dir, segmentName(index))); err != nil {
		return err
	}
	if err := syncDir(l.dir); err != nil {
		return err
	}
	l.tw, err = openTidwall(l.dir, l.opts, index, index-1)
	return err
}

// reload reopens tidwall/wal after a failed truncation; opening finishes a
// truncation it had begun. If that fails the log is broken until reopened.
// Callers hold mu. It returns cause.
func (l *Log) reload(cause error) error {
	if l.tw != nil {
		_ = l.tw.Close()
		l.tw = nil
	}
	tw, err := twal.Open(l.dir, l.opts.tidwallOptions())
	if err != nil {
		l.broken = fmt.Errorf("wal: log unusable until reopened: %v, and reopening failed: %w", cause, err)
		return errors.Join(cause, l.broken)
	}
	first, _ := tw.FirstIndex()
	last, _ := tw.LastIndex()
	l.tw = tw
	l.first.Store(first)
	l.twLast.Store(last)
	l.last.Store(last)
	l.dirDirty.Store(true)
	_ = l.refreshSizes()
	return cause
}

// Sync fsyncs every entry written so far (useful under SyncInterval).
func (l *Log) Sync() error {
	if l.closed.Load() {
		return ErrClosed
	}
	if l.readOnly {
		return nil
	}
	target, err := l.transferForSync()
	if err != nil {
		return err
	}
	return l.commit.syncTo(target)
}

// transferForSync moves the staged entries to the segments and returns
// the last index an fsync has to cover.
func (l *Log) transferForSync() (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var err error
	if l.tw != nil {
		err = l.transfer()
	}
	return l.twLast.Load(), err
}

// Close fsyncs the log and closes it. It returns the error of that fsync,
// or of an earlier one that failed.
func (l *Log) Close() error {
	if l.closed.Swap(true) {
		return ErrClosed
	}
	if l.readOnly {
		return nil
	}
	// Writers hold mu while they append; once closed is set (above) and mu
	// was taken once, no more entries come.
	l.mu.Lock()
	broken := l.broken
	l.mu.Unlock()
	if l.stop != nil {
		close(l.stop)
		<-l.done
	}
	var errs []error
	if broken == nil {
		// Staged entries that cannot be moved stay in the staging file,
		// which the next Open reads.
		target, err := l.transferForSync()
		if err == nil {
			err = l.commit.syncTo(target)
		}
		if err == nil {
			l.raiseHighWater(target)
		}
		errs = append(errs, err)
	}
	l.mu.Lock()
	if l.tw != nil {
		errs = append(errs, l.tw.Close())
		l.tw = nil
	}
	if l.stage != nil {
		errs = append(errs, l.stage.unmap())
		l.stage = nil
	}
	l.mu.Unlock()
	l.syncMu.Lock()
	if l.syncFile != nil {
		errs = append(errs, l.syncFile.Close())
	}
	l.syncClosed = true
	l.syncMu.Unlock()
	return errors.Join(errs...)
}
