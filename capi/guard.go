package main

/*
#include <stdlib.h>
#include "persisting.h"
*/
import "C"

import (
	"fmt"
	"runtime/debug"
	"unsafe"
)

// guard runs body and turns its error, or a panic, into a status code and a
// filled *PersistingError. Every exported function runs inside one, so a Go
// panic never unwinds into C.
func guard(cerr *C.PersistingError, body func() error) (status C.int) {
	defer func() {
		if r := recover(); r != nil {
			status = C.PERSISTING_EINTERNAL
			setError(cerr, status, fmt.Sprintf("persisting: internal error (recovered panic): %v\n%s", r, debug.Stack()))
		}
	}()
	err := body()
	if err == nil {
		return C.PERSISTING_OK
	}
	status = statusOf(err)
	setError(cerr, status, err.Error())
	return status
}

// setError fills cerr (when not NULL) with code and a malloc'd copy of msg.
func setError(cerr *C.PersistingError, code C.int, msg string) {
	if cerr == nil {
		return
	}
	if cerr.message != nil { // a caller that reused a filled error: do not leak it
		C.free(unsafe.Pointer(cerr.message))
	}
	cerr.code = code
	cerr.message = C.CString(msg)
}

//export persisting_error_release
func persisting_error_release(cerr *C.PersistingError) {
	if cerr == nil {
		return
	}
	if cerr.message != nil {
		C.free(unsafe.Pointer(cerr.message))
	}
	cerr.message = nil
	cerr.code = C.PERSISTING_OK
}

//export persisting_string_free
func persisting_string_free(s *C.char) {
	if s != nil {
		C.free(unsafe.Pointer(s))
	}
}
