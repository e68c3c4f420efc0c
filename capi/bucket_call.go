package main

/*
#include "persisting.h"
*/
import "C"

import (
	"encoding/json"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/cdata"

	"github.com/persisting/persisting/engine"
)

// The shapes every per-bucket export shares: find the bucket inside a guard,
// then hand back nothing, a JSON string, or an Arrow stream.

// withBucket runs body on the bucket named by handle.
func withBucket(handle C.uint64_t, cerr *C.PersistingError, body func(b *engine.Bucket) error) C.int {
	return guard(cerr, func() error {
		b, err := lookupBucket(uint64(handle))
		if err != nil {
			return err
		}
		return body(b)
	})
}

// bucketJSON returns query's result to C as a malloc'd JSON string in *out.
func bucketJSON(handle C.uint64_t, out **C.char, cerr *C.PersistingError, query func(b *engine.Bucket) (any, error)) C.int {
	return withBucket(handle, cerr, func(b *engine.Bucket) error {
		if out == nil {
			return errNullArgument
		}
		v, err := query(b)
		if err != nil {
			return err
		}
		return returnJSON(out, v)
	})
}

// bucketStream exports the records query returns as a stream in *out; the
// stream holds its own references, so query's are released here.
func bucketStream(handle C.uint64_t, out *C.struct_ArrowArrayStream, cerr *C.PersistingError,
	query func(b *engine.Bucket) (*arrow.Schema, []arrow.Record, error)) C.int {
	return withBucket(handle, cerr, func(b *engine.Bucket) error {
		if out == nil {
			return errNullArgument
		}
		sch, recs, err := query(b)
		if err != nil {
			return err
		}
		defer releaseRecords(recs)
		for i, rec := range recs { // recs holds its own references: swap each for its exportable form
			recs[i] = exportableRecord(rec, cAlloc)
			rec.Release()
		}
		recordExport(uint64(handle), recs)
		if sch == nil { // a bucket without a schema yet: an empty stream
			sch = arrow.NewSchema(nil, nil)
		}
		rdr, err := array.NewRecordReader(sch, recs)
		if err != nil {
			return err
		}
		defer rdr.Release()
		cdata.ExportRecordReader(rdr, (*cdata.CArrowArrayStream)(unsafe.Pointer(out)))
		return nil
	})
}

// returnJSON marshals v into a malloc'd string for *out.
func returnJSON(out **C.char, v any) error {
	text, err := json.Marshal(v)
	if err != nil {
		return err
	}
	*out = C.CString(string(text))
	return nil
}

func releaseRecords(recs []arrow.Record) {
	for _, r := range recs {
		r.Release()
	}
}
