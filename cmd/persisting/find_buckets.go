package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/persisting/persisting/engine"
	"github.com/persisting/persisting/lance"
	"github.com/persisting/persisting/lance/objstore"
)

// A PATH names buckets: itself (a bucket directory or a bare Lance
// dataset), or the buckets below it (a queue directory or prefix), on
// local disk or in an object store.

const (
	datasetDir  = engine.DatasetDirName
	walDir      = engine.WALDirName
	versionsDir = "_versions"
	searchDepth = 3 // base/topic/bucket_N
)

// found is a bucket PATH names (or holds).
type found struct {
	path string
	bare bool // a Lance dataset outside a bucket
	wal  bool // the bucket has a WAL directory (local buckets only)
}

// findBuckets returns the buckets PATH names: itself, or those below it (a
// queue directory, up to searchDepth levels), in natural order.
func findBuckets(path string) ([]found, error) {
	if objstore.IsRemote(path) {
		return findRemoteBuckets(path)
	}
	local, _ := objstore.LocalPath(path)
	st, err := os.Stat(local)
	if errors.Is(err, os.ErrNotExist) {
		return nil, pathProblem("%s: no such file or directory", path)
	}
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, pathProblem("%s: not a directory", path)
	}
	if f, ok := localBucket(local); ok {
		f.path = path
		return []found{f}, nil
	}
	var out []found
	level := []string{local}
	for depth := 0; depth < searchDepth && len(out) == 0; depth++ {
		var below []string
		for _, dir := range level {
			entries, err := os.ReadDir(dir)
			if err != nil {
				return nil, err
			}
			for _, e := range entries {
				child := filepath.Join(dir, e.Name())
				if strings.HasPrefix(e.Name(), ".") || !isDir(child) {
					continue
				}
				if f, ok := localBucket(child); ok {
					out = append(out, f)
				} else {
					below = append(below, child)
				}
			}
		}
		level = below
	}
	if len(out) == 0 {
		return nil, pathProblem("%s: no bucket here (no %s/, %s/ or %s/, nor bucket directories below)", path, datasetDir, walDir, versionsDir)
	}
	sortNatural(out)
	return out, nil
}

func localBucket(dir string) (found, bool) {
	switch {
	case isDir(filepath.Join(dir, versionsDir)):
		return found{path: dir, bare: true}, true
	case isDir(filepath.Join(dir, datasetDir)) || isDir(filepath.Join(dir, walDir)):
		return found{path: dir, wal: isDir(filepath.Join(dir, walDir))}, true
	}
	return found{}, false
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// findRemoteBuckets lists the objects under an s3:// PATH and takes every
// directory holding a _versions/ manifest as a dataset: its parent is a
// bucket when it is data.lance, else it is a bare dataset.
func findRemoteBuckets(path string) ([]found, error) {
	root := strings.TrimSuffix(path, "/")
	byDepth := map[int][]found{}
	seen := map[string]bool{}
	err := objstore.List(root, func(info objstore.Info) bool {
		dir, name, ok := cutLast(info.Key, "/"+versionsDir+"/")
		if !ok {
			if rest, isTop := strings.CutPrefix(info.Key, versionsDir+"/"); isTop {
				dir, name, ok = "", rest, true
			}
		}
		if !ok || strings.Contains(name, "/") {
			return true
		}
		if _, _, manifest := lance.ParseManifestName(name); !manifest || seen[dir] {
			return true
		}
		seen[dir] = true
		f := found{bare: true}
		bucketDir := dir
		if dir == datasetDir || strings.HasSuffix(dir, "/"+datasetDir) {
			bucketDir = strings.TrimSuffix(strings.TrimSuffix(dir, datasetDir), "/")
			f.bare = false
		}
		if hidden(bucketDir) {
			return true
		}
		f.path = objstore.JoinURL(root, bucketDir)
		depth := 0
		if bucketDir != "" {
			depth = strings.Count(bucketDir, "/") + 1
		}
		byDepth[depth] = append(byDepth[depth], f)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for depth := 0; depth <= searchDepth; depth++ {
		if out := byDepth[depth]; len(out) > 0 {
			if depth == 0 {
				return out[:1], nil
			}
			sortNatural(out)
			return out, nil
		}
	}
	return nil, pathProblem("%s: no bucket here (no dataset's %s/ at or up to %d levels below it)", path, versionsDir, searchDepth)
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

func hidden(rel string) bool {
	for _, part := range strings.Split(rel, "/") {
		if strings.HasPrefix(part, ".") {
			return true
		}
	}
	return false
}

// oneBucket is PATH as the single bucket tail opens: a bucket's own
// data.lance/ is taken as the bucket; a bare dataset is refused.
func oneBucket(path string) (found, error) {
	buckets, err := findBuckets(path)
	if err != nil {
		return found{}, err
	}
	if len(buckets) != 1 {
		var names []string
		for i, b := range buckets {
			if i == 5 {
				names = append(names, "...")
				break
			}
			names = append(names, b.path)
		}
		return found{}, pathProblem("%s holds %d buckets (%s): name one", path, len(buckets), strings.Join(names, ", "))
	}
	b := buckets[0]
	if b.bare {
		trimmed := strings.TrimRight(b.path, "/")
		if filepath.Base(trimmed) == datasetDir || strings.HasSuffix(trimmed, "/"+datasetDir) {
			parent := strings.TrimSuffix(strings.TrimSuffix(trimmed, datasetDir), "/")
			if objstore.IsRemote(path) {
				return found{path: parent}, nil
			}
			return found{path: parent, wal: isDir(filepath.Join(parent, walDir))}, nil
		}
		return found{}, pathProblem("%s is a Lance dataset outside a bucket: this command needs a bucket "+
			"(a directory holding %s/); inspect and verify read bare datasets", path, datasetDir)
	}
	return b, nil
}

var digits = regexp.MustCompile(`\d+`)

// sortNatural orders bucket_2 before bucket_10.
func sortNatural(fs []found) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i].path, fs[j].path
		ai, bi := digits.FindAllStringIndex(a, -1), digits.FindAllStringIndex(b, -1)
		pa, pb := 0, 0
		for x := 0; x < len(ai) && x < len(bi); x++ {
			if a[pa:ai[x][0]] != b[pb:bi[x][0]] {
				return a[pa:ai[x][0]] < b[pb:bi[x][0]]
			}
			na, _ := strconv.ParseUint(a[ai[x][0]:ai[x][1]], 10, 64)
			nb, _ := strconv.ParseUint(b[bi[x][0]:bi[x][1]], 10, 64)
			if na != nb {
				return na < nb
			}
			pa, pb = ai[x][1], bi[x][1]
		}
		return a < b
	})
}
