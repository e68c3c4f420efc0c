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
// which version and transaction it tried; ResolveCommit later tells which.

// ErrCommitUncertain: the commit's manifest PUT failed without saying
// whether the server stored it (see UncertainCommitOf).
var ErrCommitUncertain = errors.New("lance: commit outcome unknown")

// UncertainCommit is a commit whose outcome is unknown: the version it tried
// to publish and the transaction file its manifest names.
type UncertainCommit struct {
	Root        string
	Version     uint64
	Transaction string // file name under _transactions/
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
func uncertainPublish(root string, v uint64, txnName string, err error) error {
	if !errors.Is(err, objstore.ErrOutcomeUnknown) {
		return nil
	}
	return &uncertainCommitError{c: UncertainCommit{Root: root, Version: v, Transaction: txnName}, err: err}
}

// mayRemoveWritten says whether the files written for a commit that failed
// with err may be removed: not when the commit is uncertain (the version, if
// stored, names them), nor when the store did not answer (the removals would
// wait as long for nothing; cleanup_old_versions removes files no version
// names).
func mayRemoveWritten(err error) bool {
	return !errors.Is(err, ErrCommitUncertain) && !errors.Is(err, objstore.ErrNoAnswer)
}

// ResolveCommit says whether an uncertain commit took place: true if the
// version exists and its manifest names the commit's transaction, false if
// it is absent or another writer's. An error: the store still cannot tell.
// A version found absent stays absent for this writer: its next commit of
// that version wins the conditional PUT, or finds it taken and rebuilds on
// top as after any conflict.
func ResolveCommit(c UncertainCommit) (bool, error) {
	m, _, err := loadManifest(c.Root, c.Version)
	if errors.Is(err, ErrVersionNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("lance: checking whether version %d of %s was committed: %w", c.Version, c.Root, err)
	}
	return m.TransactionFile == c.Transaction, nil
}
