package main

/*
#include "persisting.h"
*/
import "C"

import (
	"errors"
	"io/fs"
	"syscall"

	"github.com/persisting/persisting/engine"
)

// errInvalidHandle: a handle that was never opened or is already closed.
var errInvalidHandle = errors.New("persisting: invalid or closed handle")

// errNullArgument: a required pointer argument was NULL.
var errNullArgument = errors.New("persisting: a required pointer argument is NULL")

// errInvalidArrow: Arrow C data that cannot be imported (malformed schema, or
// buffers that contradict it).
var errInvalidArrow = errors.New("persisting: invalid Arrow data")

// errInvalidLength: a length argument out of range.
var errInvalidLength = errors.New("persisting: invalid length")

// statusOf maps an error to the status code the header documents.
func statusOf(err error) C.int {
	var errno syscall.Errno
	var pathErr *fs.PathError
	switch {
	case err == nil:
		return C.PERSISTING_OK
	case errors.Is(err, engine.ErrNotFlushed): // first: it wraps the flush's own error
		return C.PERSISTING_ENOT_FLUSHED
	case errors.Is(err, errInvalidHandle), errors.Is(err, engine.ErrClosed):
		return C.PERSISTING_EINVALID_HANDLE
	case errors.Is(err, errNullArgument), errors.Is(err, errInvalidArrow), errors.Is(err, errInvalidLength), errors.Is(err, engine.ErrInvalidArgument),
		errors.Is(err, engine.ErrVersionNotFound):
		return C.PERSISTING_EINVALID_ARGUMENT
	case errors.Is(err, engine.ErrType):
		return C.PERSISTING_ETYPE
	case errors.Is(err, engine.ErrBusy):
		return C.PERSISTING_EBUSY
	case errors.Is(err, engine.ErrWAL):
		return C.PERSISTING_EWAL
	case errors.Is(err, engine.ErrSchemaMismatch), errors.Is(err, engine.ErrNoSchema):
		return C.PERSISTING_ESCHEMA
	case errors.Is(err, engine.ErrDatasetSchemaMismatch):
		return C.PERSISTING_ESCHEMA
	case errors.Is(err, engine.ErrCorrupt):
		return C.PERSISTING_ECORRUPT
	case errors.Is(err, engine.ErrUnsupported), errors.Is(err, engine.ErrReadOnly):
		return C.PERSISTING_EUNSUPPORTED
	case errors.As(err, &pathErr), errors.As(err, &errno):
		return C.PERSISTING_EIO
	default:
		return C.PERSISTING_EIO
	}
}
