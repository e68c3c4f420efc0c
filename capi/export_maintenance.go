package main

/*
#include "persisting.h"
*/
import "C"

import (
	"github.com/apache/arrow/go/v17/arrow"

	"github.com/persisting/persisting/engine"
)

//export persisting_compact
func persisting_compact(handle C.uint64_t, targetRows C.int64_t, outJSON **C.char, cerr *C.PersistingError) C.int {
	return bucketJSON(handle, outJSON, cerr, func(b *engine.Bucket) (any, error) {
		return b.Compact(int64(targetRows))
	})
}

//export persisting_cleanup_old_versions
func persisting_cleanup_old_versions(handle C.uint64_t, olderThanSeconds C.double, outJSON **C.char, cerr *C.PersistingError) C.int {
	return bucketJSON(handle, outJSON, cerr, func(b *engine.Bucket) (any, error) {
		olderThan, err := engine.SecondsDuration("older_than", float64(olderThanSeconds))
		if err != nil {
			return nil, err
		}
		st, err := b.CleanupOldVersions(olderThan)
		if err != nil {
			return nil, err
		}
		return map[string]any{
			"old_versions": st.OldVersions, "data_files": st.DataFiles, "deletion_files": st.DeletionFiles,
			"transaction_files": st.TransactionFiles, "bytes_removed": st.BytesRemoved, "tagged_kept": st.TaggedKept,
		}, nil
	})
}

//export persisting_versions
func persisting_versions(handle C.uint64_t, outJSON **C.char, cerr *C.PersistingError) C.int {
	return bucketJSON(handle, outJSON, cerr, func(b *engine.Bucket) (any, error) { return b.Versions() })
}

//export persisting_read_version
func persisting_read_version(handle C.uint64_t, version C.uint64_t, offset, limit C.int64_t, out *C.struct_ArrowArrayStream, cerr *C.PersistingError) C.int {
	return bucketStream(handle, out, cerr, func(b *engine.Bucket) (*arrow.Schema, []arrow.Record, error) {
		return b.ReadVersion(uint64(version), int64(offset), int64(limit), cAlloc)
	})
}
