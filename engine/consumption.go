package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// Training-data consumption: per task, which record indexes were handed out
// (TakeUnconsumed) or marked consumed; and, per bucket, which were cleared
// (clear.go deletes them; the dataset records their offsets). A record's
// index is its offset in append order (Read's offset); clearing never moves
// another record's index. The state lives in memory as offsetSets (roaring
// bitmaps, any int64 index: offset_set.go) and
// in a consumptionStore: locally the consumption log (consumption_log.go),
// every change one appended entry, fsynced before the call returns when the
// bucket has a WAL, otherwise written at once (a killed process keeps it)
// and fsynced at the next flush and at close; on an object store snapshots
// written at the next flush (consumption_remote.go).

// consumptionLogCompactEntries: a log with more entries than this (and more
// than twice the state's) is rewritten as the state (replay cost bounded by
// the state's size), at open and as soon as a change makes it that long.
const consumptionLogCompactEntries = 4096

// consumption is a bucket's training state, loaded at its first use.
type consumption struct {
	mu      sync.Mutex
	loaded  bool
	closed  bool
	file    consumptionStore // consumption.log, or snapshots on an object store (consumption_remote.go)
	cleared *offsetSet
	tasks   map[string]*taskConsumption
	first   int64 // the state holds no index below it (retention dropped them)
}

// taskConsumption is one task's state. unavailable = consumed ∪ cleared, so
// the next index to hand out is the bitmap's next absent value: the
// complement is scanned, never the consumed indexes one by one.
type taskConsumption struct {
	unavailable *offsetSet
	cursor      int64 // every index below cursor is unavailable
}

// load reads the log the first time; the caller holds c.mu.
func (c *consumption) load(b *Bucket) error {
	if c.closed {
		return ErrClosed
	}
	if c.loaded {
		return nil
	}
	f, entries, err := openConsumptionStore(b)
	if err != nil {
		return err
	}
	// Cleared records are deleted from the dataset, which records their
	// offsets; logs of older versions also hold clear entries (op 3) that
	// deleted nothing: those stay cleared logically.
	c.file, c.cleared, c.tasks, c.first = f, b.currentOffsets().cleared.clone(), map[string]*taskConsumption{}, 0
	for _, e := range entries {
		c.apply(e)
	}
	c.forgetRetained(b.currentOffsets().first)
	c.loaded = true
	total, _, _, err := b.Counts()
	if err != nil {
		return err
	}
	if c.forgetFrom(total) {
		// Records past the end were lost (buffered, no WAL, process killed):
		// new records will take their indexes, so the log must forget them
		// before anything is appended to it.
		b.opts.Logger("persisting: %s names indexes past the bucket's %d records; forgetting them",
			c.file.where(), total)
		if err := c.file.rewrite(c.snapshot()); err != nil {
			return err
		}
	} else if snap := c.snapshot(); len(entries) > max(consumptionLogCompactEntries, 2*len(snap)) {
		if err := c.file.rewrite(snap); err != nil {
			b.opts.Logger("persisting: compacting the consumption log: %v", err)
		}
	}
	return nil
}

// forgetRetained removes the indexes below first from the state: retention
// dropped their records, so no task can be handed them again (takes and
// ready ranges start at first) and keeping them would grow the state, and
// every log rewrite and snapshot, with the whole history of clears and
// scattered marks. O(state), once per retention step.
func (c *consumption) forgetRetained(first int64) {
	if first <= c.first {
		return
	}
	c.first = first
	for _, bm := range c.bitmaps() {
		bm.removeBelow(first)
	}
}

// forgetFrom removes every index >= total from the state; it reports whether
// there was any.
func (c *consumption) forgetFrom(total int64) bool {
	found := false
	for _, bm := range c.bitmaps() {
		if !bm.isEmpty() && bm.maximum() >= total {
			bm.removeFrom(total)
			found = true
		}
	}
	return found
}

func (c *consumption) bitmaps() []*offsetSet {
	out := []*offsetSet{c.cleared}
	for _, t := range c.tasks {
		out = append(out, t.unavailable)
	}
	return out
}

// loadIfPresent loads an existing log at Open, before any append: indexes
// past the recovered records must be forgotten before new records take them.
func (c *consumption) loadIfPresent(b *Bucket) error {
	if b.opts.remote() {
		// Snapshots may exist: one LIST finds out.
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.load(b)
	}
	if _, err := os.Stat(filepath.Join(b.opts.Path, ConsumptionLogName)); err != nil {
		return nil // no log yet (or unreadable: the first use reports it)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.load(b)
}

// apply changes the in-memory state by one entry (replay and live calls).
func (c *consumption) apply(e consumptionEntry) {
	switch e.op {
	case opMark:
		c.task(e.task).unavailable.or(e.indexes)
	case opReset:
		// A task that consumed nothing is no state: pulsing's own storage
		// forgets a reset task too, so tasks that come and go stay bounded.
		delete(c.tasks, e.task)
	case opClear:
		c.cleared.or(e.indexes)
		for _, t := range c.tasks {
			t.unavailable.or(e.indexes)
		}
	}
}

func (c *consumption) task(name string) *taskConsumption {
	t, ok := c.tasks[name]
	if !ok {
		t = &taskConsumption{unavailable: c.cleared.clone()}
		c.tasks[name] = t
	}
	return t
}

// snapshot is the state as the fewest entries that rebuild it.
func (c *consumption) snapshot() []consumptionEntry {
	out := []consumptionEntry{{op: opClear, indexes: c.cleared}}
	names := make([]string, 0, len(c.tasks))
	for n := range c.tasks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out = append(out, consumptionEntry{op: opReset, task: n},
			consumptionEntry{op: opMark, task: n, indexes: c.tasks[n].unavailable})
	}
	return out
}

// record logs e and applies it: the log first, so memory never holds a state
// the disk has not been asked to keep.
func (c *consumption) record(b *Bucket, e consumptionEntry) error {
	if err := b.writable("changing consumption state"); err != nil {
		return err // another process owns the state
	}
	if err := c.file.append(e, b.opts.WAL.Enabled); err != nil {
		return err
	}
	c.apply(e)
	if err := c.file.compact(c.snapshot); err != nil { // e is durable either way
		b.opts.Logger("persisting: compacting %s failed (retried at the next change): %v", c.file.where(), err)
	}
	return nil
}

// syncAfterFlush fsyncs what was logged since the last fsync (buckets
// without a WAL: consumption is as durable as the data version just written).
func (c *consumption) syncAfterFlush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded || c.closed {
		return nil
	}
	return c.file.flushed(c.snapshot)
}

func (c *consumption) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if !c.loaded {
		return nil
	}
	c.loaded = false
	return c.file.close(c.snapshot)
}

// withConsumption runs fn with the loaded state and the bucket's row count.
func (b *Bucket) withConsumption(fn func(c *consumption, total int64) error) error {
	c := &b.consumption
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.load(b); err != nil {
		return err
	}
	total, _, _, err := b.Counts()
	if err != nil {
		return err
	}
	c.forgetRetained(b.currentOffsets().first)
	return fn(c, total)
}

func checkTask(task string) error {
	if task == "" {
		return fmt.Errorf("%w: task name must not be empty", ErrInvalidArgument)
	}
	if len(task) > 0xFFFF {
		return fmt.Errorf("%w: task name is %d bytes, at most 65535", ErrInvalidArgument, len(task))
	}
	if !utf8.ValidString(task) {
		return fmt.Errorf("%w: task name %q is not UTF-8", ErrInvalidArgument, task)
	}
	return nil
}

// indexBitmap checks every index against [0, total) and returns them as a bitmap.
func indexBitmap(indexes []int64, total int64) (*offsetSet, error) {
	bm := newOffsetSet()
	for _, i := range indexes {
		if i < 0 || i >= total {
			return nil, fmt.Errorf("%w: index %d is out of range (the bucket holds indexes 0..%d)",
				ErrInvalidArgument, i, total-1)
		}
		bm.add(i)
	}
	return bm, nil
}

// CheckFields refuses names that are not top-level fields of the bucket's
// schema. A bucket that stored nothing yet has no schema: no name is refused
// (pulsing's consumers poll get_meta before the first producer writes).
func (b *Bucket) CheckFields(fields []string) error {
	_, err := b.fieldsStored(fields)
	return err
}

// fieldsStored is CheckFields, and says whether the bucket has a schema to
// check fields against: without one, a batch asking for fields is empty.
func (b *Bucket) fieldsStored(fields []string) (bool, error) {
	b.mu.Lock()
	sch := b.schema
	b.mu.Unlock()
	if sch == nil {
		return len(fields) == 0, nil
	}
	if len(fields) == 0 {
		return true, nil
	}
	var unknown, have []string
	for _, f := range sch.Fields() {
		have = append(have, f.Name)
	}
	for _, name := range fields {
		if len(sch.FieldIndices(name)) == 0 {
			unknown = append(unknown, fmt.Sprintf("%q", name))
		}
	}
	if len(unknown) > 0 {
		return false, fmt.Errorf("%w: unknown field %s (the bucket's fields: %s)", ErrInvalidArgument,
			strings.Join(unknown, ", "), strings.Join(have, ", "))
	}
	return true, nil
}

// TakeUnconsumed hands out up to n indexes task has not consumed (and nobody
// cleared), lowest first, and marks them consumed, as one step. Cost:
// O(n) bitmap searches (nextAbsent), independent of how many were consumed.
func (b *Bucket) TakeUnconsumed(task string, fields []string, n int64) ([]int64, error) {
	if err := checkTask(task); err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fmt.Errorf("%w: batch size %d is negative", ErrInvalidArgument, n)
	}
	if stored, err := b.fieldsStored(fields); !stored || err != nil {
		return nil, err // no schema yet: none of fields is stored, nothing is ready
	}
	var out []int64
	err := b.withConsumption(func(c *consumption, total int64) error {
		t := c.task(task)
		m := b.currentOffsets()
		taken := newOffsetSet()
		next := max(t.cursor, m.first) // retention dropped the records below first
		for int64(len(out)) < n && next < total {
			v := t.unavailable.nextAbsent(next)
			if v < 0 || v >= total {
				break
			}
			next = v + 1
			if m.isCleared(v) {
				continue // a clear committed, its indexes not yet noted (noteCleared)
			}
			out = append(out, v)
			taken.add(v)
		}
		if len(out) > 0 {
			if err := c.record(b, consumptionEntry{op: opMark, task: task, indexes: taken}); err != nil {
				out = nil
				return err // nothing taken: the cursor stays before the batch
			}
		}
		// [cursor, next) is consumed or cleared now: the next take starts
		// its search after this batch, not at its first index.
		t.cursor = next
		return nil
	})
	return out, err
}

// ReadyRanges returns the indexes task has not consumed (and nobody cleared)
// as ascending half-open ranges [lo, hi): what a sampler chooses from.
func (b *Bucket) ReadyRanges(task string, fields []string) ([][2]int64, error) {
	if err := checkTask(task); err != nil {
		return nil, err
	}
	if stored, err := b.fieldsStored(fields); !stored || err != nil {
		return nil, err // no schema yet: none of fields is stored, nothing is ready
	}
	var out [][2]int64
	err := b.withConsumption(func(c *consumption, total int64) error {
		var un *offsetSet
		if t, ok := c.tasks[task]; ok {
			un = t.unavailable
		} else {
			un = c.cleared
		}
		next := b.currentOffsets().first // retention dropped the records below it
		for next < total {
			lo := un.nextAbsent(next)
			if lo < 0 || lo >= total {
				break
			}
			hi := total
			if p := un.nextPresent(lo + 1); p >= 0 && p < hi {
				hi = p
			}
			out = append(out, [2]int64{lo, hi})
			next = hi
		}
		return nil
	})
	return out, err
}

// MarkConsumed adds indexes to task's consumed set. Every index must be in
// [0, total): a bad one refuses the call and marks nothing.
func (b *Bucket) MarkConsumed(task string, indexes []int64) error {
	if err := checkTask(task); err != nil {
		return err
	}
	return b.withConsumption(func(c *consumption, total int64) error {
		bm, err := indexBitmap(indexes, total)
		if err != nil || bm.isEmpty() {
			return err
		}
		return c.record(b, consumptionEntry{op: opMark, task: task, indexes: bm})
	})
}

// ResetConsumption forgets what task consumed (cleared indexes stay cleared).
func (b *Bucket) ResetConsumption(task string) error {
	if err := checkTask(task); err != nil {
		return err
	}
	return b.withConsumption(func(c *consumption, total int64) error {
		return c.record(b, consumptionEntry{op: opReset, task: task})
	})
}

// LiveIndexes returns the indexes, in their order, that name a stored and
// not cleared record; others (negative, past the end, cleared, dropped by
// retention) are dropped,
// as pulsing's MemoryBackend skips indexes it does not hold.
func (b *Bucket) LiveIndexes(indexes []int64) ([]int64, error) {
	out := make([]int64, 0, len(indexes))
	err := b.withConsumption(func(c *consumption, total int64) error {
		m := b.currentOffsets()
		for _, i := range indexes {
			if i >= m.first && i < total && !m.isCleared(i) && !c.cleared.contains(i) {
				out = append(out, i)
			}
		}
		return nil
	})
	return out, err
}

// ClearedCount is how many indexes were cleared.
func (b *Bucket) ClearedCount() (int64, error) {
	var n int64
	err := b.withConsumption(func(c *consumption, total int64) error {
		n = c.cleared.cardinality()
		return nil
	})
	return n, err
}

// currentOffsets is the offset map of the bucket's current version.
func (b *Bucket) currentOffsets() offsetMap {
	return b.offsets.of(b.currentDataset())
}
