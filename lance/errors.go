package lance

import "errors"

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
)
