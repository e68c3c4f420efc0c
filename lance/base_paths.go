package lance

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
)

// Lance's base paths (manifest field base_paths, feature flag 4): a data
// file whose base_id (field 7 of DataFile, kept in Extra) is set lives
// under that base path, not under the dataset's own directory. pylance 14
// writes such files for write_dataset(initial_bases=..., target_bases=...):
// at <base>/data/<file> for a base that is a dataset root, else at
// <base>/<file>. This package reads them where the base is an absolute
// local path (or file:// URL) beside a local dataset, or an s3:// URL beside
// an s3:// dataset; any other base (a relative path, which meant the
// writer's working directory) is refused with an error naming it
// (basePathError), never looked for in the wrong place. Appends and
// compaction write to the dataset's own directory, as pylance does without
// target_bases.

const fileBaseIDField = 7

// basePath is one lance.table.BasePath message.
type basePath struct {
	id          uint32
	name, path  string
	datasetRoot bool
}

// baseIDOf returns the base_id among a DataFile's unknown fields.
func baseIDOf(extra []byte) (uint32, bool) {
	var id uint32
	found := false
	_ = walkFields(extra, func(v pbValue) error {
		if v.num == fileBaseIDField {
			if x, err := v.wantUint32(); err == nil {
				id, found = x, true
			}
		}
		return nil
	})
	return id, found
}

// findBasePath returns base path id as the manifest records it.
func findBasePath(m *Manifest, id uint32) (basePath, bool) {
	for _, raw := range m.BasePaths {
		var bp basePath
		if walkFields(raw, func(v pbValue) error {
			switch v.num {
			case 1:
				bp.id, _ = v.wantUint32()
			case 2:
				bp.name = string(v.b)
			case 3:
				bp.datasetRoot = v.u != 0
			case 4:
				bp.path = string(v.b)
			}
			return nil
		}) == nil && bp.id == id {
			return bp, true
		}
	}
	return basePath{}, false
}

func (bp basePath) String() string {
	return fmt.Sprintf("base path %d (%s, %s)", bp.id, strconv.Quote(bp.name), bp.path)
}

// baseFilePath is where file (a data file's path, relative to its base's
// data directory) lives when extra places it under another base path: ok is
// false when it does not. A base this package cannot reach is an error
// naming what, the base and why.
func (d *Dataset) baseFilePath(what, file string, extra []byte) (p string, ok bool, err error) {
	id, ok := baseIDOf(extra)
	if !ok {
		return "", false, nil
	}
	bp, found := findBasePath(d.manifest, id)
	if !found {
		return "", true, corruptf("%s is stored under base path %d, which the manifest does not list", what, id)
	}
	loc := bp.path
	if u, perr := url.Parse(loc); perr == nil && u.Scheme == "file" {
		loc = u.Path
	}
	switch {
	case isRemote(d.root) && isRemote(loc):
	case !isRemote(d.root) && !isRemote(loc) && filepath.IsAbs(loc) && !strings.Contains(loc, "://"):
	default:
		return "", true, basePathError(what, bp)
	}
	if bp.datasetRoot {
		loc = joinPath(loc, dataDir)
	}
	return joinPath(loc, filepath.FromSlash(file)), true, nil
}

func basePathError(what string, bp basePath) error {
	return fmt.Errorf("%w: %s is stored under %s, outside the dataset's own directory "+
		"(a multi-base dataset: pylance's write_dataset initial_bases/target_bases); "+
		"only a base that is an absolute local path beside a local dataset, or an s3:// URL beside an s3:// dataset, is read here",
		ErrUnsupported, what, bp)
}
