package lance

import "path"

// Accessors for tools that describe a version file by file (inspect).

// Fragments returns the fragments of this version, in row order. The slice
// is a copy; the fragments' fields must not be changed.
func (d *Dataset) Fragments() []Fragment {
	return append([]Fragment(nil), d.manifest.Fragments...)
}

// FragmentRows is the number of live rows of fragment i (deleted rows not
// counted), as reads see them.
func (d *Dataset) FragmentRows(i int) int64 {
	if i == 0 {
		return d.rowEnds[0]
	}
	return d.rowEnds[i] - d.rowEnds[i-1]
}

// DeletionFilePath is the path of f's deletion file relative to the dataset
// root, slash-separated; "" when f has none (or its name cannot be formed).
func DeletionFilePath(f *Fragment) string {
	if f.DeletionFile == nil {
		return ""
	}
	name, err := deletionFileName(f.ID, f.DeletionFile)
	if err != nil {
		return ""
	}
	return path.Join(deletionsDir, name)
}
