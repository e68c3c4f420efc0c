package main

/*
#include "persisting.h"

typedef const char persisting_index_cchar;
*/
import "C"

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/persisting/persisting/engine"
	"github.com/persisting/persisting/lance"
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
		cond, err := parseCond(C.GoString((*C.char)(condJSON)))
		if err != nil {
			return nil, nil, err
		}
		sch, recs, _, err := b.Lookup(C.GoString((*C.char)(column)), cond, cAlloc)
		return sch, recs, err
	})
}

// condSpec is the JSON form of a lookup condition:
// {"op":"eq","value":V} | {"op":"range","lo":V,"hi":V,"lo_inclusive":B,"hi_inclusive":B} | {"op":"is_null"}.
type condSpec struct {
	Op          string          `json:"op"`
	Value       json.RawMessage `json:"value"`
	Lo          json.RawMessage `json:"lo"`
	Hi          json.RawMessage `json:"hi"`
	LoInclusive bool            `json:"lo_inclusive"`
	HiInclusive bool            `json:"hi_inclusive"`
}

func parseCond(text string) (lance.Cond, error) {
	var spec condSpec
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return lance.Cond{}, fmt.Errorf("%w: condition: %v", engine.ErrInvalidArgument, err)
	}
	value := func(name string, raw json.RawMessage) (any, error) {
		if len(raw) == 0 || string(raw) == "null" {
			return nil, nil
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%w: condition %s: %v", engine.ErrInvalidArgument, name, err)
		}
		switch x := v.(type) {
		case json.Number: // integers stay integers: an int64 column compares exactly
			if i, err := x.Int64(); err == nil {
				return i, nil
			}
			return x.Float64()
		case string, bool:
			return x, nil
		}
		return nil, fmt.Errorf("%w: condition %s must be a number, string or bool", engine.ErrInvalidArgument, name)
	}
	switch spec.Op {
	case "eq":
		v, err := value("value", spec.Value)
		if err != nil {
			return lance.Cond{}, err
		}
		if v == nil {
			return lance.Cond{}, fmt.Errorf("%w: eq needs a non-null value (use is_null)", engine.ErrInvalidArgument)
		}
		return lance.CondEqual(v), nil
	case "range":
		lo, err := value("lo", spec.Lo)
		if err != nil {
			return lance.Cond{}, err
		}
		hi, err := value("hi", spec.Hi)
		if err != nil {
			return lance.Cond{}, err
		}
		return lance.CondRange(lo, spec.LoInclusive, hi, spec.HiInclusive), nil
	case "is_null":
		return lance.CondIsNull(), nil
	}
	return lance.Cond{}, fmt.Errorf("%w: condition op %q (want eq, range or is_null)", engine.ErrInvalidArgument, spec.Op)
}
