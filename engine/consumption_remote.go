package engine

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/persisting/persisting/lance/objstore"
)

// Consumption state of a bucket on an object store (s3://). An object
// cannot be appended to, so the state is kept as snapshots:
//
//	{storage_path}/consumption/{seq, 20 digits}.state
//
// each the whole state in the log's entry format (consumption_log.go: one
// clear entry, then a reset and a mark entry per task), written with a
// conditional PUT (If-None-Match: a second writer of the same seq fails)
// at every flush that follows a change, and at close. Opening reads the
// highest seq. The two snapshots before the newest are removed.
//
// Between two flushes the changes live in memory; with the WAL they are
// also appended and fsynced to a local journal (consumption.log next to the
// bucket's local WAL directory) before the call returns, replayed over the
// snapshot at open and emptied after each snapshot. Replaying a journal
// whose changes a snapshot already holds gives the same state (marks are
// unions; a reset and the marks after it rebuild the task), so a crash
// between the snapshot and the emptying loses nothing.

// ConsumptionDirName is the prefix of the snapshots under a remote bucket.
const ConsumptionDirName = "consumption"

// consumptionSnapshotsKept: older snapshots are removed after a new one.
const consumptionSnapshotsKept = 3

type consumptionStore interface {
	// append stores a change (sync: durable before returning, if the store
	// can make it so).
	append(e consumptionEntry, sync bool) error
	// flushed runs after each flush of the bucket: the state becomes as
	// durable as the data just written.
	flushed(state func() []consumptionEntry) error
	// rewrite replaces what is stored by entries (the same state, or one
	// that forgot indexes).
	rewrite(entries []consumptionEntry) error
	// compact stores state() whole once more than
	// consumptionLogCompactEntries changes were appended since the store
	// last held it whole, so that what an open replays stays bounded.
	compact(state func() []consumptionEntry) error
	close(state func() []consumptionEntry) error
	where() string
}

// openConsumptionStore opens the bucket's consumption state and returns the
// entries that rebuild it.
func openConsumptionStore(b *Bucket) (consumptionStore, []consumptionEntry, error) {
	if !b.opts.remote() {
		return openConsumptionFile(b.opts.Path, b.opts.Logger, b.opts.ReadOnly)
	}
	r := &remoteConsumption{dir: objstore.JoinURL(b.opts.Path, ConsumptionDirName)}
	entries, err := r.readLatest()
	if err != nil {
		return nil, nil, err
	}
	if b.opts.WAL.Enabled {
		j, journal, err := openConsumptionFile(filepath.Dir(b.opts.walPath()), b.opts.Logger, b.opts.ReadOnly)
		if err != nil {
			return nil, nil, err
		}
		r.journal = j
		r.dirty = len(journal) > 0
		entries = append(entries, journal...)
	}
	return r, entries, nil
}

type remoteConsumption struct {
	dir     string
	seq     uint64           // newest snapshot read or written (0: none)
	names   []string         // the snapshots listed at open, oldest first
	journal *consumptionFile // with the WAL: the changes since the snapshot
	dirty   bool             // changed since the newest snapshot
	// unsure is the last snapshot whose PUT got no answer (the server may
	// have stored it), with its bytes; nil when none.
	unsure *unsureSnapshot
	// storeGone: the store did not answer the bucket's last flush, so close
	// writes no snapshot (the journal keeps the changes, with the WAL).
	storeGone bool
}

type unsureSnapshot struct {
	name string
	data []byte
}

func snapshotName(seq uint64) string { return fmt.Sprintf("%020d.state", seq) }

// readLatest lists the snapshots and decodes the newest one.
func (r *remoteConsumption) readLatest() ([]consumptionEntry, error) {
	err := objstore.List(r.dir, func(i objstore.Info) bool {
		name := strings.TrimPrefix(i.Key, "/")
		if seq, err := strconv.ParseUint(strings.TrimSuffix(name, ".state"), 10, 64); err == nil &&
			strings.HasSuffix(name, ".state") && !strings.Contains(name, "/") {
			r.names = append(r.names, name)
			r.seq = max(r.seq, seq)
		}
		return true
	})
	if err != nil && !errors.Is(err, objstore.ErrNotExist) {
		return nil, fmt.Errorf("engine: list %s: %w", r.dir, err)
	}
	if r.seq == 0 {
		return nil, nil
	}
	p := objstore.JoinURL(r.dir, snapshotName(r.seq))
	data, err := objstore.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("engine: read %s: %w", p, err)
	}
	entries, good := readConsumptionLog(data)
	if good != len(data) {
		// A PUT is all or nothing: a bad snapshot was damaged after it was
		// written. Refuse rather than hand records out again.
		return nil, fmt.Errorf("%w: consumption snapshot %s is damaged at byte %d of %d", ErrCorrupt, p, good, len(data))
	}
	return entries, nil
}

func (r *remoteConsumption) append(e consumptionEntry, sync bool) error {
	if r.journal != nil {
		if err := r.journal.append(e, sync); err != nil {
			return err
		}
	}
	r.dirty = true
	return nil
}

func (r *remoteConsumption) flushed(state func() []consumptionEntry) error {
	if !r.dirty {
		return nil
	}
	return r.rewrite(state())
}

// compact writes a snapshot when the journal grew long (changes without
// flushes), which empties it.
func (r *remoteConsumption) compact(state func() []consumptionEntry) error {
	if r.journal == nil || !r.journal.long() {
		return nil
	}
	return r.rewrite(state())
}

// rewrite writes entries as the next snapshot, then empties the journal and
// removes old snapshots.
func (r *remoteConsumption) rewrite(entries []consumptionEntry) error {
	all, err := encodeConsumptionEntries(entries)
	if err != nil {
		return err
	}
	if err := r.settleUnsure(); err != nil {
		return err
	}
	name := snapshotName(r.seq + 1)
	if err := objstore.PutIfAbsent(objstore.JoinURL(r.dir, name), all); err != nil {
		if errors.Is(err, objstore.ErrExist) {
			return fmt.Errorf("%w: consumption snapshot %s was written by another writer", ErrBusy, name)
		}
		if errors.Is(err, objstore.ErrOutcomeUnknown) {
			r.unsure = &unsureSnapshot{name: name, data: all}
		}
		return fmt.Errorf("engine: write consumption snapshot %s: %w", objstore.JoinURL(r.dir, name), err)
	}
	r.written(name)
	r.dirty = false
	if r.journal != nil {
		if err := r.journal.rewrite(nil); err != nil {
			return err
		}
	}
	for len(r.names) > consumptionSnapshotsKept {
		_ = objstore.Remove(objstore.JoinURL(r.dir, r.names[0])) // best effort: the newest is what counts
		r.names = r.names[1:]
	}
	return nil
}

// written counts name as the newest snapshot.
func (r *remoteConsumption) written(name string) {
	r.seq++
	r.names = append(r.names, name)
}

// settleUnsure finds out whether the snapshot whose PUT got no answer was
// stored: if it holds the bytes sent, it is ours and the next snapshot
// takes the next name (else every later one would find its name taken and
// blame another writer). One still absent is stored now, with the same
// bytes and condition, as lance.ResolveCommit does for a manifest: the
// server may hold the lost request back and store it after this look, and
// the next snapshot's PUT under that name would then find it taken.
func (r *remoteConsumption) settleUnsure() error {
	u := r.unsure
	if u == nil || u.name != snapshotName(r.seq+1) {
		r.unsure = nil
		return nil
	}
	p := objstore.JoinURL(r.dir, u.name)
	got, err := objstore.ReadFile(p)
	if errors.Is(err, objstore.ErrNotExist) {
		if err = objstore.PutIfAbsent(p, u.data); err == nil {
			got = u.data
		} else if errors.Is(err, objstore.ErrExist) { // the held request got there first
			got, err = objstore.ReadFile(p)
		}
	}
	if err != nil {
		return fmt.Errorf("engine: checking whether consumption snapshot %s was written: %w", p, err)
	}
	if bytes.Equal(got, u.data) {
		r.written(u.name)
	}
	r.unsure = nil
	return nil
}

func (r *remoteConsumption) close(state func() []consumptionEntry) error {
	var err error
	if !r.storeGone {
		err = r.flushed(state)
	}
	if r.journal != nil {
		if cerr := r.journal.close(nil); err == nil {
			err = cerr
		}
	}
	return err
}

func (r *remoteConsumption) where() string { return r.dir }
