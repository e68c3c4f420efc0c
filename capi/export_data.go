package main

/*
#include <stdlib.h>
#include "persisting.h"

// The records of persisting_append_records are const in the header; cgo
// spells the parameter through this typedef so the declarations agree.
typedef const uint8_t persisting_cbyte;

// Calls a struct's release callback if it still has one: cgo cannot call C
// function pointers directly.
static void persisting_release_schema(struct ArrowSchema* s) {
  if (s != NULL && s->release != NULL) s->release(s);
}
static void persisting_release_array(struct ArrowArray* a) {
  if (a != NULL && a->release != NULL) a->release(a);
}
static void persisting_release_stream(struct ArrowArrayStream* s) {
  if (s != NULL && s->release != NULL) s->release(s);
}
static int persisting_stream_get_schema(struct ArrowArrayStream* s, struct ArrowSchema* out) {
  return s->get_schema(s, out);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"io"
	"math"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
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
	return withBucket(handle, cerr, func(b *engine.Bucket) error {
		if schema == nil || arr == nil {
			return errNullArgument
		}
		rec, err := importBatch(b, schema, arr)
		if err != nil {
			return err
		}
		defer rec.Release()
		return b.Append(rec)
	})
}

//export persisting_append_stream
func persisting_append_stream(handle C.uint64_t, stream *C.struct_ArrowArrayStream, cerr *C.PersistingError) C.int {
	defer C.persisting_release_stream(stream)
	return withBucket(handle, cerr, func(b *engine.Bucket) error {
		if stream == nil {
			return errNullArgument
		}
		recs, err := importStream(b, stream)
		defer releaseRecords(recs)
		if err != nil {
			return err
		}
		return b.AppendBatches(recs)
	})
}

// importStream reads every batch of stream (buffers not copied), checking the
// stream's schema against the bucket before the first batch is touched.
func importStream(b *engine.Bucket, stream *C.struct_ArrowArrayStream) (recs []arrow.Record, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: the stream's arrays do not match its schema: %v", errInvalidArrow, r)
		}
	}()
	if stream.release == nil {
		return nil, fmt.Errorf("%w: the stream is already released", errInvalidArrow)
	}
	cs := (*C.struct_ArrowSchema)(C.calloc(1, C.sizeof_struct_ArrowSchema))
	defer C.free(unsafe.Pointer(cs))
	if rc := C.persisting_stream_get_schema(stream, cs); rc != 0 {
		return nil, fmt.Errorf("%w: the stream's get_schema failed with errno %d", errInvalidArrow, int(rc))
	}
	sch, err := cdata.ImportCArrowSchema((*cdata.CArrowSchema)(unsafe.Pointer(cs)))
	if err != nil {
		return nil, fmt.Errorf("%w: cannot import the stream's schema: %v", errInvalidArrow, err)
	}
	if err := b.CheckSchema(sch); err != nil {
		return nil, err
	}
	rdr, err := cdata.ImportCRecordReader((*cdata.CArrowArrayStream)(unsafe.Pointer(stream)), sch)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot import the Arrow stream: %v", errInvalidArrow, err)
	}
	for {
		rec, err := rdr.Read()
		if errors.Is(err, io.EOF) {
			return recs, nil
		}
		if err != nil {
			return recs, fmt.Errorf("%w: reading the Arrow stream: %v", errInvalidArrow, err)
		}
		rec.Retain()
		recs = append(recs, rec)
	}
}

//export persisting_append_records
func persisting_append_records(handle C.uint64_t, data *C.persisting_cbyte, length C.size_t, cerr *C.PersistingError) C.int {
	return withBucket(handle, cerr, func(b *engine.Bucket) error {
		if data == nil {
			return errNullArgument
		}
		if uint64(length) > math.MaxInt32 {
			return fmt.Errorf("%w: %d bytes of records, more than 2 GiB", errInvalidLength, uint64(length))
		}
		// C memory, read only during the call: AppendRecords copies what it keeps.
		_, err := b.AppendRecords(unsafe.Slice((*byte)(unsafe.Pointer(data)), int(length)))
		return err
	})
}

//export persisting_read
func persisting_read(handle C.uint64_t, offset, limit C.int64_t, out *C.struct_ArrowArrayStream, cerr *C.PersistingError) C.int {
	return bucketStream(handle, out, cerr, func(b *engine.Bucket) (*arrow.Schema, []arrow.Record, error) {
		return b.Read(int64(offset), int64(limit), cAlloc)
	})
}

//export persisting_schema
func persisting_schema(handle C.uint64_t, out *C.struct_ArrowSchema, cerr *C.PersistingError) C.int {
	return withBucket(handle, cerr, func(b *engine.Bucket) error {
		if out == nil {
			return errNullArgument
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
