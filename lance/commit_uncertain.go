package lance

import (
	"errors"
	"fmt"

	"github.com/persisting/persisting/lance/objstore"
)

// On an object store a version is published by one conditional PUT of its
// manifest. When that PUT gets no answer (the server went away, a timeout, a
// 5xx) and retrying does not tell, the version may or may not exist: the
// server may have stored the manifest before the connection broke, or may
// still store a request it had queued. Reporting that as a plain failure
// would make the caller write the same rows again on top of the version that
// already holds them (duplicates), so the commit says it is uncertain and
// which version and transaction it tried; ResolveCommit later settles it.
//
// Settling must not merely look: a request the server holds back can land
// after the look found the version absent, and the caller's next commit
// would then find the version taken and put the same rows on top of it.
// So a version found absent is published then and there, with the very
// bytes of the lost PUT and the same condition (If-None-Match). Both
// requests can create only that one manifest at that one version, so
// whichever lands first wins and the other finds it there: the commit's
// rows are in the dataset once, whatever the order. And the republish adds
// no outcome the held request could not have produced by itself.

// ErrCommitUncertain: the commit's manifest PUT failed without saying
// whether the server stored it (see UncertainCommitOf).
var ErrCommitUncertain = errors.New("lance: commit outcome unknown")

// UncertainCommit is a commit whose outcome is unknown: the version it tried
// to publish and the transaction file its manifest names.
type UncertainCommit struct {
	Root        string
	Version     uint64
	Transaction string // file name under _transactions/

	scheme   NamingScheme
	manifest []byte // the bytes of the lost PUT
}

type uncertainCommitError struct {
	c   UncertainCommit
	err error
}

func (e *uncertainCommitError) Error() string {
	return fmt.Sprintf("%v (version %d may have been stored all the same: this writer's next commit checks first)",
		e.err, e.c.Version)
}

func (e *uncertainCommitError) Unwrap() []error { return []error{ErrCommitUncertain, e.err} }

// UncertainCommitOf returns the uncertain commit err reports, if it does.
func UncertainCommitOf(err error) (UncertainCommit, bool) {
	var e *uncertainCommitError
	if errors.As(err, &e) {
		return e.c, true
	}
	return UncertainCommit{}, false
}

// uncertainPublish wraps a failed manifest PUT that may have taken effect
// (nil if err says it did not).
func uncertainPublish(root string, s NamingScheme, v uint64, txnName string, manifest []byte, err error) error {
	if !errors.Is(err, objstore.ErrOutcomeUnknown) {
		return nil
	}
	c := UncertainCommit{Root: root, Version: v, Transaction: txnName, scheme: s, manifest: manifest}
	return &uncertainCommitError{c: c, err: err}
}

// mayRemoveWritten says whether the files written for a commit that failed
// with err may be removed: not when the commit is uncertain (the version, if
// stored, names them), nor when the store did not answer (the removals would
// wait as long for nothing; cleanup_old_versions removes files no version
// names).
func mayRemoveWritten(err error) bool {
	return !errors.Is(err, ErrCommitUncertain) && !errors.Is(err, objstore.ErrNoAnswer)
}

// ResolveCommit settles an uncertain commit: true if its version holds
// the commit's transaction, false if another writer's. A version still
// absent is published now with the lost PUT's bytes (see above), so the
// answer is final: a held request that lands later finds the version taken.
// An error: the store still cannot tell (calling again is safe).
func ResolveCommit(c UncertainCommit) (bool, error) {
	ours, err := commitOwnsVersion(c)
	if !errors.Is(err, ErrVersionNotFound) {
		return ours, err
	}
	// Absent. Only the next version may be published: a version taken and
	// removed since (cleanup) stays the other writer's.
	latest, _, err := loadLatestManifest(c.Root)
	switch {
	case errors.Is(err, ErrNotFound): // the commit was to create the dataset
	case err != nil:
		return false, resolveFailed(c, err)
	case latest.Version+1 != c.Version:
		return false, nil
	}
	err = putManifest(c.Root, c.scheme, c.Version, c.manifest)
	if errors.Is(err, errCommitConflict) { // the held request, or another writer, got there first
		ours, err = commitOwnsVersion(c)
	} else if err == nil {
		ours = true
	}
	if err != nil {
		return false, resolveFailed(c, err)
	}
	return ours, nil
}

// commitOwnsVersion says whether c's version names c's transaction
// (ErrVersionNotFound: the version is absent).
func commitOwnsVersion(c UncertainCommit) (bool, error) {
	m, _, err := loadManifest(c.Root, c.Version)
	if errors.Is(err, ErrVersionNotFound) {
		return false, err
	}
	if err != nil {
		return false, resolveFailed(c, err)
	}
	return m.TransactionFile == c.Transaction, nil
}

func resolveFailed(c UncertainCommit, err error) error {
	return fmt.Errorf("lance: checking whether version %d of %s was committed: %w", c.Version, c.Root, err)
}
