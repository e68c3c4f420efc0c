package lance

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
)

// ErrFenced: a commit was refused because the newest version records a
// higher writer epoch than the committer's: another writer has taken the
// dataset over since this one started.
var ErrFenced = errors.New("lance: fenced")

// A Fence makes one writer's commits carry its epoch, a number every new
// writer of the dataset takes higher than all before it: each commit
// records Key = Epoch in the manifest config, and refuses to build on a
// version whose Key is higher. A commit is a put-if-absent of the next
// version on top of the one it was built on, so a writer that has been
// taken over either finds its version number taken (and then reads the
// newer version, with the higher epoch) or builds on a version that
// already records the higher epoch: there is no moment at which an old
// writer can commit after the takeover version exists. Other writers that
// know nothing of fences (pylance appends) carry the config forward and
// are not refused.
type Fence struct {
	Key   string // manifest config key
	Epoch uint64
	// Permit, when set, runs before every commit attempt; an error refuses
	// the commit (a writer whose lease ran out stops writing).
	Permit func() error
	// Refused, when set, makes the error of a fenced commit (wrapped with
	// ErrFenced) from the epoch the newest version records.
	Refused func(recorded uint64) error
}

// RecordedEpoch returns the epoch version m records under key (0: none).
func RecordedEpoch(m map[string]string, key string) (uint64, error) {
	s, ok := m[key]
	if !ok {
		return 0, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, corruptf("manifest config %s = %q is not an epoch", key, s)
	}
	return v, nil
}

// admit refuses a commit on top of base when the fence forbids it.
func (f *Fence) admit(base *Manifest) error {
	if f.Permit != nil {
		if err := f.Permit(); err != nil {
			return err
		}
	}
	if base == nil {
		return nil
	}
	recorded, err := RecordedEpoch(base.Config, f.Key)
	if err != nil {
		return err
	}
	if recorded <= f.Epoch {
		return nil
	}
	if f.Refused != nil {
		return fmt.Errorf("%w: %w", ErrFenced, f.Refused(recorded))
	}
	return fmt.Errorf("%w: version %d records %s = %d, above this writer's %d", ErrFenced, base.Version, f.Key, recorded, f.Epoch)
}

// stamp returns config with the fence's epoch added (a copy).
func (f *Fence) stamp(config map[string]string) map[string]string {
	out := make(map[string]string, len(config)+1)
	for k, v := range config {
		out[k] = v
	}
	out[f.Key] = strconv.FormatUint(f.Epoch, 10)
	return out
}

// fences holds the fence of every dataset this process writes under one
// (by root): every commit path (appends, compaction, schema changes,
// deletes, indexes) goes through commit, which applies it.
var fences struct {
	sync.Mutex
	byRoot map[string]*Fence
}

func fenceKey(root string) string {
	return cleanPath(root)
}

// FenceCommits applies f to every commit this process makes to the dataset
// at root until the returned function is called. One writer per dataset
// per process: a second fence on the same root replaces the first.
func FenceCommits(root string, f Fence) (release func()) {
	key := fenceKey(root)
	held := &f
	fences.Lock()
	if fences.byRoot == nil {
		fences.byRoot = map[string]*Fence{}
	}
	fences.byRoot[key] = held
	fences.Unlock()
	return func() {
		fences.Lock()
		if fences.byRoot[key] == held {
			delete(fences.byRoot, key)
		}
		fences.Unlock()
	}
}

func fenceFor(root string) *Fence {
	fences.Lock()
	defer fences.Unlock()
	return fences.byRoot[fenceKey(root)]
}

// AdvanceFence commits a version that adds no data (an Append of no
// fragments) carrying f's epoch on top of the newest version, unless that
// version records a higher epoch (ErrFenced). A writer taking a dataset
// over calls it first: from then on every older writer's commit is
// refused. ErrNotFound when there is no dataset yet (its first commit
// will carry the epoch).
func AdvanceFence(root string, f Fence) (*Dataset, error) {
	base, scheme, err := loadLatestManifest(root)
	if err != nil {
		return nil, err
	}
	m, s, err := commit(commitRequest{
		root: root, base: base, scheme: scheme, fence: &f,
		properties: map[string]string{"persisting.operation": "writer-takeover"},
	})
	if err != nil {
		return nil, err
	}
	return newDataset(root, m, s)
}
