package main

/*
#include "persisting.h"
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow/cdata"

	"github.com/persisting/persisting/engine"
)

// returnJSON marshals v into a malloc'd string for *out.
func returnJSON(out **C.char, v any) error {
	text, err := json.Marshal(v)
	if err != nil {
		return err
	}
	*out = C.CString(string(text))
	return nil
}

//export persisting_compact
func persisting_compact(handle C.uint64_t, targetRows C.int64_t, outJSON **C.char, cerr *C.PersistingError) C.int {
	return guard(cerr, func() error {
		if outJSON == nil {
			return errNullArgument
		}
		if targetRows < 0 {
			return fmt.Errorf("%w: target_rows must not be negative", engine.ErrInvalidOption)
		}
		b, err := lookupBucket(uint64(handle))
		if err != nil {
			return err
		}
		res, err := b.Compact(int64(targetRows))
		if err != nil {
			return err
		}
		return returnJSON(outJSON, res)
	})
}

//export persisting_cleanup_old_versions
func persisting_cleanup_old_versions(handle C.uint64_t, olderThanSeconds C.double, outJSON **C.char, cerr *C.PersistingError) C.int {
	return guard(cerr, func() error {
		if outJSON == nil {
			return errNullArgument
		}
		s := float64(olderThanSeconds)
		if s < 0 || math.IsNaN(s) || s > math.MaxInt64/float64(time.Second) {
			return fmt.Errorf("%w: older_than must be a non-negative number of seconds, got %v", engine.ErrInvalidOption, s)
		}
		b, err := lookupBucket(uint64(handle))
		if err != nil {
			return err
		}
		st, err := b.CleanupOldVersions(time.Duration(s * float64(time.Second)))
		if err != nil {
			return err
		}
		return returnJSON(outJSON, map[string]any{
			"old_versions": st.OldVersions, "data_files": st.DataFiles, "deletion_files": st.DeletionFiles,
			"transaction_files": st.TransactionFiles, "bytes_removed": st.BytesRemoved, "tagged_kept": st.TaggedKept,
		})
	})
}

//export persisting_versions
func persisting_versions(handle C.uint64_t, outJSON **C.char, cerr *C.PersistingError) C.int {
	return guard(cerr, func() error {
		if outJSON == nil {
			return errNullArgument
		}
		b, err := lookupBucket(uint64(handle))
		if err != nil {
			return err
		}
		v, err := b.Versions()
		if err != nil {
			return err
		}
		return returnJSON(outJSON, v)
	})
}

//export persisting_read_version
func persisting_read_version(handle C.uint64_t, version C.uint64_t, offset, limit C.int64_t, out *C.struct_ArrowArrayStream, cerr *C.PersistingError) C.int {
	return guard(cerr, func() error {
		if out == nil {
			return errNullArgument
		}
		b, err := lookupBucket(uint64(handle))
		if err != nil {
			return err
		}
		sch, recs, err := b.ReadVersion(uint64(version), int64(offset), int64(limit), cAlloc)
		if err != nil {
			return err
		}
		defer releaseRecords(recs)
		return exportRecords(sch, recs, (*cdata.CArrowArrayStream)(unsafe.Pointer(out)))
	})
}
