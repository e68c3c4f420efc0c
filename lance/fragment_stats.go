package lance

import "path/filepath"

// FragmentStat describes one fragment of a version, for policies that
// choose fragments by size or age (compaction tiers, data retention).
type FragmentStat struct {
	ID           uint64
	LiveRows     int64    // rows not deleted
	PhysicalRows int64    // rows including deleted ones
	Bytes        int64    // size of its data files as the manifest records it
	DataFiles    []string // paths of its data files
}

// FragmentStats describes the fragments of this version, in row order.
func (d *Dataset) FragmentStats() []FragmentStat {
	out := make([]FragmentStat, len(d.manifest.Fragments))
	for i := range d.manifest.Fragments {
		f := &d.manifest.Fragments[i]
		live := d.rowEnds[i]
		if i > 0 {
			live -= d.rowEnds[i-1]
		}
		st := FragmentStat{ID: f.ID, LiveRows: live, PhysicalRows: d.physRows[i]}
		for j := range f.Files {
			st.Bytes += int64(f.Files[j].FileSizeBytes)
			p, err := d.dataFilePath(&f.Files[j]) // under another base path too
			if err != nil {                       // unreadable: where it is not, which a Stat says
				p = joinPath(d.root, dataDir, filepath.FromSlash(f.Files[j].Path))
			}
			st.DataFiles = append(st.DataFiles, p)
		}
		out[i] = st
	}
	return out
}

// ConfigValue returns one value of the manifest's config map (no copy of
// the map, unlike Config).
func (d *Dataset) ConfigValue(key string) (string, bool) {
	v, ok := d.manifest.Config[key]
	return v, ok
}

// HasIndices says whether the version has secondary indices.
func (d *Dataset) HasIndices() bool { return len(d.manifest.IndexSection) > 0 }
