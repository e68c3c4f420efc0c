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
static int persisting_stream_get_next(struct ArrowArrayStream* s, struct ArrowArray* out) {
  return s->get_next(s, out);
}
static const char* persisting_stream_last_error(struct ArrowArrayStream* s) {
  return s->get_last_error(s);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
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
func persisting_append(handle C.uint64_t, schema *C.struct_ArrowSchema, arr *C.struct_ArrowArray, firstOffset *C.int64_t, cerr *C.PersistingError) C.int {
	// Both structs are moved in, whatever happens: release what import did not take.
	defer C.persisting_release_array(arr)
	defer C.persisting_release_schema(schema)
	return withBucket(handle, cerr, func(b *engine.Bucket) error {
		if schema == nil || arr == nil {
			return errNullArgument
		}
		rec, held, err := importBatch(b, schema, arr)
		if err != nil {
			return err
		}
		defer rec.Release() // after afterAppend: a refused batch is released at once
		recordImport(uint64(handle), rec)
		held.deferWhileKept()
		first, err := b.AppendBatchesAt([]arrow.Record{rec})
		held.afterAppend(err)
		return reportFirstOffset(firstOffset, first, err)
	})
}

//export persisting_append_stream
func persisting_append_stream(handle C.uint64_t, stream *C.struct_ArrowArrayStream, firstOffset *C.int64_t, cerr *C.PersistingError) C.int {
	defer C.persisting_release_stream(stream)
	return withBucket(handle, cerr, func(b *engine.Bucket) error {
		if stream == nil {
			return errNullArgument
		}
		recs, held, err := importStream(b, stream)
		defer releaseRecords(recs) // after afterAppend: a refused stream is released at once
		if err != nil {
			return err
		}
		recordImport(uint64(handle), recs...)
		held.deferWhileKept()
		first, err := b.AppendBatchesAt(recs)
		held.afterAppend(err)
		return reportFirstOffset(firstOffset, first, err)
	})
}

// reportFirstOffset writes where the call's first row went (the engine's
// answer, taken under the bucket lock) to the caller's optional out-parameter,
// whenever the rows are stored: on success and on ErrNotFlushed.
func reportFirstOffset(out *C.int64_t, first int64, err error) error {
	if out != nil && (err == nil || errors.Is(err, engine.ErrNotFlushed)) {
		*out = C.int64_t(first)
	}
	return err
}

// importStream reads every batch of stream (buffers not copied), checking the
// stream's schema against the bucket before the first batch is touched. The
// stream stays the caller's to release; the batches live on without it.
func importStream(b *engine.Bucket, stream *C.struct_ArrowArrayStream) (recs []arrow.Record, held heldBatches, err error) {
	if stream.release == nil {
		return nil, nil, fmt.Errorf("%w: the stream is already released", errInvalidArrow)
	}
	if stream.get_schema == nil || stream.get_next == nil { // calling one would crash the process
		return nil, nil, fmt.Errorf("%w: the stream's get_schema or get_next callback is NULL", errInvalidArrow)
	}
	cs := (*C.struct_ArrowSchema)(C.calloc(1, C.sizeof_struct_ArrowSchema))
	defer C.free(unsafe.Pointer(cs))
	if rc := C.persisting_stream_get_schema(stream, cs); rc != 0 {
		return nil, nil, fmt.Errorf("%w: the stream's get_schema failed (errno %d): %s", errInvalidArrow, int(rc), streamError(stream))
	}
	sch, err := importSchema(cs, "the stream's schema")
	if err != nil {
		return nil, nil, err
	}
	stored := schemaWithoutViews(sch)
	if err := b.CheckSchema(stored); err != nil {
		return nil, nil, err
	}
	ca := (*C.struct_ArrowArray)(C.calloc(1, C.sizeof_struct_ArrowArray))
	defer C.free(unsafe.Pointer(ca))
	for n := 0; ; n++ {
		if rc := C.persisting_stream_get_next(stream, ca); rc != 0 {
			C.persisting_release_array(ca) // a producer that filled it anyway
			return recs, held, fmt.Errorf("%w: the stream's get_next failed at batch %d (errno %d): %s",
				errInvalidArrow, n, int(rc), streamError(stream))
		}
		if ca.release == nil { // the end of the stream
			return recs, held, nil
		}
		rec, h, err := importStored(ca, sch, stored) // moves *ca out: it is released again after
		if err != nil {
			C.persisting_release_array(ca) // a batch refused before the move is still the producer's
			return recs, held, fmt.Errorf("batch %d of the stream: %w", n, err)
		}
		recs = append(recs, rec)
		if h != nil {
			held = append(held, h)
		}
	}
}

// streamError is the stream's get_last_error text, or a placeholder.
func streamError(stream *C.struct_ArrowArrayStream) string {
	if stream.get_last_error == nil {
		return "(the stream gives no message)"
	}
	if msg := C.persisting_stream_last_error(stream); msg != nil {
		return C.GoString(msg)
	}
	return "(the stream gives no message)"
}

//export persisting_append_records
func persisting_append_records(handle C.uint64_t, data *C.persisting_cbyte, length C.size_t, firstOffset *C.int64_t, cerr *C.PersistingError) C.int {
	return withBucket(handle, cerr, func(b *engine.Bucket) error {
		if data == nil {
			return errNullArgument
		}
		if uint64(length) > math.MaxInt { // the engine's own limit (engine.MaxRecordsBytes) is far lower
			return fmt.Errorf("%w: %d bytes of records", errInvalidLength, uint64(length))
		}
		// C memory, read only during the call: AppendRecords copies what it keeps.
		first, _, err := b.AppendRecordsAt(unsafe.Slice((*byte)(unsafe.Pointer(data)), int(length)))
		return reportFirstOffset(firstOffset, first, err)
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

// importSchema imports (and releases) a record batch's schema: a struct
// whose children are the fields. The importer indexes format strings and
// children without checking them, so a malformed schema (an empty format,
// a list without its child, a map whose entries are not a struct) panics
// inside it: that is the caller's bad input, refused as such.
func importSchema(cs *C.struct_ArrowSchema, what string) (sch *arrow.Schema, err error) {
	defer func() {
		if r := recover(); r != nil {
			sch, err = nil, fmt.Errorf("%w: %s is malformed: %v", errInvalidArrow, what, r)
		}
	}()
	if err := checkCSchema(cs, "", 0); err != nil {
		C.persisting_release_schema(cs)
		return nil, fmt.Errorf("%w: %s: %v", errInvalidArrow, what, err)
	}
	if C.GoString(cs.format) != "+s" {
		format := C.GoString(cs.format)
		C.persisting_release_schema(cs)
		return nil, fmt.Errorf("%w: %s must be a struct (format \"+s\") whose children are the fields, found format %q",
			errInvalidArrow, what, format)
	}
	if err := checkDecimalWidths(cs, ""); err != nil {
		C.persisting_release_schema(cs)
		return nil, err
	}
	zones := collectZones(cs) // before the import releases cs
	sch, err = cdata.ImportCArrowSchema((*cdata.CArrowSchema)(unsafe.Pointer(cs)))
	if err != nil {
		return nil, fmt.Errorf("%w: cannot import %s: %v", errInvalidArrow, what, err)
	}
	for i, f := range sch.Fields() {
		restoreZones(f.Type, zones.children[i])
	}
	return sch, nil
}

// importBatch imports the schema first and checks it against the bucket, so
// a batch of the wrong shape is refused before its buffers are read; then it
// imports the array without copying.
func importBatch(b *engine.Bucket, schema *C.struct_ArrowSchema, arr *C.struct_ArrowArray) (arrow.Record, heldBatches, error) {
	// A released struct (release NULL) holds nothing to read: the importer
	// would index its empty format or abort the process on an assertion.
	if schema.release == nil {
		return nil, nil, fmt.Errorf("%w: the schema is already released (its release callback is NULL)", errInvalidArrow)
	}
	if arr.release == nil {
		return nil, nil, fmt.Errorf("%w: the array is already released (its release callback is NULL)", errInvalidArrow)
	}
	sch, err := importSchema(schema, "the Arrow schema")
	if err != nil {
		return nil, nil, err
	}
	stored := schemaWithoutViews(sch)
	if err := b.CheckSchema(stored); err != nil {
		return nil, nil, err
	}
	rec, held, err := importStored(arr, sch, stored)
	if held == nil {
		return rec, nil, err
	}
	return rec, heldBatches{held}, err
}

// importStored imports arr (of schema sch) as a record of schema stored:
// schemaWithoutViews of sch.
func importStored(arr *C.struct_ArrowArray, sch, stored *arrow.Schema) (arrow.Record, *heldBatch, error) {
	rec, held, err := importRecord(arr, sch)
	if err != nil || stored == sch {
		return rec, held, err
	}
	return recordWithoutViews(rec, stored, cAlloc), held, nil
}

// importRecord moves arr, a struct array whose children are the columns of
// sch, into a record without copying buffers. Arrow data whose buffers
// contradict its own schema can make the importer panic: that is the
// caller's bad input. A null row of the struct itself has no place in a
// record batch (its fields would read as values): refused, not dropped.
// The producer's struct is held behind the library's release
// (import_release.go); held is nil when nothing of arr was imported.
func importRecord(arr *C.struct_ArrowArray, sch *arrow.Schema) (rec arrow.Record, held *heldBatch, err error) {
	defer func() {
		if r := recover(); r != nil {
			rec, err = nil, fmt.Errorf("%w: the array does not match its schema: %v", errInvalidArrow, r)
		}
	}()
	if arr.release != nil && arr.length == 0 {
		// Zero rows append nothing and no buffer of them is read; producers
		// may leave those buffers NULL (the C Data Interface allows it for
		// empty buffers), which the importer refuses.
		C.persisting_release_array(arr)
		return emptyRecord(sch), nil, nil
	}
	if err := checkCArray(arr, arrow.StructOf(sch.Fields()...), ""); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errInvalidArrow, err)
	}
	if held = hold(arr); held == nil {
		return nil, nil, fmt.Errorf("%w: out of memory holding the batch", errInvalidArrow)
	}
	imported, err := cdata.ImportCArrayWithType((*cdata.CArrowArray)(unsafe.Pointer(arr)), arrow.StructOf(sch.Fields()...))
	if err != nil {
		return nil, held, fmt.Errorf("%w: cannot import the Arrow array: %v", errInvalidArrow, err)
	}
	defer imported.Release()
	st := imported.(*array.Struct)
	if n := st.NullN(); n > 0 {
		return nil, held, fmt.Errorf("%w: %d of the batch's %d rows are null as a whole (the struct array holding the columns has nulls); "+
			"a row cannot be null, its fields can", errInvalidArrow, n, st.Len())
	}
	cols := make([]arrow.Array, st.NumField())
	for i := range cols {
		cols[i] = st.Field(i)
	}
	return array.NewRecord(sch, cols, int64(st.Len())), held, nil
}

// emptyRecord is a record of schema sch without rows.
func emptyRecord(sch *arrow.Schema) arrow.Record {
	cols := make([]arrow.Array, sch.NumFields())
	for i, f := range sch.Fields() {
		cols[i] = array.MakeArrayOfNull(cAlloc, f.Type, 0)
		defer cols[i].Release()
	}
	return array.NewRecord(sch, cols, 0)
}
