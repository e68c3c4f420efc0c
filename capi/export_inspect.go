package main

/*
#include "persisting.h"

// as in export_bucket.go: prototypes that say "const char*" like the header
typedef const char persisting_cchar;
*/
import "C"

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/persisting/persisting/engine"
)

// The operator's read-only views of a bucket, by path (no handle): the
// engine reads the dataset and WAL without opening the bucket.

//export persisting_inspect
func persisting_inspect(path *C.persisting_cchar, optionsJSON *C.persisting_cchar, outJSON **C.char, cerr *C.PersistingError) C.int {
	return guard(cerr, func() error {
		if path == nil || outJSON == nil {
			return errNullArgument
		}
		var opts engine.InspectOptions
		if optionsJSON != nil {
			dec := json.NewDecoder(bytes.NewReader([]byte(C.GoString((*C.char)(optionsJSON)))))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&opts); err != nil {
				return fmt.Errorf("%w: options_json: %v", engine.ErrInvalidOption, err)
			}
		}
		ins, err := engine.Inspect(C.GoString((*C.char)(path)), opts)
		if err != nil {
			return err
		}
		return returnJSON(outJSON, ins)
	})
}

//export persisting_verify
func persisting_verify(path *C.persisting_cchar, outJSON **C.char, cerr *C.PersistingError) C.int {
	return guard(cerr, func() error {
		if path == nil || outJSON == nil {
			return errNullArgument
		}
		rep, err := engine.Verify(C.GoString((*C.char)(path)), nil)
		if err != nil {
			return err
		}
		return returnJSON(outJSON, rep)
	})
}
