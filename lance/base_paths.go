package lance

import (
	"fmt"
	"strconv"
)

// Lance's base paths (manifest field base_paths, feature flag 4): a data
// file or deletion file whose base_id (field 7 of DataFile and of
// DeletionFile, kept in Extra) is set lives under that base path, not
// under the dataset's own directory. pylance 14 writes such files for
// write_dataset(initial_bases=..., target_bases=...). This package reads
// only the dataset's own directory: a file under another base is refused
// with an error naming the base (basePathError), never looked for in the
// wrong place.

const fileBaseIDField = 7

// baseIDOf returns the base_id among a DataFile's or DeletionFile's
// unknown fields.
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

// describeBasePath names base path id as the manifest records it:
// `base path 1 ("name", /its/path)`.
func describeBasePath(m *Manifest, id uint32) string {
	for _, raw := range m.BasePaths {
		var bid uint32
		var name, path string
		if walkFields(raw, func(v pbValue) error {
			switch v.num {
			case 1:
				bid, _ = v.wantUint32()
			case 2:
				name = string(v.b)
			case 4:
				path = string(v.b)
			}
			return nil
		}) != nil || bid != id {
			continue
		}
		return fmt.Sprintf("base path %d (%s, %s)", id, strconv.Quote(name), path)
	}
	return fmt.Sprintf("base path %d (not in the manifest's base paths)", id)
}

// basePathError refuses what (a data or deletion file) when its unknown
// fields place it under another base path; nil otherwise.
func basePathError(m *Manifest, what string, extra []byte) error {
	id, ok := baseIDOf(extra)
	if !ok {
		return nil
	}
	return fmt.Errorf("%w: %s is stored under %s, outside the dataset's own directory "+
		"(a multi-base dataset: pylance's write_dataset initial_bases/target_bases); "+
		"files under other base paths are not read here", ErrUnsupported, what, describeBasePath(m, id))
}
