package lance

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/RoaringBitmap/roaring/v2"
)

// DeleteRowsOptions tune DeleteRows and DeletePrefix.
type DeleteRowsOptions struct {
	// Base is the version whose rows are deleted (nil: the latest).
	Base *Dataset
	// Config is upserted into the new version's config (a caller records
	// there what the deleted rows meant to it, e.g. an offset). A concurrent
	// version that changed one of these keys is a conflict: the values were
	// computed from Base.
	Config map[string]string
	// Properties are stored in the transaction of the new version.
	Properties map[string]string
	// BeforeCommit, when set, runs after the deletion files are durable and
	// before the version is committed (crash tests stop there).
	BeforeCommit func()
}

// DeletePrefixOptions tune DeletePrefix.
type DeletePrefixOptions = DeleteRowsOptions

// DeleteRowsResult says what DeleteRows removed.
type DeleteRowsResult struct {
	Rows             int64 // live rows deleted
	FragmentsRemoved int   // fragments dropped whole
	DeletionFiles    int   // deletion files written
}

// DeletePrefixResult says what DeletePrefix removed.
type DeletePrefixResult = DeleteRowsResult

// DeletePrefix deletes the first rows live rows of the dataset, in row
// order: DeleteRows of the range [0, rows). Zero rows commit nothing and
// return the base version.
func DeletePrefix(path string, rows int64, opts DeleteRowsOptions) (*Dataset, DeleteRowsResult, error) {
	if rows < 0 {
		return nil, DeleteRowsResult{}, fmt.Errorf("lance: delete prefix of %d rows", rows)
	}
	if rows == 0 {
		return DeleteRows(path, nil, opts)
	}
	return DeleteRows(path, [][2]int64{{0, rows}}, opts)
}

// DeleteRows deletes the live rows in ranges (half-open [lo, hi) of live
// row numbers of the base version, ascending and disjoint) as one new
// version whose transaction is a Delete, as pylance's delete writes it:
// fragments holding only such rows are dropped whole
// (deleted_fragment_ids); every other fragment with a deleted row gets a
// new deletion file (a Roaring bitmap of its old and new deleted physical
// rows). No data file is rewritten: the cost is the deleted rows plus the
// touched fragments' earlier deletions. The remaining rows keep their
// order. Appends committed concurrently are kept (the delete is rebuilt on
// top of them); a concurrent change to a touched fragment or to a key of
// Config fails with ErrCommitConflict. Datasets with indices are refused
// with ErrUnsupported. No ranges commit nothing and return the base version.
func DeleteRows(path string, ranges [][2]int64, opts DeleteRowsOptions) (*Dataset, DeleteRowsResult, error) {
	var res DeleteRowsResult
	cur := opts.Base
	if cur == nil {
		var err error
		if cur, err = Open(path); err != nil {
			return nil, res, err
		}
	} else if cleanPath(cur.root) != cleanPath(path) {
		return nil, res, fmt.Errorf("lance: DeleteRowsOptions.Base is a version of %s, not of %s", cur.root, path)
	}
	total := cur.CountRows()
	prev := int64(0)
	for _, r := range ranges {
		if r[0] < prev || r[1] <= r[0] || r[1] > total {
			return nil, res, fmt.Errorf("lance: delete rows [%d, %d): not ascending, disjoint, non-empty ranges within the dataset's %d rows",
				r[0], r[1], total)
		}
		prev = r[1]
		res.Rows += r[1] - r[0]
	}
	if len(ranges) == 0 {
		return cur, DeleteRowsResult{}, nil
	}
	base := cur.manifest
	if err := base.checkWritable(); err != nil {
		return nil, DeleteRowsResult{}, err
	}
	if len(base.IndexSection) > 0 {
		return nil, DeleteRowsResult{}, fmt.Errorf("%w: deleting rows of a dataset with indices", ErrUnsupported)
	}
	var dropped []uint64
	var touched []Fragment // as read: the commit checks they are unchanged
	var updated []Fragment
	var written []string
	removeWritten := func() {
		for _, name := range written {
			removeFile(joinPath(path, deletionsDir, name))
		}
	}
	next := 0 // first range not yet wholly before the current fragment
	for i := range base.Fragments {
		if next == len(ranges) {
			break
		}
		start, end := int64(0), cur.rowEnds[i]
		if i > 0 {
			start = cur.rowEnds[i-1]
		}
		// The parts of ranges inside [start, end), as fragment-local live rows.
		var local [][2]int64
		var n int64
		for k := next; k < len(ranges) && ranges[k][0] < end; k++ {
			lo, hi := max(ranges[k][0], start), min(ranges[k][1], end)
			if lo < hi {
				local = append(local, [2]int64{lo - start, hi - start})
				n += hi - lo
			}
		}
		for next < len(ranges) && ranges[next][1] <= end {
			next++
		}
		if n == 0 {
			continue
		}
		f := base.Fragments[i]
		touched = append(touched, f)
		if n == end-start {
			dropped = append(dropped, f.ID)
			res.FragmentsRemoved++
			continue
		}
		nf, name, err := cur.deleteFragmentRows(i, local)
		if err != nil {
			removeWritten()
			return nil, DeleteRowsResult{}, err
		}
		written = append(written, name)
		updated = append(updated, nf)
		res.DeletionFiles++
	}
	baseConfig := base.Config
	req := commitRequest{
		root:       path,
		base:       base,
		scheme:     cur.scheme,
		op:         OpDelete,
		deleted:    dropped,
		updated:    updated,
		predicate:  describeRanges(ranges),
		config:     opts.Config,
		properties: opts.Properties,
		check: func(m *Manifest) error {
			if len(m.IndexSection) > 0 {
				return fmt.Errorf("%w: an index was created concurrently", ErrCommitConflict)
			}
			for k := range opts.Config {
				if m.Config[k] != baseConfig[k] {
					return fmt.Errorf("%w: config %q was changed concurrently", ErrCommitConflict, k)
				}
			}
			return sameFragments(m, touched)
		},
		baseChecked: true,
	}
	if len(written) > 0 {
		if err := syncDir(joinPath(path, deletionsDir)); err != nil {
			removeWritten()
			return nil, DeleteRowsResult{}, fmt.Errorf("lance: sync deletions directory: %w", err)
		}
	}
	if opts.BeforeCommit != nil {
		opts.BeforeCommit()
	}
	m, s, err := commit(req)
	if err != nil {
		if mayRemoveWritten(err) {
			removeWritten()
		}
		return nil, DeleteRowsResult{}, err
	}
	ds, err := newDataset(path, m, s)
	return ds, res, err
}

// describeRanges is the transaction's predicate: what was deleted, in rows
// of the base version (pylance stores the SQL filter of a delete there).
func describeRanges(ranges [][2]int64) string {
	if len(ranges) == 1 && ranges[0][0] == 0 {
		return "first " + strconv.FormatInt(ranges[0][1], 10) + " rows"
	}
	n := int64(0)
	for _, r := range ranges {
		n += r[1] - r[0]
	}
	return strconv.FormatInt(n, 10) + " rows in " + strconv.Itoa(len(ranges)) + " ranges"
}

// deleteFragmentRows writes a deletion file that adds the fragment-local
// live rows in local (ascending ranges) to fragment i's deleted rows and
// returns the fragment carrying it, and the file's name under _deletions/.
func (d *Dataset) deleteFragmentRows(i int, local [][2]int64) (Fragment, string, error) {
	f := cloneFragment(d.manifest.Fragments[i])
	dv, err := d.deletions(i)
	if err != nil {
		return f, "", err
	}
	rb := roaring.New()
	rb.AddMany(dv)
	for _, r := range local {
		// A live row's physical offset grows with it, so a range's rows are
		// found from its first one by skipping the deleted physical rows.
		p := liveToPhysical(dv, r[0])
		for k := r[0]; k < r[1]; k++ {
			for rb.Contains(uint32(p)) {
				p++
			}
			rb.Add(uint32(p))
			p++
		}
	}
	// Array and bitmap containers only (no run containers): the form
	// pylance itself writes, which every Lance reader decodes.
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
		NumDeletedRows: rb.GetCardinality(),
	}
	name, err := deletionFileName(f.ID, del)
	if err != nil {
		return f, "", err
	}
	dir := joinPath(d.root, deletionsDir)
	if err := makeDir(dir); err != nil {
		return f, "", fmt.Errorf("lance: %w", err)
	}
	if err := writeFileSync(joinPath(dir, name), buf.Bytes()); err != nil {
		removeFile(joinPath(dir, name))
		return f, "", fmt.Errorf("lance: write deletion file: %w", err)
	}
	f.DeletionFile = del
	return f, name, nil
}

// sameFragments fails with ErrCommitConflict unless every fragment a delete
// read is still in m, unchanged and in the same order (the physical rows it
// deletes are still the ones it chose).
func sameFragments(m *Manifest, read []Fragment) error {
	k := 0
	for i := range m.Fragments {
		if k == len(read) {
			break
		}
		if m.Fragments[i].ID != read[k].ID {
			continue
		}
		if !bytes.Equal(encodeFragment(&m.Fragments[i]), encodeFragment(&read[k])) {
			return fmt.Errorf("%w: fragment %d was changed concurrently", ErrCommitConflict, read[k].ID)
		}
		k++
	}
	if k < len(read) {
		return fmt.Errorf("%w: fragment %d was removed concurrently", ErrCommitConflict, read[k].ID)
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
