package lance

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/persisting/persisting/lance/objstore"
)

// CleanupOptions tune CleanupOldVersions.
type CleanupOptions struct {
	// DeleteUnverified also removes files no manifest references (left by
	// failed or in-progress commits) once they are older than the cutoff.
	// By default such files are removed only when older than 7 days, as
	// Lance does, so a commit in progress never loses its files.
	DeleteUnverified bool
	// KeepLatest keeps the newest KeepLatest versions whatever their age
	// (the latest version is always kept).
	KeepLatest int
	// Keep lists versions to keep whatever their age (say, versions
	// readers are using).
	Keep []uint64
	// BySuperseded judges a version's age by when the version after it
	// was committed - when it stopped being the latest - instead of by
	// its own commit time: a reader that opened the latest version after
	// the cutoff keeps its files.
	BySuperseded bool
	// DropCovered also removes, whatever their age, versions whose data
	// and deletion files the next version still references, every one
	// (an append's predecessor): a reader that opened such a version
	// finds every file it reads, kept by the next version. What goes is
	// its manifest and transaction file, so it can no longer be opened
	// anew by number. KeepLatest, Keep and tags still protect a version.
	DropCovered bool
	// Abandoned lists files a writer that is gone left (see ListFiles):
	// each is removed, whatever its age, unless a kept version references
	// it.
	Abandoned FileSet
	// OnRemove, when set, runs after each file or manifest is removed
	// (crash tests stop there).
	OnRemove func()
}

// CleanupStats reports what CleanupOldVersions removed.
type CleanupStats struct {
	OldVersions      int   // manifests removed
	DataFiles        int   // files removed from data/
	DeletionFiles    int   // files removed from _deletions/
	TransactionFiles int   // files removed from _transactions/
	BytesRemoved     int64 // total size of the removed files
	TaggedKept       int   // versions older than the cutoff kept for a tag, or as a branch's start
	// KeptYoung counts the versions kept only because they are younger
	// than the cutoff. When it is 0 and no commit, pin or tag changes, a
	// later run with a later cutoff removes nothing more (a caller may
	// skip it).
	KeptYoung int
}

// unverifiedAge is how old a file no manifest references must be before it
// is removed without DeleteUnverified (Lance's rule).
const unverifiedAge = 7 * 24 * time.Hour

const tagsDir = "_refs/tags"

// CleanupOldVersions removes the versions of the dataset at path committed
// before the given time, except the latest version, tagged versions
// (_refs/tags/*.json) and the versions pylance's branches start from
// (branchStarts), then the data, deletion and transaction files that no
// remaining version references (DropCovered removes more versions). A file
// referenced only by removed versions is
// removed whatever its age; a file no version references at all is removed
// only if older than 7 days (or, with DeleteUnverified, older than before).
// Index files (_indices/) are left alone.
//
// Manifests are removed before files, oldest first, so an interruption leaves
// every remaining version readable; files it did not get to remove are
// removed by the next run. A manifest that does not decode aborts the run
// before anything is removed (with ErrCorrupt): its references are unknown.
// Writers may commit concurrently: their new files are unreferenced but
// young, and everything the latest version references is kept.
func CleanupOldVersions(path string, before time.Time, opts CleanupOptions) (CleanupStats, error) {
	var st CleanupStats
	l, err := listVersions(path)
	if err != nil {
		return st, err
	}
	tagged, err := taggedVersions(path)
	if err != nil {
		return st, err
	}
	if err := branchStarts(path, tagged); err != nil {
		return st, err
	}
	type version struct {
		v    uint64
		name string
		m    *Manifest
	}
	var keep, drop []version
	var all []version
	for _, v := range l.versions {
		name := ManifestName(l.scheme, v)
		m, err := readManifestFile(joinPath(path, versionsDir, name))
		if err != nil {
			if errors.Is(err, ErrVersionNotFound) {
				continue // removed by a concurrent cleanup
			}
			return st, err
		}
		all = append(all, version{v, name, m})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })
	pinned := make(map[uint64]bool, len(opts.Keep))
	for _, v := range opts.Keep {
		pinned[v] = true
	}
	for i, ver := range all {
		v, name, m := ver.v, ver.name, ver.m
		aged := m.Timestamp
		if opts.BySuperseded && i+1 < len(all) {
			aged = all[i+1].m.Timestamp
		}
		protected := v == l.latest || i >= len(all)-opts.KeepLatest || pinned[v]
		old := !protected && (aged.Before(before) || opts.DropCovered && i+1 < len(all) && covers(all[i+1].m, m))
		switch {
		case old && tagged[v]:
			st.TaggedKept++
			keep = append(keep, version{v, name, m})
		case old:
			drop = append(drop, version{v, name, m})
		default:
			if !protected {
				st.KeptYoung++
			}
			keep = append(keep, version{v, name, m})
		}
	}
	if len(drop) == 0 && !opts.DeleteUnverified && opts.Abandoned.Len() == 0 {
		return st, nil
	}
	kept, dropped := newRefs(), newRefs()
	for _, k := range keep {
		if err := kept.add(k.m); err != nil {
			return st, err
		}
	}
	for _, d := range drop {
		if err := dropped.add(d.m); err != nil {
			return st, err
		}
	}
	// Oldest first. Every version left is readable at any interruption: no
	// file goes before the manifests that reference it.
	for _, d := range drop {
		err := removeFile(joinPath(path, versionsDir, d.name))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return st, fmt.Errorf("lance: cleanup: %w", err)
		}
		if err == nil {
			st.OldVersions++
			if opts.OnRemove != nil {
				opts.OnRemove()
			}
		}
	}
	if st.OldVersions > 0 {
		if err := syncDir(joinPath(path, versionsDir)); err != nil {
			return st, fmt.Errorf("lance: cleanup: %w", err)
		}
	}
	now := time.Now()
	removable := func(dir, name string, info fs.FileInfo) bool {
		if kept.has(dir, name) {
			return false
		}
		if dropped.has(dir, name) || opts.Abandoned.names.has(dir, name) {
			return true
		}
		age := now.Sub(info.ModTime())
		return age > unverifiedAge || opts.DeleteUnverified && info.ModTime().Before(before)
	}
	for _, dir := range []string{dataDir, deletionsDir, transactionsDir} {
		n, bytes, err := removeFiles(joinPath(path, dir), func(name string, info fs.FileInfo) bool {
			return removable(dir, name, info)
		}, opts.OnRemove)
		st.BytesRemoved += bytes
		switch dir {
		case dataDir:
			if n > 0 { // no cached reader of a removed file outlives it
				dataFiles.forgetUnder(joinPath(path, dataDir))
			}
			st.DataFiles += n
		case deletionsDir:
			st.DeletionFiles += n
		default:
			st.TransactionFiles += n
		}
		if err != nil {
			return st, err
		}
	}
	// Manifests a writer staged (stagedManifestPath) and was killed before
	// linking: no reader looks at them and nothing else removes them, so
	// they go by the rule for unreferenced files.
	_, bytes, err := removeFiles(joinPath(path, versionsDir), func(name string, info fs.FileInfo) bool {
		return strings.HasPrefix(name, ".tmp_") && removable(versionsDir, name, info)
	}, opts.OnRemove)
	st.BytesRemoved += bytes
	if err != nil {
		return st, err
	}
	return st, nil
}

// covers says whether next references every data and deletion file of m:
// removing m then removes no file a reader of m could need. A manifest
// whose references cannot be listed covers nothing.
func covers(next, m *Manifest) bool {
	have, want := newRefs(), newRefs()
	if have.add(next) != nil || want.add(m) != nil {
		return false
	}
	for _, dir := range []string{dataDir, deletionsDir} {
		for name := range want[dir] {
			if !have[dir][name] {
				return false
			}
		}
	}
	return true
}

// refs are the files some set of manifests references, per directory.
type refs map[string]map[string]bool

func newRefs() refs {
	return refs{dataDir: {}, deletionsDir: {}, transactionsDir: {}}
}

func (r refs) has(dir, name string) bool { return r[dir][name] }

func (r refs) add(m *Manifest) error {
	for i := range m.Fragments {
		f := &m.Fragments[i]
		for _, df := range f.Files {
			if len(df.Extra) > 0 {
				// base_id: the file lives under another base path.
				return fmt.Errorf("%w: cleanup of datasets with external base paths", ErrUnsupported)
			}
			r[dataDir][filepath.FromSlash(df.Path)] = true
		}
		if f.DeletionFile != nil {
			name, err := deletionFileName(f.ID, f.DeletionFile)
			if err != nil {
				return err
			}
			r[deletionsDir][name] = true
		}
	}
	if m.TransactionFile != "" {
		r[transactionsDir][m.TransactionFile] = true
	}
	return nil
}

// removeFiles removes the regular files of dir (recursively, as data file
// paths may have directories) for which remove says yes.
func removeFiles(dir string, remove func(name string, info fs.FileInfo) bool, removed func()) (int, int64, error) {
	var n int
	var size int64
	if isRemote(dir) {
		var rmErr error
		err := listFiles(dir, func(name string, info fs.FileInfo) bool {
			if !remove(name, info) {
				return true
			}
			if rmErr = removeFile(joinPath(dir, name)); rmErr != nil {
				return false
			}
			n++
			size += info.Size()
			return true
		})
		if err == nil {
			err = rmErr
		}
		if err != nil {
			return n, size, fmt.Errorf("lance: cleanup %s: %w", dir, err)
		}
		return n, size, nil
	}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !e.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		info, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !remove(rel, info) {
			return nil
		}
		if err := os.Remove(p); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		n++
		size += info.Size()
		if removed != nil {
			removed()
		}
		return nil
	})
	if err != nil {
		return n, size, fmt.Errorf("lance: cleanup %s: %w", dir, err)
	}
	if n > 0 {
		if err := syncDir(dir); err != nil {
			return n, size, fmt.Errorf("lance: cleanup: %w", err)
		}
	}
	return n, size, nil
}

// taggedVersions reads _refs/tags/*.json ({"branch", "version",
// "manifestSize"}) and returns the tagged versions.
func taggedVersions(root string) (map[uint64]bool, error) {
	tags, err := Tags(root)
	if err != nil {
		return nil, err
	}
	out := map[uint64]bool{}
	for _, v := range tags {
		out[v] = true
	}
	return out, nil
}

const branchesDir = "_refs/branches"

// branchStarts adds to versions the versions of the main dataset pylance's
// branches (ds.create_branch) were created from: _refs/branches/<name>.json
// with "parentBranch" null names it as "parentVersion". A branch's manifests
// (under tree/<name>/) reference that version's data and deletion files in
// place, so they must outlive it as a tagged version's do; a branch of a
// branch reaches the main dataset through its parent's start. A branch file
// that does not decode is ErrCorrupt, as a tag's is.
func branchStarts(root string, versions map[uint64]bool) error {
	dir := joinPath(root, filepath.FromSlash(branchesDir))
	var names []string // relative to dir; a branch name may hold '/'
	if isRemote(dir) {
		err := objstore.List(dir, func(i objstore.Info) bool {
			names = append(names, i.Key)
			return true
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("lance: read branches: %w", err)
		}
	} else {
		err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			rel, err := filepath.Rel(dir, p)
			names = append(names, filepath.ToSlash(rel))
			return err
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("lance: read branches: %w", err)
		}
	}
	for _, name := range names {
		if !strings.HasSuffix(name, ".json") {
			continue
		}
		data, err := readFile(joinPath(dir, filepath.FromSlash(name)))
		if err != nil {
			return fmt.Errorf("lance: read branch: %w", err)
		}
		var branch struct {
			ParentBranch  *string `json:"parentBranch"`
			ParentVersion *uint64 `json:"parentVersion"`
		}
		if err := json.Unmarshal(data, &branch); err != nil || branch.ParentVersion == nil {
			return corruptf("branch %s does not decode (%v)", name, err)
		}
		if branch.ParentBranch == nil || *branch.ParentBranch == "" || *branch.ParentBranch == "main" {
			versions[*branch.ParentVersion] = true
		}
	}
	return nil
}
