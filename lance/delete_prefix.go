package lance

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/RoaringBitmap/roaring/v2"
)

// DeletePrefixOptions tune DeletePrefix.
type DeletePrefixOptions struct {
	// Base is the version whose first rows are deleted (nil: the latest).
	Base *Dataset
	// Config is upserted into the new version's config (a caller records
	// there what the deleted rows meant to it, e.g. an offset).
	Config map[string]string
	// Properties are stored in the transaction of the new version.
	Properties map[string]string
	// BeforeCommit, when set, runs after the deletion file is durable and
	// before the version is committed (crash tests stop there).
	BeforeCommit func()
}

// DeletePrefixResult says what DeletePrefix removed.
type DeletePrefixResult struct {
	Rows             int64 // live rows deleted
	FragmentsRemoved int   // fragments dropped whole
	DeletionFiles    int   // deletion files written (0 or 1)
}

// DeletePrefix deletes the first rows live rows of the dataset, in row
// order, as one new version whose transaction is a Delete: fragments holding
// only such rows are dropped whole (deleted_fragment_ids), and the fragment
// the cut falls inside gets a deletion file (a Roaring bitmap) marking its
// rows before the cut, as pylance's delete writes them. Rows after the cut
// keep their order. Appends committed concurrently are kept (the delete is
// rebuilt on top of them); a concurrent change to an affected fragment fails
// with ErrCommitConflict. Datasets with indices are refused with
// ErrUnsupported. Zero rows commit nothing and return the base version.
func DeletePrefix(path string, rows int64, opts DeletePrefixOptions) (*Dataset, DeletePrefixResult, error) {
	var res DeletePrefixResult
	cur := opts.Base
	if cur == nil {
		var err error
		if cur, err = Open(path); err != nil {
			return nil, res, err
		}
	} else if filepath.Clean(cur.root) != filepath.Clean(path) {
		return nil, res, fmt.Errorf("lance: DeletePrefixOptions.Base is a version of %s, not of %s", cur.root, path)
	}
	if rows < 0 || rows > cur.CountRows() {
		return nil, res, fmt.Errorf("lance: delete prefix of %d rows: the dataset has %d", rows, cur.CountRows())
	}
	if rows == 0 {
		return cur, res, nil
	}
	base := cur.manifest
	if err := base.checkWritable(); err != nil {
		return nil, res, err
	}
	if len(base.IndexSection) > 0 {
		return nil, res, fmt.Errorf("%w: deleting rows of a dataset with indices", ErrUnsupported)
	}
	var dropped []uint64
	var touched []Fragment // as read: the commit checks they are unchanged
	var updated []Fragment
	var written string
	for i := range base.Fragments {
		start := int64(0)
		if i > 0 {
			start = cur.rowEnds[i-1]
		}
		if start >= rows {
			break
		}
		f := base.Fragments[i]
		touched = append(touched, f)
		if cur.rowEnds[i] <= rows {
			dropped = append(dropped, f.ID)
			res.FragmentsRemoved++
			continue
		}
		nf, name, err := cur.deleteFragmentHead(i, rows-start)
		if err != nil {
			return nil, res, err
		}
		written = name
		updated = append(updated, nf)
		res.DeletionFiles++
	}
	res.Rows = rows
	req := commitRequest{
		root:       path,
		base:       base,
		scheme:     cur.scheme,
		op:         OpDelete,
		deleted:    dropped,
		updated:    updated,
		predicate:  "first " + strconv.FormatInt(rows, 10) + " rows",
		config:     opts.Config,
		properties: opts.Properties,
		check: func(m *Manifest) error {
			if len(m.IndexSection) > 0 {
				return fmt.Errorf("%w: an index was created concurrently", ErrCommitConflict)
			}
			return samePrefix(m, touched)
		},
		baseChecked: true,
	}
	if written != "" {
		if err := syncDir(filepath.Join(path, deletionsDir)); err != nil {
			os.Remove(filepath.Join(path, deletionsDir, written))
			return nil, DeletePrefixResult{}, fmt.Errorf("lance: sync deletions directory: %w", err)
		}
	}
	if opts.BeforeCommit != nil {
		opts.BeforeCommit()
	}
	m, s, err := commit(req)
	if err != nil {
		if written != "" {
			os.Remove(filepath.Join(path, deletionsDir, written))
		}
		return nil, DeletePrefixResult{}, err
	}
	ds, err := newDataset(path, m, s)
	return ds, res, err
}

// deleteFragmentHead writes a deletion file that adds the first k live rows
// of fragment i to its deleted rows and returns the fragment carrying it,
// and the file's name under _deletions/.
func (d *Dataset) deleteFragmentHead(i int, k int64) (Fragment, string, error) {
	f := cloneFragment(d.manifest.Fragments[i])
	dv, err := d.deletions(i)
	if err != nil {
		return f, "", err
	}
	// Physical rows [0, end) hold the first k live rows.
	end := liveToPhysical(dv, k-1) + 1
	deleted := make([]uint32, 0, int(end)+len(dv))
	for p := uint32(0); int64(p) < end; p++ {
		deleted = append(deleted, p)
	}
	for _, p := range dv {
		if int64(p) >= end {
			deleted = append(deleted, p)
		}
	}
	// Array and bitmap containers only (no run containers): the form
	// pylance itself writes, which every Lance reader decodes.
	rb := roaring.New()
	rb.AddMany(deleted)
	var buf bytes.Buffer
	if _, err := rb.WriteTo(&buf); err != nil {
		return f, "", fmt.Errorf("lance: encode deletion vector: %w", err)
	}
	var id [8]byte
	uuid := newUUIDBytes()
	copy(id[:], uuid[:8])
	del := &DeletionFile{
		FileType:       DeletionBitmap,
		ReadVersion:    d.manifest.Version,
		ID:             binary.LittleEndian.Uint64(id[:]) >> 1, // Lance's ids fit an i64
		NumDeletedRows: uint64(len(deleted)),
	}
	name, err := deletionFileName(f.ID, del)
	if err != nil {
		return f, "", err
	}
	dir := filepath.Join(d.root, deletionsDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return f, "", fmt.Errorf("lance: %w", err)
	}
	if err := writeFileSync(filepath.Join(dir, name), buf.Bytes()); err != nil {
		os.Remove(filepath.Join(dir, name))
		return f, "", fmt.Errorf("lance: write deletion file: %w", err)
	}
	f.DeletionFile = del
	return f, name, nil
}

// samePrefix fails with ErrCommitConflict unless m begins with exactly the
// fragments a delete read (it keeps their order, so the rows it deletes are
// still the first ones).
func samePrefix(m *Manifest, read []Fragment) error {
	if len(m.Fragments) < len(read) {
		return fmt.Errorf("%w: fragments were removed concurrently", ErrCommitConflict)
	}
	for i := range read {
		if !bytes.Equal(encodeFragment(&m.Fragments[i]), encodeFragment(&read[i])) {
			return fmt.Errorf("%w: fragment %d was changed or removed concurrently", ErrCommitConflict, read[i].ID)
		}
	}
	return nil
}

// applyDelete returns base's fragments without the dropped ones and with the
// updated ones in place of those with their ids.
func applyDelete(base *Manifest, dropped []uint64, updated []Fragment) ([]Fragment, error) {
	gone := make(map[uint64]bool, len(dropped))
	for _, id := range dropped {
		gone[id] = true
	}
	repl := make(map[uint64]Fragment, len(updated))
	for _, f := range updated {
		repl[f.ID] = f
	}
	out := make([]Fragment, 0, len(base.Fragments))
	found := 0
	for _, f := range base.Fragments {
		if gone[f.ID] {
			found++
			continue
		}
		if nf, ok := repl[f.ID]; ok {
			found++
			f = nf
		}
		out = append(out, f)
	}
	if found != len(gone)+len(repl) {
		return nil, errors.Join(ErrCommitConflict, errors.New("lance: fragments being deleted were removed concurrently"))
	}
	return out, nil
}
