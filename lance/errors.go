package lance

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound: the path holds no dataset (no _versions/ or no manifest).
	ErrNotFound = errors.New("lance: dataset not found")
	// ErrVersionNotFound: the dataset exists but not the requested version.
	ErrVersionNotFound = errors.New("lance: version not found")
	// ErrUnsupported: the dataset uses a feature this package does not
	// implement (feature flag, file version, deletion files...).
	ErrUnsupported = errors.New("lance: unsupported")
	// ErrSchemaMismatch: the records' schema differs from the dataset's.
	ErrSchemaMismatch = errors.New("lance: schema mismatch")
	// ErrCommitConflict: the commit could not be applied on top of
	// concurrent commits (incompatible operation, or retries exhausted).
	ErrCommitConflict = errors.New("lance: commit conflict")
	// ErrCorrupt: a manifest, transaction, deletion file or dataset
	// structure that does not decode or contradicts itself (truncated file,
	// bad magic, malformed protobuf, impossible row counts...). Valid input
	// using features this package does not implement is ErrUnsupported.
	ErrCorrupt = errors.New("lance: corrupt dataset")
	// ErrValueKind: a lookup value of a kind the column's values cannot be
	// compared with (a string for an int column...): the caller's argument.
	ErrValueKind = errors.New("lance: value of the wrong kind")
)

// corruptf formats an error wrapping ErrCorrupt.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}
