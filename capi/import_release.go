package main

/*
#include <stdlib.h>
#include "persisting.h"

// A batch the bucket keeps is released when a flush (or close, or a schema
// change) drops its last reference: inside the engine, under the bucket's
// lock. A producer's release callback that calls this library back on the
// same bucket (to count, say) would wait for that lock for ever. So the
// producer's struct is held here, behind a release of the library's own:
// once the engine holds the batch (deferred), the producer's release runs on
// a goroutine of its own, outside every lock; before that (a refused batch,
// released by the call itself) it runs at once, in the caller's call.
typedef struct persisting_held {
  struct ArrowArray producer;
  int deferred;
} persisting_held;

extern void persistingDeferRelease(persisting_held* held);

static void persisting_held_release_now(persisting_held* held) {
  if (held->producer.release != NULL) held->producer.release(&held->producer);
  free(held);
}

static void persisting_held_release(struct ArrowArray* a) {
  persisting_held* held = a->private_data;
  a->release = NULL;
  if (__atomic_load_n(&held->deferred, __ATOMIC_ACQUIRE)) {
    persistingDeferRelease(held);
  } else {
    persisting_held_release_now(held);
  }
}

// Moves the producer's struct into a holder and leaves in `a` a struct with
// the same buffers and children whose release is the library's.
static persisting_held* persisting_hold(struct ArrowArray* a) {
  persisting_held* held = calloc(1, sizeof *held);
  if (held == NULL) return NULL;
  held->producer = *a;
  a->release = persisting_held_release;
  a->private_data = held;
  return held;
}

static void persisting_held_defer(persisting_held* held, int deferred) {
  __atomic_store_n(&held->deferred, deferred, __ATOMIC_RELEASE);
}
*/
import "C"

import (
	"errors"
	"sync"

	"github.com/persisting/persisting/engine"
)

// deferredReleases tracks the producer releases running on their
// goroutines: persisting_close waits for those that started before it, so
// that every batch a closed bucket dropped has been released when it returns.
var deferredReleases = newReleaseTracker()

//export persistingDeferRelease
func persistingDeferRelease(held *C.persisting_held) {
	id := deferredReleases.start()
	go func() {
		defer deferredReleases.done(id)
		C.persisting_held_release_now(held)
	}()
}

// releaseTracker counts releases in flight by ticket. A sync.WaitGroup will
// not do: releases of other buckets start while a close waits.
type releaseTracker struct {
	mu       sync.Mutex
	changed  *sync.Cond
	next     uint64
	inFlight map[uint64]struct{}
}

func newReleaseTracker() *releaseTracker {
	t := &releaseTracker{inFlight: map[uint64]struct{}{}}
	t.changed = sync.NewCond(&t.mu)
	return t
}

func (t *releaseTracker) start() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.next++
	t.inFlight[t.next] = struct{}{}
	return t.next
}

func (t *releaseTracker) done(id uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.inFlight, id)
	t.changed.Broadcast()
}

// waitStarted returns once every release started before the call has ended.
func (t *releaseTracker) waitStarted() {
	t.mu.Lock()
	defer t.mu.Unlock()
	upTo := t.next
	for t.anyUpTo(upTo) {
		t.changed.Wait()
	}
}

func (t *releaseTracker) anyUpTo(upTo uint64) bool {
	for id := range t.inFlight {
		if id <= upTo {
			return true
		}
	}
	return false
}

// heldBatch is one producer struct held behind the library's release.
type heldBatch = C.persisting_held

// heldBatches are the producers' structs of one call's batches.
type heldBatches []*heldBatch

// hold puts arr's producer struct behind the library's release (see above);
// nil when out of memory (then arr is left as it was).
func hold(arr *C.struct_ArrowArray) *C.persisting_held {
	return C.persisting_hold(arr)
}

// deferWhileKept marks the batches kept by the engine, whose releases must
// wait for no lock; then, once the append returned, unmarks them again if
// it kept nothing (err), so the call releases them itself at once.
func (h heldBatches) deferWhileKept() {
	for _, held := range h {
		C.persisting_held_defer(held, 1)
	}
}

func (h heldBatches) afterAppend(err error) {
	if err == nil || errors.Is(err, engine.ErrNotFlushed) || errors.Is(err, engine.ErrWAL) {
		return // kept (a failed WAL fsync leaves the rows buffered)
	}
	for _, held := range h {
		C.persisting_held_defer(held, 0)
	}
}
