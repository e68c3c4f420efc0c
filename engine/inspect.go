package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/persisting/persisting/lance"
	"github.com/persisting/persisting/lance/objstore"
	"github.com/persisting/persisting/wal"
)

// Inspect and Verify look at a bucket from outside: they read its Lance
// dataset and WAL without opening the bucket, take no lock and change
// nothing, so they are safe beside a running writer (what they see is the
// newest version committed when they list it).

// InspectOptions tune Inspect.
type InspectOptions struct {
	// VersionsLimit lists only the newest that many versions (0: all).
	VersionsLimit int `json:"versions_limit"`
}

// Inspection describes a bucket (or a bare Lance dataset).
type Inspection struct {
	Path    string             `json:"path"`
	Dataset *DatasetInspection `json:"dataset"` // nil: nothing committed yet
	WAL     *WALInspection     `json:"wal"`     // nil: the bucket has no WAL directory
}

// DatasetInspection is the newest version of the dataset and the versions kept.
type DatasetInspection struct {
	Path               string               `json:"path"`
	Version            uint64               `json:"version"`
	Timestamp          time.Time            `json:"timestamp"`
	DataStorageVersion string               `json:"data_storage_version"`
	Rows               int64                `json:"rows"`
	Bytes              int64                `json:"bytes"`      // data and deletion files of this version
	DiskBytes          int64                `json:"disk_bytes"` // the whole dataset directory, every version kept
	Fragments          []FragmentInspection `json:"fragments"`
	Schema             []FieldInspection    `json:"schema"`
	Indices            []Index              `json:"indices"`
	Versions           []Version            `json:"versions"` // oldest first (the newest VersionsLimit)
	Retained           RetainedRange        `json:"retained"`
	Tags               map[string]uint64    `json:"tags"`
	Config             map[string]string    `json:"config"`
	WALWatermark       uint64               `json:"wal_watermark"` // last WAL index contained in the dataset
}

// RetainedRange is the span of versions still on disk (time travel reaches them).
type RetainedRange struct {
	Count  int       `json:"count"`
	Oldest uint64    `json:"oldest"`
	Newest uint64    `json:"newest"`
	Since  time.Time `json:"since"` // timestamp of the oldest
	Until  time.Time `json:"until"` // timestamp of the newest
}

// FragmentInspection is one fragment of the newest version.
type FragmentInspection struct {
	ID          uint64           `json:"id"`
	Rows        int64            `json:"rows"` // live rows
	DeletedRows int64            `json:"deleted_rows"`
	Bytes       int64            `json:"bytes"`
	Files       []FileInspection `json:"files"`
}

// FileInspection is one file of a fragment.
type FileInspection struct {
	Path    string `json:"path"` // relative to the dataset root
	Bytes   int64  `json:"bytes"`
	Version string `json:"version,omitempty"` // data file version ("2.0", ...)
}

// FieldInspection is one top-level field of the schema.
type FieldInspection struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Nullable bool   `json:"nullable"`
}

// WALInspection describes the write-ahead log.
type WALInspection struct {
	Path       string            `json:"path"`
	Segments   []wal.SegmentInfo `json:"segments"`
	FirstIndex uint64            `json:"first_index"`
	LastIndex  uint64            `json:"last_index"`
	Entries    uint64            `json:"entries"`
	Bytes      int64             `json:"bytes"`
	// Watermark is the last entry the dataset contains; Pending the intact
	// entries after it, which the next open replays.
	Watermark uint64       `json:"watermark"`
	Pending   uint64       `json:"pending"`
	Damage    []wal.Damage `json:"damage"`
}

// bucketPaths is where a bucket (or a bare dataset) keeps its parts.
type bucketPaths struct {
	dataset string
	wal     string // "" for a bare dataset
}

// locate tells a bucket directory (data.lance, wal) from a bare Lance
// dataset (_versions), refusing a path that does not exist.
func locate(path string) (bucketPaths, error) {
	if objstore.IsRemote(path) {
		return locateRemote(path)
	}
	st, err := os.Stat(path)
	if err != nil {
		return bucketPaths{}, fmt.Errorf("%w: %s: %w", ErrInvalidArgument, path, err)
	}
	if !st.IsDir() {
		return bucketPaths{}, fmt.Errorf("%w: %s is not a directory", ErrInvalidArgument, path)
	}
	if isDir(filepath.Join(path, "_versions")) {
		return bucketPaths{dataset: path}, nil
	}
	o := Options{Path: path}
	return bucketPaths{dataset: o.datasetPath(), wal: o.walPath()}, nil
}

// locateRemote is locate for an s3:// path. An object store has no
// directories: objects under path/_versions/ make it a bare dataset, else
// it is a bucket, whose WAL (if any) is on its writer's local disk.
func locateRemote(path string) (bucketPaths, error) {
	if err := objstore.CheckPath(path); err != nil {
		return bucketPaths{}, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	bare := false
	err := objstore.ListFirst(objstore.JoinURL(path, "_versions"), func(objstore.Info) bool { bare = true; return false })
	if err != nil {
		return bucketPaths{}, fmt.Errorf("engine: %s: %w", path, err)
	}
	if bare {
		return bucketPaths{dataset: path}, nil
	}
	return bucketPaths{dataset: Options{Path: path}.datasetPath()}, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// Inspect describes the bucket stored at path (or the Lance dataset at
// path): a local directory or an s3:// URL, read with the settings
// objstore.Configure gave its prefix (else the AWS_* environment).
func Inspect(path string, opts InspectOptions) (Inspection, error) {
	if opts.VersionsLimit < 0 {
		return Inspection{}, fmt.Errorf("%w: versions_limit must not be negative", ErrInvalidArgument)
	}
	where, err := locate(path)
	if err != nil {
		return Inspection{}, err
	}
	out := Inspection{Path: path}
	ds, err := lance.Open(where.dataset)
	switch {
	case errors.Is(err, lance.ErrNotFound):
	case err != nil:
		return Inspection{}, fmt.Errorf("engine: inspect %s: %w", where.dataset, err)
	default:
		if out.Dataset, err = inspectDataset(ds, opts); err != nil {
			return Inspection{}, fmt.Errorf("engine: inspect %s: %w", where.dataset, err)
		}
	}
	if where.wal != "" && isDir(where.wal) {
		var mark uint64
		if out.Dataset != nil {
			mark = out.Dataset.WALWatermark
		}
		if out.WAL, err = inspectWAL(where.wal, mark); err != nil {
			return Inspection{}, err
		}
	}
	return out, nil
}

func inspectDataset(ds *lance.Dataset, opts InspectOptions) (*DatasetInspection, error) {
	root := ds.Path()
	d := &DatasetInspection{
		Path: root, Version: ds.Version(), Timestamp: ds.Timestamp(), DataStorageVersion: ds.DataStorageVersion(),
		Rows: ds.CountRows(), Config: ds.Config(), Fragments: []FragmentInspection{},
	}
	mark, err := watermarkOf(ds)
	if err != nil {
		return nil, err
	}
	d.WALWatermark = mark
	for i, f := range ds.Fragments() {
		fi := FragmentInspection{ID: f.ID, Rows: ds.FragmentRows(i), Files: []FileInspection{}}
		if f.DeletionFile != nil {
			fi.DeletedRows = int64(f.DeletionFile.NumDeletedRows)
		}
		for _, df := range f.Files {
			rel := filepath.ToSlash(filepath.Join("data", df.Path))
			fi.Files = append(fi.Files, FileInspection{Path: rel, Bytes: fileSize(root, rel, df.FileSizeBytes),
				Version: fmt.Sprintf("%d.%d", df.MajorVersion, df.MinorVersion)})
		}
		if rel := lance.DeletionFilePath(&f); rel != "" {
			fi.Files = append(fi.Files, FileInspection{Path: rel, Bytes: fileSize(root, rel, 0)})
		}
		for _, file := range fi.Files {
			fi.Bytes += file.Bytes
		}
		d.Bytes += fi.Bytes
		d.Fragments = append(d.Fragments, fi)
	}
	for _, f := range ds.Schema().Fields() {
		d.Schema = append(d.Schema, FieldInspection{Name: f.Name, Type: f.Type.String(), Nullable: f.Nullable})
	}
	infos, err := ds.Indices()
	if err != nil {
		return nil, err
	}
	d.Indices = []Index{}
	for _, info := range infos {
		d.Indices = append(d.Indices, indexOf(info))
	}
	infosV, err := ds.Versions()
	if err != nil {
		return nil, err
	}
	if n := len(infosV); n > 0 {
		d.Retained = RetainedRange{Count: n, Oldest: infosV[0].Version, Newest: infosV[n-1].Version,
			Since: infosV[0].Timestamp, Until: infosV[n-1].Timestamp}
	}
	if opts.VersionsLimit > 0 && len(infosV) > opts.VersionsLimit {
		infosV = infosV[len(infosV)-opts.VersionsLimit:]
	}
	d.Versions = make([]Version, len(infosV))
	for i, v := range infosV {
		d.Versions[i] = Version{Version: v.Version, Timestamp: v.Timestamp}
	}
	if d.Tags, err = lance.Tags(root); err != nil {
		return nil, err
	}
	d.DiskBytes = dirBytes(root)
	return d, nil
}

// fileSize is the size of root/rel (a file or an object), or recorded when
// it cannot be read (Verify reports such files; Inspect only describes).
func fileSize(root, rel string, recorded uint64) int64 {
	st, err := objstore.Stat(objstore.JoinURL(root, rel))
	if err != nil {
		return int64(recorded)
	}
	return st.Size
}

// dirBytes is the size of every file (or object) under root.
func dirBytes(root string) int64 {
	var n int64
	if objstore.IsRemote(root) {
		_ = objstore.List(root, func(info objstore.Info) bool { n += info.Size; return true })
		return n
	}
	_ = filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a file removed meanwhile (cleanup): not counted
		}
		if !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

func inspectWAL(dir string, mark uint64) (*WALInspection, error) {
	s, err := wal.Survey(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWAL, err)
	}
	w := &WALInspection{Path: dir, Segments: s.Segments, FirstIndex: s.FirstIndex, LastIndex: s.LastIndex,
		Bytes: s.Bytes, Watermark: mark, Damage: s.Damage}
	w.Entries = s.Staged // left in the staging file by a killed process
	for _, seg := range s.Segments {
		w.Entries += seg.Entries
	}
	if s.LastIndex > mark {
		w.Pending = s.LastIndex - max(mark, s.FirstIndex-1)
	}
	return w, nil
}
