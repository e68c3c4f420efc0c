package lance

import (
	"io/fs"
)

// FileSet names files of a dataset's data, deletion and transaction
// directories (paths relative to each directory).
type FileSet struct{ names refs }

// Len is the number of files in the set.
func (s FileSet) Len() int {
	n := 0
	for _, names := range s.names {
		n += len(names)
	}
	return n
}

// ListFiles lists the files of the data, deletion and transaction
// directories of the dataset at path (none when they do not exist). A
// single writer that lists them before it writes anything knows that
// those no version references were left by a writer that is gone (a
// crash between writing a file and committing it): CleanupOptions.Abandoned
// removes them at once instead of after Lance's 7 days, which a process
// that crashes often would fill the disk with.
func ListFiles(path string) (FileSet, error) {
	set := FileSet{newRefs()}
	for dir := range set.names {
		_, _, err := removeFiles(joinPath(path, dir), func(name string, _ fs.FileInfo) bool {
			set.names[dir][name] = true
			return false
		}, nil)
		if err != nil {
			return FileSet{}, err
		}
	}
	return set, nil
}
