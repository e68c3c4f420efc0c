package engine

import (
	"fmt"
	"slices"
	"time"

	"github.com/persisting/persisting/lance"
)

// The maintenance policy keeps a long-running bucket's dataset small in
// files and metadata (docs/maintenance.md):
//   - compaction in size tiers: when CompactionFanout fragments are smaller
//     than a tier's size (target/256, target/16, target), they are merged
//     into fragments of that size, so each row is rewritten about once per
//     tier instead of once per compaction; fragments with many deleted rows
//     (left by data retention) are rewritten without them;
//   - cleanup every CleanupInterval, and after each compaction, of versions
//     that stopped being the latest more than VersionRetention ago, and of
//     versions whose files the next version all still references (their
//     readers lose nothing: only the manifest and transaction file go),
//     beyond the newest KeepVersions, never a tagged version or one a
//     reader of this bucket is using.
//
// It runs in its own goroutine under maintMu; files are written and removed
// without the bucket's other locks, which are taken only to install a new
// version.

// compactionTiers are the fragment sizes compaction merges up to, smallest
// first, each 16 times the one before: target/256, target/16, target.
func (o BackgroundOptions) compactionTiers() []int64 {
	t := o.CompactionTargetRows
	var tiers []int64
	for _, d := range []int64{256, 16, 1} {
		if t/d >= 2 && (len(tiers) == 0 || t/d > tiers[len(tiers)-1]) {
			tiers = append(tiers, t/d)
		}
	}
	return tiers
}

// holeyFraction is the deleted share of a fragment's rows past which
// compaction rewrites it (lance.Compact's own threshold).
const holeyFraction = 0.1

// compactionTarget picks the tier to compact at, or 0 for none: the
// smallest tier with CompactionFanout mergeable fragments of the level
// below it (at least the previous tier's size, less than its own), else
// the largest when some fragment has many deleted rows. Counting only the
// level below - not every smaller fragment - keeps a large fragment from
// being rewritten each time a few small ones arrive. Counting only
// mergeable ones keeps small fragments that compaction at that tier
// cannot merge into fewer (each between two larger ones, or a run that
// fills as many fragments) from making the tier due at every pass while
// the tiers above it never run.
func (o BackgroundOptions) compactionTarget(frags []lance.FragmentStat) int64 {
	tiers := o.compactionTiers()
	floor := int64(0)
	for _, tier := range tiers {
		level := 0
		gains := mergeable(frags, tier)
		for i, f := range frags {
			if f.LiveRows >= floor && f.LiveRows < tier && gains[i] {
				level++
			}
		}
		if level >= o.CompactionFanout {
			return tier
		}
		floor = tier
	}
	for _, f := range frags {
		if f.PhysicalRows > 0 && float64(f.PhysicalRows-f.LiveRows) > holeyFraction*float64(f.PhysicalRows) {
			return o.CompactionTargetRows
		}
	}
	return 0
}

// mergeable says which fragments compaction to tier would merge into
// fewer: lance.Compact rewrites each run of adjacent fragments below its
// target into fragments of up to target rows, and keeps the rewrite only
// when that makes fewer fragments. A fragment alone between larger ones,
// or in a run whose rows fill as many fragments as it has (14 and 10 rows
// at a tier of 16), is not merged at that tier.
func mergeable(frags []lance.FragmentStat, tier int64) []bool {
	out := make([]bool, len(frags))
	for start := 0; start < len(frags); {
		end, rows := start, int64(0)
		for end < len(frags) && frags[end].LiveRows < tier {
			rows += frags[end].LiveRows
			end++
		}
		if n := end - start; n >= 2 && (rows+tier-1)/tier < int64(n) {
			for i := start; i < end; i++ {
				out[i] = true
			}
		}
		start = max(end, start+1)
	}
	return out
}

// maintenanceLoop runs a pass after each flush (kick) and every
// CleanupInterval. When a periodic pass leaves nothing that time alone
// could change (no data retention, cleanup settled: see settledCleanup),
// it parks its ticker until a flush or a released pin wakes it
// (wakeMaintenance).
func (b *Bucket) maintenanceLoop(stop <-chan struct{}, kick <-chan struct{}, t Ticker, p *parking) {
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for {
		if t == nil {
			if t = p.wait(stop); t == nil {
				return
			}
		}
		periodic := false
		select {
		case <-stop:
			return
		case <-kick:
		case <-t.C():
			periodic = true
		}
		if b.isClosed() {
			return
		}
		idle := b.maintain(periodic)
		// A kick sent meanwhile (a flush) keeps the loop going.
		if idle && p.park(func() bool { return len(kick) > 0 }) {
			t.Stop()
			t = nil
		}
		if periodic {
			b.opts.Background.event(eventPeriodicMaintenance)
		} else {
			b.opts.Background.event(eventMaintenance)
		}
	}
}

// maintain runs one maintenance pass: compaction on every pass, cleanup on
// the periodic tick and after a compaction (which leaves the versions
// before it to remove), retention only on the tick. It says whether a
// periodic pass has nothing left to do until a commit or a released pin.
func (b *Bucket) maintain(periodic bool) (idle bool) {
	b.maintMu.Lock()
	defer b.maintMu.Unlock()
	o := b.opts.Background
	if periodic && o.retention() && !b.bg.stopping() {
		if err := b.applyRetention(o.clock.Now()); err != nil {
			b.metrics.failed("retention")
			b.opts.Logger("persisting: data retention failed (retried at the next pass): %v", err)
		}
	}
	if !o.DisableMaintenance {
		compacted := b.compactTiers()
		if (periodic || compacted) && !b.bg.stopping() {
			if err := b.cleanupVersions(o.clock.Now()); err != nil {
				b.metrics.failed("cleanup")
				b.opts.Logger("persisting: cleanup of old versions failed (retried at the next pass): %v", err)
			}
		}
	}
	ds := b.currentDataset()
	if ds != nil {
		b.metrics.retained(firstOffset(ds), ds.CountRows(), ds.NumFragments())
	}
	return periodic && !o.retention() && !o.DisableMaintenance && b.cleanupSettled(ds)
}

func (b *Bucket) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// currentDataset is the newest installed version.
func (b *Bucket) currentDataset() *lance.Dataset {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dataset
}

// rewritable returns the newest version when background rewrites may
// touch it: not one with indices (their row addresses would need
// remapping) nor one this writer cannot append to (a Lance feature it does
// not write; the rewrite would fail at every pass). Nil otherwise.
func (b *Bucket) rewritable() *lance.Dataset {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dataset == nil || b.dataset.HasIndices() || b.checkAppendable() != nil {
		return nil
	}
	return b.dataset
}

// flushGate holds flushMu over the commit of a background rewrite. The
// rewrite itself runs without it, but its commit would otherwise race the
// flushes of a busy bucket (a dozen versions a second) and lose every
// attempt; holding flushMu over the commit - about as long as a flush -
// lets it through at its first retry, and appends meanwhile only buffer
// (flushAfterAppend leaves their flush to the holder). The new version is
// installed before flushMu is released, so flushes build on it.
type flushGate struct{ held bool }

// hold takes flushMu (lance calls it just before committing).
func (g *flushGate) hold(b *Bucket) {
	b.flushMu.Lock()
	g.held = true
}

// install makes ds the bucket's dataset unless a newer version is
// installed already, taking flushMu if hold did not.
func (g *flushGate) install(b *Bucket, ds *lance.Dataset) {
	if !g.held {
		g.hold(b)
	}
	b.mu.Lock()
	if !b.closed && (b.dataset == nil || ds.Version() > b.dataset.Version()) {
		b.adoptCommit(ds)
	}
	b.mu.Unlock()
}

// release lets flushes go on (one an append started waits for flushMu in
// runFlushes).
func (g *flushGate) release(b *Bucket) {
	if g.held {
		g.held = false
		b.flushMu.Unlock()
	}
}

// compactTiers compacts while a tier is due (a few rounds at most: each
// round's output may make the next tier due), and says whether it
// committed a compaction: the versions before it can then be cleaned up.
func (b *Bucket) compactTiers() (compacted bool) {
	o := b.opts.Background
	for round := 0; round < 4 && !b.bg.stopping(); round++ {
		ds := b.rewritable()
		if ds == nil {
			return compacted
		}
		target := o.compactionTarget(ds.FragmentStats())
		if target == 0 {
			return compacted
		}
		if !b.takeCompactionSlot() {
			return compacted
		}
		started := time.Now()
		b.bg.compacting.Store(true)
		var commit flushGate
		share := newCompactionShare()
		nds, err := lance.Compact(b.opts.datasetPath(), lance.CompactOptions{
			TargetRowsPerFragment: target,
			AfterBatch: func() {
				crashAt(crashCompactionRewrite)
				b.stepAsideForFlush(share)
			},
			BeforeCommit: func() {
				crashAt(crashBeforeCompactionCommit)
				commit.hold(b)
			},
		})
		b.bg.compacting.Store(false)
		releaseCompactionSlot()
		if err == nil && nds.Version() != ds.Version() {
			crashAt(crashAfterCompactionCommit)
			commit.install(b, nds)
		}
		commit.release(b)
		if err != nil {
			// A concurrent schema change or index wins; the next pass retries.
			b.metrics.failed("compact")
			b.opts.Logger("persisting: background compaction failed (retried after the next flush): %v", err)
			return compacted
		}
		if nds.Version() == ds.Version() {
			return compacted // nothing was mergeable (small fragments not adjacent)
		}
		compacted = true
		b.metrics.compacted(fragmentsReplaced(ds, nds), time.Since(started))
	}
	return compacted
}

// cleanupVersions removes old versions under the policy.
func (b *Bucket) cleanupVersions(now time.Time) error {
	ds := b.currentDataset()
	if ds == nil || b.cleanupSettled(ds) {
		return nil // nothing changed since a cleanup that left nothing to age out
	}
	keep, pins := b.keptVersions(ds)
	b.opts.Background.event(eventCleanup)
	o := b.opts.Background
	before := now
	if o.VersionRetention > 0 {
		before = now.Add(-o.VersionRetention)
	}
	st, err := lance.CleanupOldVersions(b.opts.datasetPath(), before, lance.CleanupOptions{
		KeepLatest:   o.KeepVersions,
		Keep:         keep,
		BySuperseded: true,
		DropCovered:  true,
		Abandoned:    b.abandoned,
		OnRemove:     func() { crashAt(crashCleanupRemoval) },
	})
	b.metrics.cleanedUp(st.OldVersions, st.DataFiles+st.DeletionFiles+st.TransactionFiles, st.BytesRemoved)
	b.settled = nil
	if err == nil {
		b.abandoned = lance.FileSet{}
		if st.KeptYoung == 0 {
			b.settled = &settledCleanup{version: ds.Version(), pins: pins}
		}
	}
	return err
}

// settledCleanup is what a cleanup saw when it kept no version only for
// being younger than version_retention_sec: the newest version and the
// versions readers pinned. Until one of them changes, a cleanup removes
// nothing more (what it keeps, it keeps for the newest keep_versions, a
// pin or a tag), so the periodic pass skips it: an idle bucket reads no
// manifest every cleanup_interval_sec. A tag pylance deletes meanwhile is
// acted on after the next commit.
type settledCleanup struct {
	version uint64
	pins    []uint64 // sorted, other than version
}

func (s *settledCleanup) holds(ds *lance.Dataset, pins []uint64) bool {
	return s != nil && ds != nil && s.version == ds.Version() && slices.Equal(s.pins, pins)
}

// keptVersions are the versions every cleanup keeps whatever its age or
// options, the background one and CleanupOldVersions alike (Lance keeps
// the latest, tagged ones and branch starts): ds, the version the bucket
// reads (the newest but after a commit the bucket did not see, such as a
// compaction whose answer was lost or a pylance writer's: removing it
// would fail every read until the next flush), and every version a read
// of this bucket has pinned (snapshot, ReadVersion, Lookup): a read never
// loses the files of the version it started on. pins are the latter.
func (b *Bucket) keptVersions(ds *lance.Dataset) (keep, pins []uint64) {
	pins = b.otherPins(ds)
	return append(slices.Clone(pins), ds.Version()), pins
}

// otherPins are the versions readers pin other than ds, sorted (cleanup
// keeps ds anyway, so a read of it changes nothing).
func (b *Bucket) otherPins(ds *lance.Dataset) []uint64 {
	pins := slices.DeleteFunc(b.pins.pinned(), func(v uint64) bool { return v == ds.Version() })
	slices.Sort(pins)
	return pins
}

// cleanupSettled says whether a cleanup now would be skipped; true with
// no dataset (nothing to clean up until a flush). Under maintMu.
func (b *Bucket) cleanupSettled(ds *lance.Dataset) bool {
	if ds == nil {
		return b.abandoned.Len() == 0
	}
	return b.settled.holds(ds, b.otherPins(ds)) && b.abandoned.Len() == 0
}

// listAbandoned lists the dataset's files before this writer writes any
// (at open, under the writer lock), so that cleanup removes those a
// crashed writer left unreferenced at once, not after Lance's 7 days: a
// process killed often would otherwise pile up a flush's or a
// compaction's files per crash. Only background maintenance cleans up, so
// without it nothing is listed; a failed listing only leaves them to the
// 7 days.
func (b *Bucket) listAbandoned() {
	if b.opts.Background.DisableMaintenance {
		return
	}
	set, err := lance.ListFiles(b.opts.datasetPath())
	if err != nil {
		b.opts.Logger("persisting: listing the dataset's files failed (files a crash left are removed after 7 days): %v", err)
		return
	}
	b.abandoned = set
}

// fragmentsReplaced counts the fragments of before that after no longer has:
// those the compaction rewrote. (A difference of fragment counts is not it:
// the commit rebases onto flushes that landed meanwhile and added fragments.)
// A fragment is known by its first data file, not its id: a rewrite's new
// fragments take the ids of those they replace.
func fragmentsReplaced(before, after *lance.Dataset) int {
	kept := map[string]bool{}
	for _, f := range after.Fragments() {
		kept[fragmentKey(f)] = true
	}
	n := 0
	for _, f := range before.Fragments() {
		if !kept[fragmentKey(f)] {
			n++
		}
	}
	return n
}

// fragmentKey is the path of f's first data file, which no other fragment
// shares (a fragment's id is reused by the rewrite that replaces it).
func fragmentKey(f lance.Fragment) string {
	if len(f.Files) == 0 {
		return fmt.Sprintf("#%d", f.ID)
	}
	return f.Files[0].Path
}
