//go:build testhooks

package main

import (
	"runtime/metrics"
	"sync"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/persisting/persisting/engine"
)

// The boundary ledger remembers, per bucket handle, the addresses of the
// buffers that last crossed the C boundary in each direction. Callers (the
// Python tests of issue #6) compare them with the addresses their own Arrow
// library reports, which proves that no side copied the column data. It is
// a test hook: compiled only into the test build (build tag testhooks,
// ./build.sh testhooks); the shipped library has boundary_ledger_off.go.

type boundaryLedger struct {
	mu         sync.Mutex
	lastImport []uintptr
	lastExport []uintptr
}

var ledgers sync.Map // uint64 handle -> *boundaryLedger

func ledgerOf(handle uint64) *boundaryLedger {
	if l, ok := ledgers.Load(handle); ok {
		return l.(*boundaryLedger)
	}
	l, _ := ledgers.LoadOrStore(handle, &boundaryLedger{})
	return l.(*boundaryLedger)
}

func forgetLedger(handle uint64) { ledgers.Delete(handle) }

// recordImport notes the buffers of the batches an append received.
func recordImport(handle uint64, recs ...arrow.Record) {
	addrs := recordBufferAddresses(recs)
	l := ledgerOf(handle)
	l.mu.Lock()
	l.lastImport = addrs
	l.mu.Unlock()
}

// recordExport notes the buffers of the batches a read handed out.
func recordExport(handle uint64, recs []arrow.Record) {
	addrs := recordBufferAddresses(recs)
	l := ledgerOf(handle)
	l.mu.Lock()
	l.lastExport = addrs
	l.mu.Unlock()
}

// recordBufferAddresses lists the start address of every non-empty buffer of
// recs, children included, in column order.
func recordBufferAddresses(recs []arrow.Record) []uintptr {
	var out []uintptr
	for _, rec := range recs {
		for _, col := range rec.Columns() {
			out = appendDataAddresses(out, col.Data())
		}
	}
	return out
}

func appendDataAddresses(out []uintptr, d arrow.ArrayData) []uintptr {
	for _, buf := range d.Buffers() {
		if buf == nil || buf.Len() == 0 {
			continue
		}
		out = append(out, bufferAddress(buf.Bytes()))
	}
	for _, child := range d.Children() {
		out = appendDataAddresses(out, child)
	}
	return out
}

// boundaryReport is what persisting_stats adds under "boundary".
type boundaryReport struct {
	// LastImportBuffers: addresses of the buffers the last append received.
	LastImportBuffers []uintptr `json:"last_import_buffers"`
	// LastExportBuffers: addresses of the buffers the last read handed out.
	LastExportBuffers []uintptr `json:"last_export_buffers"`
	// CAllocatedBytes: bytes the library has malloc'd for Arrow buffers
	// handed to C and not yet released (process-wide).
	CAllocatedBytes int64 `json:"c_allocated_bytes"`
	// GoHeapBytes: bytes of live and not yet swept Go heap objects (process-wide).
	GoHeapBytes uint64 `json:"go_heap_bytes"`
	// GoHeapAllocs and GoHeapAllocBytes: Go heap objects and bytes allocated
	// since the process started (process-wide, only grow): a test counts what
	// a call costs by their difference, without timing it.
	GoHeapAllocs     uint64 `json:"go_heap_allocs"`
	GoHeapAllocBytes uint64 `json:"go_heap_alloc_bytes"`
}

// statsReport is what persisting_stats returns: the bucket's stats with the
// ledger's report under "boundary".
func statsReport(handle uint64, s engine.Stats) any {
	return struct {
		engine.Stats
		Boundary boundaryReport `json:"boundary"`
	}{s, reportBoundary(handle)}
}

func reportBoundary(handle uint64) boundaryReport {
	l := ledgerOf(handle)
	l.mu.Lock()
	r := boundaryReport{
		LastImportBuffers: append([]uintptr{}, l.lastImport...),
		LastExportBuffers: append([]uintptr{}, l.lastExport...),
	}
	l.mu.Unlock()
	r.CAllocatedBytes = int64(cAlloc.AllocatedBytes())
	heap := readGoMetrics("/memory/classes/heap/objects:bytes", "/gc/heap/allocs:objects", "/gc/heap/allocs:bytes")
	r.GoHeapBytes, r.GoHeapAllocs, r.GoHeapAllocBytes = heap[0], heap[1], heap[2]
	return r
}

// readGoMetrics reads uint64 runtime metrics by name (0 for one that is
// not) without stopping the world (unlike runtime.ReadMemStats).
func readGoMetrics(names ...string) []uint64 {
	samples := make([]metrics.Sample, len(names))
	for i, name := range names {
		samples[i].Name = name
	}
	metrics.Read(samples)
	out := make([]uint64, len(names))
	for i, s := range samples {
		if s.Value.Kind() == metrics.KindUint64 {
			out[i] = s.Value.Uint64()
		}
	}
	return out
}

// bufferAddress is the address of b's first byte, as a number to report.
func bufferAddress(b []byte) uintptr {
	if len(b) == 0 {
		return 0
	}
	return uintptr(unsafe.Pointer(&b[0]))
}
