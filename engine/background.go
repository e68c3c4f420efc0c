package engine

import (
	"sync"
	"sync/atomic"

	"github.com/persisting/persisting/lance"
)

// background runs a bucket's own work in two goroutines, started by Open
// and stopped (and waited for) by Close:
//   - auto flush (auto_flush.go): buffered rows are flushed at most
//     Background.MaxFlushDelay after they were appended, even when nothing
//     else happens (an idle event loop, a quiet queue);
//   - maintenance (maintenance_policy.go): compaction after flushes, and
//     every CleanupInterval data retention and cleanup of old versions.
//
// Neither holds the bucket's locks while it rewrites or removes files:
// appends and reads go on, and a flush waits at most for the moment a new
// version is installed.
type background struct {
	stop chan struct{}
	kick chan struct{} // a flush happened: compaction may be due
	wg   sync.WaitGroup
	once sync.Once

	compacting atomic.Bool // a background compaction is rewriting fragments
	flushes    flushYield  // the flush in progress, which compaction steps aside for

	afterCompactionBatch func() // tests: runs after each batch of a background compaction

	// The loops park their tickers while idle (background_parking.go);
	// nil when the loop does not run.
	flushPark, maintPark *parking
}

// Compacting reports whether a background compaction is running now (for
// monitoring and benchmarks; it takes no lock).
func (b *Bucket) Compacting() bool {
	return b.bg != nil && b.bg.compacting.Load()
}

// Background events, reported to BackgroundOptions.event (tests wait on them).
const (
	eventAutoFlush     = "auto_flush"      // an auto flush finished (or failed)
	eventAutoFlushTick = "auto_flush_tick" // the auto flush looked at the buffer
	eventMaintenance   = "maintenance"     // a pass after a flush (compaction) finished
	eventFlushDeferred = "flush_deferred"  // a threshold flush waits for min_flush_interval
	// a background compaction waits for the flush in progress (maintenance_yield.go)
	eventCompactionYield = "compaction_yield"
	// a cleanup of old versions read the dataset's versions (one that had
	// nothing to do since the last one is skipped)
	eventCleanup = "cleanup"
	// a background compaction waits for one of the process's slots (compaction_slots.go)
	eventCompactionSlotWait = "compaction_slot_wait"
	// a periodic pass (retention, compaction, cleanup) finished
	eventPeriodicMaintenance = "periodic_maintenance"
)

func (b *Bucket) startBackground() {
	o := b.opts.Background
	autoFlush := o.MaxFlushDelay > 0
	if !autoFlush && o.DisableMaintenance && !o.retention() {
		return
	}
	bg := &background{stop: make(chan struct{}), kick: make(chan struct{}, 1)}
	b.bg = bg
	// Tickers are made here, not in the goroutines, so a fake clock has
	// them before Open returns.
	if autoFlush {
		// Parked from the start unless rows were replayed from the WAL.
		bg.flushPark = newParking(o.clock, o.MaxFlushDelay/2)
		var t Ticker
		if b.bufferedRows() > 0 {
			t = o.clock.NewTicker(o.MaxFlushDelay / 2)
		} else {
			bg.flushPark.park(nil)
		}
		bg.wg.Add(1)
		go func() {
			defer bg.wg.Done()
			b.autoFlushLoop(bg.stop, t, bg.flushPark)
		}()
	}
	if !o.DisableMaintenance || o.retention() {
		bg.maintPark = newParking(o.clock, o.CleanupInterval)
		t := o.clock.NewTicker(o.CleanupInterval)
		bg.wg.Add(1)
		go func() {
			defer bg.wg.Done()
			b.maintenanceLoop(bg.stop, bg.kick, t, bg.maintPark)
		}()
	}
}

// stopBackground stops the goroutines and waits until they have returned
// (a compaction in progress is finished first). Idempotent.
func (b *Bucket) stopBackground() {
	if b.bg == nil {
		return
	}
	b.bg.once.Do(func() { close(b.bg.stop) })
	b.bg.wg.Wait()
	for _, p := range []*parking{b.bg.flushPark, b.bg.maintPark} {
		if p != nil {
			p.end()
		}
	}
}

// kickMaintenance tells the maintenance goroutine a flush committed a
// version; it never blocks.
func (b *Bucket) kickMaintenance() {
	if b.bg == nil {
		return
	}
	select {
	case b.bg.kick <- struct{}{}:
	default:
	}
	b.wakeMaintenance()
}

// adoptCommit makes ds, a version this bucket committed besides a flush
// (which kicks maintenance itself), the bucket's dataset, and wakes a
// parked maintenance pass: the version ds replaced may go. Under mu.
func (b *Bucket) adoptCommit(ds *lance.Dataset) {
	b.dataset = ds
	b.wakeMaintenance()
}

// wakeMaintenance restarts the periodic maintenance pass if it is parked:
// a commit or a released pin may give cleanup work again.
func (b *Bucket) wakeMaintenance() {
	if b.bg != nil && b.bg.maintPark != nil {
		b.bg.maintPark.wake()
	}
}

// wakeAutoFlush restarts the auto flush if it is parked: rows were
// appended. Under mu.
func (b *Bucket) wakeAutoFlush() {
	if b.bg != nil && b.bg.flushPark != nil {
		b.bg.flushPark.wake()
	}
}

// stopping says whether Close asked the background work to stop.
func (bg *background) stopping() bool {
	select {
	case <-bg.stop:
		return true
	default:
		return false
	}
}
