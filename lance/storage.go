package lance

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/persisting/persisting/lance/objstore"
)

// A dataset root is a local directory or an s3:// URL. Paths inside it are
// built with joinPath, which keeps an s3:// URL one (filepath.Join would
// fold it to "s3:/bucket/key", and messages would name that). Local datasets keep the fsync-ordered commit of
// doc.go; on an object store every PUT is durable once answered, so the
// syncs are no-ops, and a version is published by a conditional PUT of its
// manifest (If-None-Match: *) instead of a link.

// joinPath is filepath.Join for a local path, and keeps an s3:// URL's
// "//" (see objstore.JoinURL).
func joinPath(root string, elem ...string) string { return objstore.JoinURL(root, elem...) }

// cleanPath is one spelling of a dataset root, local or s3://.
func cleanPath(root string) string { return objstore.CleanPath(root) }

// isRemote says whether p lives in an object store.
func isRemote(p string) bool { return objstore.IsRemote(p) }

// readFile reads a whole file or object; a missing one wraps fs.ErrNotExist.
func readFile(p string) ([]byte, error) {
	if isRemote(p) {
		return objstore.ReadFile(p)
	}
	return os.ReadFile(p)
}

// removeFile removes a file or object. A missing object is no error on an
// object store (S3 cannot tell); a missing local file wraps fs.ErrNotExist.
func removeFile(p string) error {
	if isRemote(p) {
		return objstore.Remove(p)
	}
	return os.Remove(p)
}

// statFile reports whether p exists (an error wrapping fs.ErrNotExist if
// not).
func statFile(p string) error {
	if isRemote(p) {
		_, err := objstore.Stat(p)
		return err
	}
	_, err := os.Stat(p)
	return err
}

// putManifest publishes the manifest bytes of version v on an object
// store: a PUT that succeeds only if no object has the name (S3 answers
// 412 otherwise: errCommitConflict, and the caller rebases and retries),
// the way Lance's ConditionalPutCommitHandler commits.
func putManifest(root string, s NamingScheme, v uint64, data []byte) error {
	final := joinPath(root, versionsDir, ManifestName(s, v))
	err := objstore.PutIfAbsent(final, data)
	if errors.Is(err, objstore.ErrExist) {
		return errCommitConflict
	}
	if err != nil {
		return fmt.Errorf("lance: publish manifest: %w", err)
	}
	return nil
}

// listVersionsRemote lists _versions/ on an object store. S3 lists keys in
// lexical order, so with V2 names the first manifest is the newest: with
// latestOnly the listing stops there (one LIST request, whatever the
// number of versions), as Lance does on lexically ordered stores. V1 names
// do not sort by version and need the whole listing.
func listVersionsRemote(root string, latestOnly bool) (*versionListing, error) {
	l := &versionListing{}
	var mixed, v1 bool
	list := objstore.List
	if latestOnly {
		list = objstore.ListFirst // small pages: the first manifest is the answer
	}
	err := list(joinPath(root, versionsDir), func(info objstore.Info) bool {
		v, s, ok := ParseManifestName(info.Key)
		if !ok {
			return true
		}
		if latestOnly {
			if s == NamingV1 {
				v1 = true // V1 names do not sort by version: list them all
				return false
			}
			l.scheme, l.versions, l.latest, l.stamp = s, []uint64{v}, v, remoteStamp(info)
			return false
		}
		if l.scheme != 0 && l.scheme != s {
			mixed = true
			return false
		}
		l.scheme = s
		l.versions = append(l.versions, v)
		if v >= l.latest {
			l.latest, l.stamp = v, remoteStamp(info)
		}
		if l.stored == nil {
			l.stored = map[uint64]time.Time{}
		}
		l.stored[v] = info.ModTime
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("lance: list versions: %w", err)
	}
	if v1 {
		return listVersionsRemote(root, false)
	}
	if mixed {
		return nil, fmt.Errorf("lance: %s: multiple manifest naming schemes (V1 and V2) in %s", root, versionsDir)
	}
	if len(l.versions) == 0 {
		return nil, fmt.Errorf("%w: %s (no manifests)", ErrNotFound, root)
	}
	return l, nil
}

// remoteStamp names one object as a listing describes it: a manifest PUT
// again under its name has another modification time (and mostly size).
func remoteStamp(info objstore.Info) string {
	return fmt.Sprintf("size %d mtime %d", info.Size, info.ModTime.UnixNano())
}

// listFiles calls fn for every file under dir (recursively, names relative
// to dir) on an object store.
func listFiles(dir string, fn func(name string, info fs.FileInfo) bool) error {
	return objstore.List(dir, func(i objstore.Info) bool {
		return fn(filepath.FromSlash(i.Key), objectInfo{i})
	})
}

// objectInfo presents an object as a file.
type objectInfo struct{ i objstore.Info }

func (o objectInfo) Name() string       { return filepath.Base(o.i.Key) }
func (o objectInfo) Size() int64        { return o.i.Size }
func (o objectInfo) Mode() fs.FileMode  { return 0o644 }
func (o objectInfo) ModTime() time.Time { return o.i.ModTime }
func (o objectInfo) IsDir() bool        { return false }
func (o objectInfo) Sys() any           { return nil }

// readDir lists the files directly in dir (os.ReadDir on local paths).
func readDir(dir string) ([]fs.DirEntry, error) {
	if !isRemote(dir) {
		return os.ReadDir(dir)
	}
	var out []fs.DirEntry
	err := objstore.List(dir, func(i objstore.Info) bool {
		if !strings.Contains(i.Key, "/") {
			out = append(out, fs.FileInfoToDirEntry(objectInfo{i}))
		}
		return true
	})
	return out, err
}

// makeDir creates a local directory (object stores need none).
func makeDir(dir string) error {
	if isRemote(dir) {
		return nil
	}
	return os.MkdirAll(dir, 0o755)
}

// removeDir removes dir and everything under it, best effort.
func removeDir(dir string) {
	if !isRemote(dir) {
		os.RemoveAll(dir)
		return
	}
	var names []string
	_ = objstore.List(dir, func(i objstore.Info) bool {
		names = append(names, i.Key)
		return true
	})
	for _, n := range names {
		_ = objstore.Remove(joinPath(dir, n))
	}
}
