package main

/*
#include "persisting.h"

// as in export_bucket.go: prototypes that say "const char*" like the header
typedef const char persisting_cchar;
*/
import "C"

import (
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
		var text string
		if optionsJSON != nil {
			text = C.GoString((*C.char)(optionsJSON))
		}
		opts, err := engine.ParseInspectOptionsJSON(text)
		if err != nil {
			return err
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
