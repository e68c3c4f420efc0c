package lance

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/file"
	"github.com/persisting/persisting/lance/schema"
)

// CompactOptions tune Compact. Zero values mean the defaults, which are
// pylance's.
type CompactOptions struct {
	// TargetRowsPerFragment: fragments with fewer live rows are merged with
	// adjacent small ones, and no output fragment has more rows. Default
	// 1024*1024.
	TargetRowsPerFragment int64
	// KeepDeletions disables rewriting a fragment only because of its
	// deleted rows (pylance's materialize_deletions=False).
	KeepDeletions bool
	// MaterializeDeletionsThreshold: a fragment whose deleted fraction of
	// physical rows exceeds it is rewritten without the deleted rows, even
	// if it is large. Default 0.1.
	MaterializeDeletionsThreshold float64
	// Properties are stored in the transaction of the new version.
	Properties map[string]string
	// BeforeCommit, when set, runs after the new data files are durable
	// and before the version is committed (crash tests stop there).
	BeforeCommit func()

	// AfterBatch, when set, runs after each batch of rows went to the
	// output files (tests measure memory or crash there: a file half
	// written).
	AfterBatch func()
}

// compactReadRows and compactReadBytes bound one read while copying a
// fragment: rows are read in batches of at most this many rows and about
// this many bytes (the batch size follows the rows' measured size), and
// each batch goes straight to the output file's stream writer, which keeps
// about a page per column. Compaction's memory is then bounded by these and
// the page size, not by the fragment size. 1 MiB reads copy as fast as 4 MiB
// ones and cut what a background compaction holds beside a flush by a
// third (14 -> 10 MiB for bench.py 7's rows).
const (
	compactReadRows  = 64 << 10
	compactReadBytes = 1 << 20
)

// compactPageBytes is the page size of compacted files. A column's pending
// page is what a stream writer holds of it (in 2.1+ files, with the read
// batches it points into), so compaction's memory is about columns x this
// plus a batch; 1 MiB pages still make range reads cheap and scans as fast.
const compactPageBytes = 1 << 20

// compactFirstReadRows is the first batch of a fragment, before a row's
// size is known.
const compactFirstReadRows = 1024

// Compact rewrites runs of adjacent small fragments (fewer live rows than
// TargetRowsPerFragment), and fragments with many deleted rows, into new
// fragments without deleted rows, as one new version whose transaction is a
// Rewrite (groups of old and new fragments, as pylance's compact_files
// writes it). Rows keep their order. Older versions stay readable (their
// data files are left in place until CleanupOldVersions). A single small
// fragment between large ones and small fragments without deletions alone
// in their run are left as they are. When there is nothing to do, Compact
// commits nothing and returns the latest version.
//
// Concurrent appends are kept (the rewrite is rebuilt on top of them); a
// concurrent change to a fragment being rewritten (delete, update,
// compaction) or to the schema makes Compact fail with ErrCommitConflict
// after removing the files it wrote. Datasets with indices are refused with
// ErrUnsupported (their row addresses would need remapping).
func Compact(path string, opts CompactOptions) (*Dataset, error) {
	if opts.TargetRowsPerFragment <= 0 {
		opts.TargetRowsPerFragment = 1024 * 1024
	}
	if opts.MaterializeDeletionsThreshold <= 0 {
		opts.MaterializeDeletionsThreshold = 0.1
	}
	base, scheme, cur, err := loadForRewrite(path, "compacting a dataset with indices (row addresses in the indices would need remapping)")
	if err != nil {
		return nil, err
	}
	bins := cur.planCompaction(opts)
	if len(bins) == 0 {
		return cur, nil
	}
	var written []string
	cleanup := func() {
		for _, p := range written {
			removeFile(p)
		}
	}
	groups := make([]rewriteGroup, 0, len(bins))
	for _, bin := range bins {
		g := rewriteGroup{}
		for _, i := range bin {
			g.old = append(g.old, base.Fragments[i])
		}
		newFrags, paths, err := cur.rewriteFragments(bin, cur.binTarget(bin, opts.TargetRowsPerFragment), opts.AfterBatch)
		written = append(written, paths...)
		if err != nil {
			cleanup()
			return nil, err
		}
		if !rewriteGains(g.old, newFrags) {
			// Nothing merged and no deletion dropped (fragments whose
			// dictionaries do not fit one file): committing this would
			// only make the next compaction do the same again.
			for _, p := range paths {
				removeFile(p)
			}
			written = written[:len(written)-len(paths)]
			continue
		}
		g.new = newFrags
		groups = append(groups, g)
	}
	if len(groups) == 0 {
		return cur, nil
	}
	if len(written) > 0 {
		if err := syncDir(joinPath(path, dataDir)); err != nil {
			cleanup()
			return nil, fmt.Errorf("lance: sync data directory: %w", err)
		}
	}
	if opts.BeforeCommit != nil {
		opts.BeforeCommit()
	}
	req := commitRequest{
		root:       path,
		base:       base,
		scheme:     scheme,
		op:         OpRewrite,
		rewrite:    groups,
		properties: opts.Properties,
		check: func(m *Manifest) error {
			d, err := newDataset(path, m, 0)
			if err != nil {
				return err
			}
			if err := keepsFields(cur.fields, d.fields); err != nil {
				return fmt.Errorf("%w: %v", ErrCommitConflict, err)
			}
			if len(m.IndexSection) > 0 {
				return fmt.Errorf("%w: an index was created concurrently", ErrCommitConflict)
			}
			return unchangedFragments(m, groups)
		},
	}
	m, s, err := commit(req)
	if err != nil {
		if mayRemoveWritten(err) {
			cleanup()
		}
		return nil, err
	}
	return newDataset(path, m, s)
}

// planCompaction returns the bins to rewrite: runs of adjacent candidate
// fragments (indices into the fragment list). A fragment is a candidate if
// it has fewer live rows than the target or, unless KeepDeletions, a deleted
// fraction above the threshold. A run is rewritten if it has two fragments
// or more, or one with deleted rows.
func (d *Dataset) planCompaction(opts CompactOptions) [][]int {
	var bins [][]int
	var run []int
	flush := func() {
		if len(run) > 1 || len(run) == 1 && d.manifest.Fragments[run[0]].DeletionFile != nil && !opts.KeepDeletions {
			bins = append(bins, run)
		}
		run = nil
	}
	for i := range d.manifest.Fragments {
		live := d.rowEnds[i]
		if i > 0 {
			live -= d.rowEnds[i-1]
		}
		phys := d.physRows[i]
		deletedFrac := 0.0
		if phys > 0 {
			deletedFrac = float64(phys-live) / float64(phys)
		}
		small := live < opts.TargetRowsPerFragment
		holey := !opts.KeepDeletions && deletedFrac > opts.MaterializeDeletionsThreshold
		if small || holey {
			run = append(run, i)
		} else {
			flush()
		}
	}
	flush()
	return bins
}

// binTarget is the most rows a new fragment of bin (indices, adjacent) may
// hold: target, raised when the bin's live rows would otherwise need more new
// fragments than it has old ones (a fragment with many deleted rows that is
// still larger than target), since the new fragments take the old ones' ids
// (withIDs).
func (d *Dataset) binTarget(bin []int, target int64) int64 {
	first, last := bin[0], bin[len(bin)-1]
	live := d.rowEnds[last]
	if first > 0 {
		live -= d.rowEnds[first-1]
	}
	return max(target, (live+int64(len(bin))-1)/int64(len(bin)))
}

// rewriteFragments copies the live rows of the fragments (indices, adjacent)
// into new data files of at most target rows each, returning the new
// fragments (ids unassigned) and the paths written. Rows stream from the
// source files to the output in bounded batches (compactReadBytes).
func (d *Dataset) rewriteFragments(idx []int, target int64, afterBatch func()) ([]Fragment, []string, error) {
	version, err := d.writeVersion()
	if err != nil {
		return nil, nil, err
	}
	var out []Fragment
	var paths []string
	var sw *file.StreamWriter
	var name string
	defer func() {
		if sw != nil {
			sw.Abort() // only on error: a finished file is closed and sw nil
		}
	}()
	finish := func() error {
		if sw == nil {
			return nil
		}
		res, err := sw.Close()
		sw = nil
		if err != nil {
			return fmt.Errorf("lance: write compacted data file: %w", err)
		}
		if len(res.ColumnIndices) != len(res.Fields) {
			return fmt.Errorf("lance: data file reports %d column indices for %d fields", len(res.ColumnIndices), len(res.Fields))
		}
		out = append(out, Fragment{
			Files: []DataFile{{
				Path: name, Fields: res.Fields, ColumnIndices: res.ColumnIndices,
				MajorVersion: res.MajorVersion, MinorVersion: res.MinorVersion, FileSizeBytes: uint64(res.FileSize),
			}},
			PhysicalRows: uint64(res.NumRows),
		})
		return nil
	}
	alloc := memory.NewGoAllocator()
	batch := int64(compactFirstReadRows)
	start := func() error {
		name = newDataFileName()
		p := joinPath(d.root, dataDir, name)
		var err error
		if sw, err = file.CreateStream(p, d.fields, file.WriteOptions{Version: version, MaxPageBytes: compactPageBytes}); err != nil {
			return fmt.Errorf("lance: write compacted data file: %w", err)
		}
		paths = append(paths, p)
		return nil
	}
	for _, i := range idx {
		live := d.rowEnds[i]
		if i > 0 {
			live -= d.rowEnds[i-1]
		}
		for lo := int64(0); lo < live; {
			if sw == nil {
				if err := start(); err != nil {
					return nil, paths, err
				}
			}
			n := min(batch, live-lo, target-sw.Rows())
			recs, err := d.readFragmentParts(i, lo, n, alloc, false) // sources about to be superseded: not cached
			if err != nil {
				return nil, paths, err
			}
			for k, rec := range recs {
				if err == nil {
					err = sw.Write(rec)
				}
				if errors.Is(err, file.ErrDictionaryFull) && sw.Rows() > 0 {
					// Fragments with different dictionaries: the rows go on in
					// a new file with its own dictionary.
					if err = finish(); err == nil {
						if err = start(); err == nil {
							err = sw.Write(rec)
						}
					}
				}
				if k == 0 {
					batch = nextReadRows(rec)
				}
				rec.Release() // Go memory: what a pending page points to stays
			}
			if err != nil {
				return nil, paths, fmt.Errorf("lance: write compacted data file: %w", err)
			}
			lo += n
			if afterBatch != nil {
				afterBatch()
			}
			if sw.Rows() >= target {
				if err := finish(); err != nil {
					return nil, paths, err
				}
			}
		}
	}
	if err := finish(); err != nil {
		return nil, paths, err
	}
	return out, paths, nil
}

// rewriteGains reports whether rewriting old into new leaves fewer
// fragments or drops deleted rows.
func rewriteGains(old, new []Fragment) bool {
	if len(new) < len(old) {
		return true
	}
	for _, f := range old {
		if f.DeletionFile != nil {
			return true
		}
	}
	return false
}

// nextReadRows sizes the next batch from the last one: about
// compactReadBytes of rows like rec's, at most compactReadRows.
func nextReadRows(rec arrow.Record) int64 {
	rows := rec.NumRows()
	var size int64
	for _, c := range rec.Columns() {
		size += bufferBytes(c.Data())
	}
	if rows == 0 || size <= 0 {
		return compactFirstReadRows
	}
	return max(1, min(compactReadRows, compactReadBytes*rows/size))
}

// bufferBytes is the size of the buffers of an array and its children.
func bufferBytes(d arrow.ArrayData) int64 {
	var n int64
	for _, b := range d.Buffers() {
		if b != nil {
			n += int64(b.Len())
		}
	}
	for _, c := range d.Children() {
		n += bufferBytes(c)
	}
	return n
}

// unchangedFragments fails with ErrCommitConflict unless every fragment a
// rewrite replaces is still in m exactly as it was read.
func unchangedFragments(m *Manifest, groups []rewriteGroup) error {
	now := make(map[uint64][]byte, len(m.Fragments))
	for i := range m.Fragments {
		now[m.Fragments[i].ID] = encodeFragment(&m.Fragments[i])
	}
	for _, g := range groups {
		for i := range g.old {
			cur, ok := now[g.old[i].ID]
			if !ok || !bytes.Equal(cur, encodeFragment(&g.old[i])) {
				return fmt.Errorf("%w: fragment %d was changed or removed concurrently", ErrCommitConflict, g.old[i].ID)
			}
		}
	}
	return nil
}

// loadForRewrite loads the latest version for an operation that rewrites
// data files in place of existing ones (Compact, WidenColumns): the dataset
// must be one this writer can append to, and - since rewritten rows get new
// addresses that indices would need remapped - have no index; indexed
// explains the refusal.
func loadForRewrite(path, indexed string) (*Manifest, NamingScheme, *Dataset, error) {
	base, scheme, err := loadLatestManifest(path)
	if err != nil {
		return nil, 0, nil, err
	}
	cur, err := newDataset(path, base, scheme)
	if err != nil {
		return nil, 0, nil, err
	}
	if err := checkAppendable(cur); err != nil {
		return nil, 0, nil, err
	}
	if len(base.IndexSection) > 0 {
		return nil, 0, nil, fmt.Errorf("%w: %s", ErrUnsupported, indexed)
	}
	return base, scheme, cur, nil
}

// keepsFields checks that a concurrent version kept every field the
// compaction read (same id, parent, name and type); fields it added are
// fine: the rewritten fragments lack them as every fragment written before
// them does, and read them as nulls, and the commit keeps the newer schema.
// A queue whose schema grows at every flush could otherwise never compact.
func keepsFields(read, latest []schema.Field) error {
	byID := make(map[int32]schema.Field, len(latest))
	for _, f := range latest {
		byID[f.ID] = f
	}
	for _, w := range read {
		g, ok := byID[w.ID]
		if !ok || g.ParentID != w.ParentID || g.Name != w.Name || g.LogicalType != w.LogicalType {
			return fmt.Errorf("%w: field %q (id %d) changed concurrently", ErrSchemaMismatch, w.Name, w.ID)
		}
	}
	return nil
}
