package lance

import (
	"cmp"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/file"
	"github.com/persisting/persisting/lance/objstore"
	"github.com/persisting/persisting/lance/schema"
)

// Problem is one piece of damage Verify found.
type Problem struct {
	File    string `json:"file"`   // relative to the dataset root, slash-separated
	Offset  int64  `json:"offset"` // byte offset of the damage in File; -1 when it is not at a position
	Message string `json:"message"`
}

// VerifyResult is what Verify checked and found.
type VerifyResult struct {
	Versions      int       `json:"versions"`
	DataFiles     int       `json:"data_files"`
	Pages         int       `json:"pages"`
	Bytes         int64     `json:"bytes"` // of the data files read
	DeletionFiles int       `json:"deletion_files"`
	IndexFiles    int       `json:"index_files"`
	Problems      []Problem `json:"problems"`
}

// Verify checks the dataset at root without changing anything: every
// manifest in _versions decodes and its transaction file exists; every data
// file any of those versions uses has the size the manifest records, opens,
// holds the fragment's rows, and every page of every column the schema maps
// to it decodes (each file is read once, page by page); every deletion file
// decodes; every index file exists with its recorded size. Lance data files
// carry no checksums: a flipped bit inside a plain value decodes to another
// value and cannot be found, damage to a file's structure (footer, metadata,
// page bounds, encodings, compressed pages, lengths) can.
//
// The root is a local directory or an s3:// URL (its files are read
// through the object store). The error is only for a root that is not a
// dataset (ErrNotFound) or that cannot be listed; everything else is a
// Problem.
func Verify(root string, alloc memory.Allocator) (VerifyResult, error) {
	l, err := listVersions(root)
	if err != nil {
		return VerifyResult{}, err
	}
	sort.Slice(l.versions, func(i, j int) bool { return l.versions[i] < l.versions[j] })
	v := verifier{root: root, alloc: alloc, checked: map[string]bool{}, records: map[string]bool{}, res: VerifyResult{Problems: []Problem{}}}
	late := storedLate(l)
	for _, version := range l.versions {
		v.cur, v.after = version, late[version]
		v.version(l.scheme, version)
	}
	return v.res, nil
}

// storedLate maps each version whose manifest an object store stored after
// a later version's to that later version. Every version is committed on
// top of the one before it, so such a manifest is a PUT the server held
// back and applied after cleanup had removed the version (its name was
// free again): a stale old version whose files cleanup removed. It is
// below the latest version, so readers of the dataset do not see it.
func storedLate(l *versionListing) map[uint64]uint64 {
	late := map[uint64]uint64{}
	if l.stored == nil {
		return late
	}
	desc := append([]uint64(nil), l.versions...)
	sort.Slice(desc, func(i, j int) bool { return desc[i] > desc[j] })
	var first time.Time // the earliest store time of the versions above
	var firstV uint64
	for _, ver := range desc {
		t := l.stored[ver]
		if firstV != 0 && t.After(first) {
			late[ver] = firstV
			continue
		}
		if firstV == 0 || t.Before(first) {
			first, firstV = t, ver
		}
	}
	return late
}

type verifier struct {
	root    string
	alloc   memory.Allocator
	cur     uint64          // the version being verified
	after   uint64          // a later version whose manifest was stored before cur's (storedLate), or 0
	checked map[string]bool // files already verified (by path relative to root)
	records map[string]bool // data file records already verified (path and manifest record)
	res     VerifyResult
}

func (v *verifier) problem(file string, offset int64, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if v.after != 0 {
		msg += fmt.Sprintf(" (version %d's manifest was stored after version %d's: a PUT the server held back "+
			"and applied after cleanup had removed the version, or a copy made out of order; the versions "+
			"after it are not affected, and cleanup_old_versions removes it again)", v.cur, v.after)
	}
	v.res.Problems = append(v.res.Problems, Problem{File: file, Offset: offset, Message: msg})
}

func (v *verifier) version(scheme NamingScheme, version uint64) {
	name := path.Join(versionsDir, ManifestName(scheme, version))
	m, err := readManifestFile(joinPath(v.root, filepath.FromSlash(name)))
	if errors.Is(err, ErrVersionNotFound) {
		return // removed by a concurrent cleanup
	}
	v.res.Versions++
	if err != nil {
		v.problem(name, -1, "manifest of version %d: %v", version, err)
		return
	}
	if m.TransactionFile != "" {
		tx := path.Join(transactionsDir, m.TransactionFile)
		if data, err := readFile(joinPath(v.root, filepath.FromSlash(tx))); err != nil {
			v.problem(tx, -1, "transaction file of version %d: %v", version, err)
		} else if _, err := decodeTransaction(data); err != nil || len(data) == 0 {
			// conflict checks and pylance's get_transactions read it
			v.problem(tx, -1, "transaction file of version %d does not decode: %v", version, cmp.Or(err, errors.New("empty")))
		}
	}
	for i := 1; i < len(m.Fragments); i++ {
		// Lance wants them ascending (and so unique); pylance's validate
		// calls the dataset corrupt otherwise, though reads are right.
		if prev, id := m.Fragments[i-1].ID, m.Fragments[i].ID; id <= prev {
			v.problem(name, -1, "version %d: fragment id %d after %d: Lance wants fragment ids ascending (pylance's validate() calls this dataset corrupt; reads are right)", version, id, prev)
			break
		}
	}
	d, err := newDataset(v.root, m, scheme)
	if err != nil {
		v.problem(name, -1, "version %d: %v", version, err)
		return
	}
	for i := range m.Fragments {
		v.fragment(d, name, i)
	}
	v.indices(d, name)
}

func (v *verifier) fragment(d *Dataset, manifest string, i int) {
	f := &d.manifest.Fragments[i]
	srcs, err := d.fragmentColumns(f)
	if err != nil {
		v.problem(manifest, -1, "fragment %d: %v", f.ID, err)
		return
	}
	for fi := range f.Files {
		rel := path.Join(dataDir, f.Files[fi].Path)
		// A file is checked again under a version that records it otherwise
		// (damage to that manifest: its size, versions, unknown fields).
		record := rel + "\x00" + fmt.Sprintf("%+v", f.Files[fi])
		if v.records[record] {
			continue
		}
		v.records[record] = true
		first := !v.checked[rel]
		v.checked[rel] = true
		v.dataFile(d, manifest, f, fi, srcs, d.physRows[i], rel, first)
	}
	if f.DeletionFile != nil {
		name, err := deletionFileName(f.ID, f.DeletionFile)
		rel := path.Join(deletionsDir, name)
		if err != nil {
			v.problem(manifest, -1, "fragment %d: %v", f.ID, err)
		} else if !v.checked[rel] {
			v.checked[rel] = true
			v.res.DeletionFiles++
			if _, err := readDeletionFile(d.root, f, uint64(d.physRows[i])); err != nil {
				v.problem(rel, -1, "%v", err)
			}
		}
	}
}

// dataFile checks data file fi of fragment f, page by page, as manifest
// records it; first: the file was not counted yet.
func (v *verifier) dataFile(d *Dataset, manifest string, f *Fragment, fi int, srcs []columnSource, physRows int64, rel string, first bool) {
	df := &f.Files[fi]
	p, err := d.dataFilePath(df)
	if err != nil { // the manifest's record of the file is what is wrong
		v.problem(manifest, -1, "fragment %d, data file %s: %v", f.ID, df.Path, err)
		return
	}
	st, err := objstore.Stat(p) // a local file or an object
	if first {
		v.res.DataFiles++
		if err == nil {
			v.res.Bytes += st.Size
		}
	}
	if err != nil {
		v.problem(rel, -1, "fragment %d: %v", f.ID, err)
		return
	}
	if df.FileSizeBytes != 0 && uint64(st.Size) != df.FileSizeBytes {
		v.problem(rel, min(st.Size, int64(df.FileSizeBytes)), "the file has %d bytes, the manifest records %d", st.Size, df.FileSizeBytes)
		return // its pages would only repeat that
	}
	r, err := file.Open(p)
	if err != nil {
		v.problem(rel, metadataOffset(p, st.Size), "fragment %d: the file's footer or metadata does not decode: %v", f.ID, err)
		return
	}
	defer r.Close()
	if n := r.NumRows(); n != physRows {
		v.problem(rel, -1, "the file has %d rows, fragment %d %d", n, f.ID, physRows)
		return
	}
	for k, src := range srcs {
		for _, part := range src.parts { // a field read in parts: this file's, whole
			if part.file != fi {
				continue
			}
			if a, err := readPartFrom(r, part, 0, physRows, v.alloc); err != nil {
				v.problem(rel, -1, "fragment %d, field %q (file columns %v): %v", f.ID, part.fld.Name, part.cols, err)
			} else {
				a.Release()
			}
		}
		if src.file != fi {
			continue
		}
		if n := v.pages(r, rel, "", d.schema.Field(k), src.col); first {
			v.res.Pages += n
		}
	}
}

// pages reads every page of file column col (field fld) of r, reports the
// first that does not decode (what is a prefix of the message), and returns
// the column's number of pages.
func (v *verifier) pages(r *file.Reader, rel, what string, fld arrow.Field, col int) int {
	sch := arrow.NewSchema([]arrow.Field{fld}, nil)
	pages := r.Pages(col)
	for j, pg := range pages {
		if pg.Rows == 0 {
			continue
		}
		rec, err := r.Read(sch, []int{col}, pg.FirstRow, pg.Rows, v.alloc)
		if err != nil {
			v.problem(rel, int64(pg.Offset), "%scolumn %q (file column %d), page %d (rows %d..%d): %v",
				what, fld.Name, col, j, pg.FirstRow, pg.FirstRow+pg.Rows-1, err)
			break // later pages of a damaged column add nothing but noise
		}
		rec.Release()
	}
	return len(pages)
}

// metadataOffset points at the metadata of a data file that does not open
// (-1 when even its footer cannot be read).
func metadataOffset(p string, size int64) int64 {
	if size < file.FooterSize {
		return -1
	}
	fh, err := objstore.OpenRange(p)
	if err != nil {
		return -1
	}
	defer fh.Close()
	tail := make([]byte, file.FooterSize)
	if _, err := fh.ReadAt(tail, size-file.FooterSize); err != nil {
		return -1
	}
	return file.MetadataOffset(tail, size)
}

// indices checks that every file of every index of d exists with its size
// and, when it is a Lance file (a scalar index's pages), that its footer,
// schema and pages decode, as a lookup through the index reads them.
func (v *verifier) indices(d *Dataset, manifest string) {
	infos, err := d.Indices()
	if err != nil {
		v.problem(manifest, -1, "index section: %v", err)
		return
	}
	for _, ix := range infos {
		for _, f := range ix.Files {
			rel := path.Join(indicesDir, ix.UUID, f.Path)
			if v.checked[rel] {
				continue
			}
			v.checked[rel] = true
			v.res.IndexFiles++
			st, err := objstore.Stat(joinPath(v.root, filepath.FromSlash(rel)))
			switch {
			case err != nil:
				v.problem(rel, -1, "index %q: %v", ix.Name, err)
			case f.Size != 0 && uint64(st.Size) != f.Size:
				v.problem(rel, min(st.Size, int64(f.Size)), "index %q: the file has %d bytes, the manifest records %d", ix.Name, st.Size, f.Size)
			case strings.HasSuffix(f.Path, ".lance"):
				v.indexFile(joinPath(v.root, filepath.FromSlash(rel)), rel, ix.Name, st.Size)
			}
		}
	}
}

// indexFile checks that the Lance file of index name at p decodes: footer,
// schema, and every page of every top-level column (an index file's fields
// are flat: field k is file column k).
func (v *verifier) indexFile(p, rel, name string, size int64) {
	r, err := file.Open(p)
	if err != nil {
		v.problem(rel, metadataOffset(p, size), "index %q: the file's footer or metadata does not decode: %v", name, err)
		return
	}
	defer r.Close()
	fields, err := r.Schema()
	var sch *arrow.Schema
	if err == nil {
		sch, err = schema.ToArrow(fields)
	}
	if err != nil {
		v.problem(rel, metadataOffset(p, size), "index %q: the file's schema does not decode: %v", name, err)
		return
	}
	for k := 0; k < sch.NumFields() && k < r.NumColumns(); k++ {
		v.pages(r, rel, fmt.Sprintf("index %q: ", name), sch.Field(k), k)
	}
}
