package lance

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// Tags returns the dataset's tags (_refs/tags/<name>.json, as pylance's
// ds.tags.create writes them) by name, each with the version it names. A tag
// file that does not decode is ErrCorrupt: callers such as cleanup must not
// guess which version it protects.
func Tags(path string) (map[string]uint64, error) {
	out := map[string]uint64{}
	dir := joinPath(path, filepath.FromSlash(tagsDir))
	entries, err := readDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return out, nil
		}
		return nil, fmt.Errorf("lance: read tags: %w", err)
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		data, err := readFile(joinPath(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("lance: read tag: %w", err)
		}
		var tag struct {
			Version *uint64 `json:"version"`
		}
		if err := json.Unmarshal(data, &tag); err != nil || tag.Version == nil {
			return nil, corruptf("tag %s does not decode (%v)", e.Name(), err)
		}
		out[name] = *tag.Version
	}
	return out, nil
}

// OpenTag opens the version a tag names (time travel by name).
func OpenTag(path, tag string) (*Dataset, error) {
	tags, err := Tags(path)
	if err != nil {
		return nil, err
	}
	v, ok := tags[tag]
	if !ok {
		return nil, fmt.Errorf("%w: no tag %q in %s", ErrVersionNotFound, tag, path)
	}
	return OpenVersion(path, v)
}
