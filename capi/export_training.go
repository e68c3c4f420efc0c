package main

/*
#include "persisting.h"

typedef const char persisting_training_cchar;
typedef const int64_t persisting_training_cint64;
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"unsafe"

	"github.com/persisting/persisting/engine"
)

// The training-data calls (engine/consumption.go): per-task consumption and
// cleared indexes. Translation only: C strings, JSON field lists, int64 arrays.

func taskName(task *C.persisting_training_cchar) (string, error) {
	if task == nil {
		return "", errNullArgument
	}
	return C.GoString((*C.char)(task)), nil
}

// fieldList decodes a JSON array of field names; NULL means none.
func fieldList(fieldsJSON *C.persisting_training_cchar) ([]string, error) {
	if fieldsJSON == nil {
		return nil, nil
	}
	var fields []string
	if err := json.Unmarshal([]byte(C.GoString((*C.char)(fieldsJSON))), &fields); err != nil {
		return nil, fmt.Errorf("%w: fields must be a JSON array of strings: %v", engine.ErrInvalidArgument, err)
	}
	return fields, nil
}

// taskAndFields reads a consumption call's task name and field list.
func taskAndFields(task, fieldsJSON *C.persisting_training_cchar) (string, []string, error) {
	name, err := taskName(task)
	if err != nil {
		return "", nil, err
	}
	fields, err := fieldList(fieldsJSON)
	return name, fields, err
}

// indexList copies count int64 values from C.
func indexList(indexes *C.persisting_training_cint64, count C.int64_t) ([]int64, error) {
	if count < 0 {
		return nil, fmt.Errorf("%w: index count %d is negative", engine.ErrInvalidArgument, int64(count))
	}
	if count == 0 {
		return nil, nil
	}
	if indexes == nil {
		return nil, errNullArgument
	}
	if count > 1<<32 { // more than there are indexes; unsafe.Slice would panic far beyond
		return nil, fmt.Errorf("%w: index count %d is more than 2^32", errInvalidLength, int64(count))
	}
	return append([]int64(nil), unsafe.Slice((*int64)(unsafe.Pointer(indexes)), int(count))...), nil
}

//export persisting_consumption_take
func persisting_consumption_take(handle C.uint64_t, task, fieldsJSON *C.persisting_training_cchar, batchSize C.int64_t,
	outJSON **C.char, cerr *C.PersistingError) C.int {
	return bucketJSON(handle, outJSON, cerr, func(b *engine.Bucket) (any, error) {
		name, fields, err := taskAndFields(task, fieldsJSON)
		if err != nil {
			return nil, err
		}
		got, err := b.TakeUnconsumed(name, fields, int64(batchSize))
		if got == nil {
			got = []int64{}
		}
		return got, err
	})
}

//export persisting_consumption_ready
func persisting_consumption_ready(handle C.uint64_t, task, fieldsJSON *C.persisting_training_cchar,
	outJSON **C.char, cerr *C.PersistingError) C.int {
	return bucketJSON(handle, outJSON, cerr, func(b *engine.Bucket) (any, error) {
		name, fields, err := taskAndFields(task, fieldsJSON)
		if err != nil {
			return nil, err
		}
		got, err := b.ReadyRanges(name, fields)
		if got == nil {
			got = [][2]int64{}
		}
		return got, err
	})
}

//export persisting_consumption_mark
func persisting_consumption_mark(handle C.uint64_t, task *C.persisting_training_cchar,
	indexes *C.persisting_training_cint64, count C.int64_t, cerr *C.PersistingError) C.int {
	return withBucket(handle, cerr, func(b *engine.Bucket) error {
		name, err := taskName(task)
		if err != nil {
			return err
		}
		idx, err := indexList(indexes, count)
		if err != nil {
			return err
		}
		return b.MarkConsumed(name, idx)
	})
}

//export persisting_consumption_reset
func persisting_consumption_reset(handle C.uint64_t, task *C.persisting_training_cchar, cerr *C.PersistingError) C.int {
	return withBucket(handle, cerr, func(b *engine.Bucket) error {
		name, err := taskName(task)
		if err != nil {
			return err
		}
		return b.ResetConsumption(name)
	})
}

//export persisting_clear
func persisting_clear(handle C.uint64_t, indexes *C.persisting_training_cint64, count C.int64_t, cerr *C.PersistingError) C.int {
	return withBucket(handle, cerr, func(b *engine.Bucket) error {
		idx, err := indexList(indexes, count)
		if err != nil {
			return err
		}
		return b.Clear(idx)
	})
}

//export persisting_live_indexes
func persisting_live_indexes(handle C.uint64_t, indexes *C.persisting_training_cint64, count C.int64_t,
	outJSON **C.char, cerr *C.PersistingError) C.int {
	return bucketJSON(handle, outJSON, cerr, func(b *engine.Bucket) (any, error) {
		idx, err := indexList(indexes, count)
		if err != nil {
			return nil, err
		}
		return b.LiveIndexes(idx)
	})
}

//export persisting_check_fields
func persisting_check_fields(handle C.uint64_t, fieldsJSON *C.persisting_training_cchar, cerr *C.PersistingError) C.int {
	return withBucket(handle, cerr, func(b *engine.Bucket) error {
		fields, err := fieldList(fieldsJSON)
		if err != nil {
			return err
		}
		return b.CheckFields(fields)
	})
}
