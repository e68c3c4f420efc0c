package main

/*
#include "persisting.h"

// cgo writes prototypes from Go signatures; this typedef lets them say
// "const char*" like the public header, so the two must agree to compile.
typedef const char persisting_cchar;
*/
import "C"

import (
	"github.com/persisting/persisting/engine"
)

//export persisting_open
func persisting_open(path *C.persisting_cchar, optionsJSON *C.persisting_cchar, outHandle *C.uint64_t, cerr *C.PersistingError) C.int {
	return guard(cerr, func() error {
		if path == nil || outHandle == nil {
			return errNullArgument
		}
		text := ""
		if optionsJSON != nil {
			text = C.GoString((*C.char)(optionsJSON))
		}
		opts, err := parseOptions(C.GoString((*C.char)(path)), text)
		if err != nil {
			return err
		}
		b, err := engine.Open(opts)
		if err != nil {
			return err
		}
		*outHandle = C.uint64_t(registerBucket(b))
		return nil
	})
}

//export persisting_close
func persisting_close(handle C.uint64_t, cerr *C.PersistingError) C.int {
	return guard(cerr, func() error {
		b, err := takeBucket(uint64(handle))
		if err != nil {
			return err
		}
		err = b.Close()
		if !b.Closed() { // its flush failed and no WAL holds its rows: the handle stays valid
			restoreBucket(uint64(handle), b)
			return err
		}
		forgetLedger(uint64(handle))
		deferredReleases.waitStarted() // the batches close dropped are released when it returns
		return err
	})
}

//export persisting_flush
func persisting_flush(handle C.uint64_t, cerr *C.PersistingError) C.int {
	return withBucket(handle, cerr, func(b *engine.Bucket) error {
		err := b.Flush()
		deferredReleases.waitStarted() // the batches the flush dropped are released when it returns
		return err
	})
}

//export persisting_count
func persisting_count(handle C.uint64_t, total, persisted, buffered *C.int64_t, cerr *C.PersistingError) C.int {
	return withBucket(handle, cerr, func(b *engine.Bucket) error {
		t, p, n, err := b.Counts()
		if err != nil {
			return err
		}
		for _, out := range []struct {
			dst *C.int64_t
			v   int64
		}{{total, t}, {persisted, p}, {buffered, n}} {
			if out.dst != nil {
				*out.dst = C.int64_t(out.v)
			}
		}
		return nil
	})
}

//export persisting_stats
func persisting_stats(handle C.uint64_t, outJSON **C.char, cerr *C.PersistingError) C.int {
	return bucketJSON(handle, outJSON, cerr, func(b *engine.Bucket) (any, error) {
		s, err := b.Stats()
		if err != nil {
			return nil, err
		}
		return statsReport(uint64(handle), s), nil
	})
}

//export persisting_metrics_text
func persisting_metrics_text(outText **C.char, cerr *C.PersistingError) C.int {
	return guard(cerr, func() error {
		if outText == nil {
			return errNullArgument
		}
		text, err := engine.MetricsText()
		if err != nil {
			return err
		}
		*outText = C.CString(string(text))
		return nil
	})
}

//export persisting_bucket_metrics
func persisting_bucket_metrics(handle C.uint64_t, outJSON **C.char, cerr *C.PersistingError) C.int {
	return bucketJSON(handle, outJSON, cerr, func(b *engine.Bucket) (any, error) {
		m, err := b.Metrics()
		if m == nil && err == nil {
			m = map[string]any{} // metrics off: an empty object, not null
		}
		return m, err
	})
}
