package main

/*
#include "persisting.h"

typedef const char persisting_index_cchar;
*/
import "C"

import (
	"github.com/apache/arrow/go/v17/arrow"

	"github.com/persisting/persisting/engine"
)

//export persisting_create_index
func persisting_create_index(handle C.uint64_t, column, kind *C.persisting_index_cchar, outJSON **C.char, cerr *C.PersistingError) C.int {
	return bucketJSON(handle, outJSON, cerr, func(b *engine.Bucket) (any, error) {
		if column == nil || kind == nil {
			return nil, errNullArgument
		}
		return b.CreateIndex(C.GoString((*C.char)(column)), C.GoString((*C.char)(kind)))
	})
}

//export persisting_indices
func persisting_indices(handle C.uint64_t, outJSON **C.char, cerr *C.PersistingError) C.int {
	return bucketJSON(handle, outJSON, cerr, func(b *engine.Bucket) (any, error) { return b.Indices() })
}

//export persisting_lookup
func persisting_lookup(handle C.uint64_t, column, condJSON *C.persisting_index_cchar, out *C.struct_ArrowArrayStream, cerr *C.PersistingError) C.int {
	return bucketStream(handle, out, cerr, func(b *engine.Bucket) (*arrow.Schema, []arrow.Record, error) {
		if column == nil || condJSON == nil {
			return nil, nil, errNullArgument
		}
		cond, err := engine.ParseCondition(C.GoString((*C.char)(condJSON)))
		if err != nil {
			return nil, nil, err
		}
		sch, recs, _, err := b.Lookup(C.GoString((*C.char)(column)), cond, cAlloc)
		return sch, recs, err
	})
}
