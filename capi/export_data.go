package main

/*
#include "persisting.h"

// Calls a struct's release callback if it still has one: cgo cannot call C
// function pointers directly.
static void persisting_release_schema(struct ArrowSchema* s) {
  if (s != NULL && s->release != NULL) s->release(s);
}
static void persisting_release_array(struct ArrowArray* a) {
  if (a != NULL && a->release != NULL) a->release(a);
}
*/
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/cdata"
	"github.com/apache/arrow/go/v17/arrow/memory/mallocator"

	"github.com/persisting/persisting/engine"
)

// cAlloc allocates every buffer that leaves through a stream: C memory, so C
// may hold it after the call returns without breaking cgo's pointer rules.
var cAlloc = mallocator.NewMallocator()

//export persisting_append
func persisting_append(handle C.uint64_t, schema *C.struct_ArrowSchema, arr *C.struct_ArrowArray, cerr *C.PersistingError) C.int {
	// Both structs are moved in, whatever happens: release what import did not take.
	defer C.persisting_release_array(arr)
	defer C.persisting_release_schema(schema)
	return guard(cerr, func() error {
		if schema == nil || arr == nil {
			return errNullArgument
		}
		b, err := lookupBucket(uint64(handle))
		if err != nil {
			return err
		}
		rec, err := importBatch(b, schema, arr)
		if err != nil {
			return err
		}
		defer rec.Release()
		return b.Append(rec)
	})
}

//export persisting_read
func persisting_read(handle C.uint64_t, offset, limit C.int64_t, out *C.struct_ArrowArrayStream, cerr *C.PersistingError) C.int {
	return guard(cerr, func() error {
		if out == nil {
			return errNullArgument
		}
		b, err := lookupBucket(uint64(handle))
		if err != nil {
			return err
		}
		sch, recs, err := b.Read(int64(offset), int64(limit), cAlloc)
		if err != nil {
			return err
		}
		defer releaseRecords(recs)
		if sch == nil {
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

//export persisting_schema
func persisting_schema(handle C.uint64_t, out *C.struct_ArrowSchema, cerr *C.PersistingError) C.int {
	return guard(cerr, func() error {
		if out == nil {
			return errNullArgument
		}
		b, err := lookupBucket(uint64(handle))
		if err != nil {
			return err
		}
		sch, err := b.Schema()
		if err != nil {
			return err
		}
		cdata.ExportArrowSchema(sch, (*cdata.CArrowSchema)(unsafe.Pointer(out)))
		return nil
	})
}

// importBatch imports the schema first and checks it against the bucket, so
// a batch of the wrong shape is refused before its buffers are read; then it
// imports the array without copying. Arrow data whose buffers contradict its
// own schema can make the importer panic: that is the caller's bad input.
func importBatch(b *engine.Bucket, schema *C.struct_ArrowSchema, arr *C.struct_ArrowArray) (rec arrow.Record, err error) {
	sch, err := cdata.ImportCArrowSchema((*cdata.CArrowSchema)(unsafe.Pointer(schema)))
	if err != nil {
		return nil, fmt.Errorf("%w: cannot import the Arrow schema: %v", errInvalidArrow, err)
	}
	if err := b.CheckSchema(sch); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			rec, err = nil, fmt.Errorf("%w: the array does not match its schema: %v", errInvalidArrow, r)
		}
	}()
	rec, err = cdata.ImportCRecordBatchWithSchema((*cdata.CArrowArray)(unsafe.Pointer(arr)), sch)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot import the Arrow array: %v", errInvalidArrow, err)
	}
	return rec, nil
}

func releaseRecords(recs []arrow.Record) {
	for _, r := range recs {
		r.Release()
	}
}
