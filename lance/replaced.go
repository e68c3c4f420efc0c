package lance

import (
	"errors"
	"fmt"
	"time"
)

// Mark names one version of a dataset so that a reader can tell later
// whether the dataset it finds is still the one it read: the version and
// the time its manifest says it was committed (a dataset deleted and made
// again up to the same version has another).
type Mark struct {
	Version   uint64
	Committed time.Time
}

// VersionMark reads the mark of version v of the dataset at root.
func VersionMark(root string, v uint64) (Mark, error) {
	m, _, err := loadManifest(root, v)
	if err != nil {
		return Mark{}, err
	}
	return Mark{v, m.Timestamp}, nil
}

// ReplacedSince says why version to of the dataset at root is not a later
// state of the version from marks, or "" when it is: appends, deletes,
// compaction and schema changes keep a dataset; an Overwrite or a Restore
// committed after from, versions that start again below from, or a version
// from whose manifest is another one (the dataset deleted and made again)
// replace it. Versions cleaned up since are skipped: what is left still
// tells an overwrite or a restore. It reads the manifests (and
// transactions) of the versions from..to, and returns to's mark.
func ReplacedSince(root string, from Mark, to uint64) (Mark, string, error) {
	if to < from.Version {
		m, _, err := loadManifest(root, to)
		if err != nil {
			return Mark{}, "", err
		}
		return Mark{to, m.Timestamp}, fmt.Sprintf("its versions start again (version %d, version %d was read)", to, from.Version), nil
	}
	var mark Mark
	for v := from.Version; v <= to; v++ {
		m, _, err := loadManifest(root, v)
		if errors.Is(err, ErrVersionNotFound) && v < to {
			continue // cleaned up
		}
		if err != nil {
			return Mark{}, "", err
		}
		mark = Mark{v, m.Timestamp}
		if v == from.Version {
			if !m.Timestamp.Equal(from.Committed) {
				return mark, fmt.Sprintf("it was deleted and made again (its version %d is another one)", v), nil
			}
			continue
		}
		t, err := loadTransaction(root, m)
		if err != nil {
			continue // nothing tells what the version did
		}
		switch t.Op {
		case OpOverwrite:
			return loadMark(root, to, m, v, fmt.Sprintf("it was overwritten (version %d)", v))
		case OpRestore:
			return loadMark(root, to, m, v, fmt.Sprintf("an older version was restored (version %d)", v))
		}
	}
	return mark, "", nil
}

// loadMark is the mark of version to, given the manifest m of version v.
func loadMark(root string, to uint64, m *Manifest, v uint64, reason string) (Mark, string, error) {
	if v != to {
		var err error
		if m, _, err = loadManifest(root, to); err != nil {
			return Mark{}, "", err
		}
	}
	return Mark{to, m.Timestamp}, reason, nil
}
