package engine

import (
	"strconv"
	"time"

	"github.com/persisting/persisting/lance"
	"github.com/persisting/persisting/lance/objstore"
)

// Data retention drops the oldest records once they are older than
// RetentionAge or beyond RetentionRows / RetentionBytes, at each periodic
// maintenance pass (so up to CleanupInterval late). Records go from the
// head only, whole fragments where the cut allows and through a Lance
// deletion file for the fragment the cut falls in (lance.DeletePrefix);
// compaction later rewrites that fragment without them. Offsets never
// shift: the new version records its first offset, and forgets the cleared
// offsets below it (retained_offsets.go).
// Buffered records are never dropped, and a dataset with indices is left
// alone (its index would need the dropped rows remapped).

// retentionCut returns how many of ds's first rows are past a limit.
func (o BackgroundOptions) retentionCut(ds *lance.Dataset, now time.Time) int64 {
	frags := ds.FragmentStats()
	total := ds.CountRows()
	var cut int64
	if o.RetentionRows > 0 && total > o.RetentionRows {
		cut = total - o.RetentionRows
	}
	if o.RetentionBytes > 0 {
		cut = max(cut, bytesCut(frags, o.RetentionBytes))
	}
	if o.RetentionAge > 0 {
		cut = max(cut, ageCut(frags, now.Add(-o.RetentionAge)))
	}
	return min(cut, total)
}

// bytesCut: the rows to drop from the head so that the live rows' share of
// the data files' bytes is at most budget (a fragment's bytes are spread
// evenly over its rows).
func bytesCut(frags []lance.FragmentStat, budget int64) int64 {
	live := func(f lance.FragmentStat) float64 {
		if f.PhysicalRows == 0 {
			return 0
		}
		return float64(f.Bytes) * float64(f.LiveRows) / float64(f.PhysicalRows)
	}
	var size float64
	for _, f := range frags {
		size += live(f)
	}
	var cut int64
	for _, f := range frags {
		excess := size - float64(budget)
		if excess <= 0 {
			break
		}
		b := live(f)
		if b <= excess {
			cut += f.LiveRows
			size -= b
			continue
		}
		perRow := b / float64(f.LiveRows)
		rows := int64(excess/perRow) + 1
		cut += min(rows, f.LiveRows)
		break
	}
	return cut
}

// ageCut: the rows of the leading fragments whose data files were all
// written before cutoff. A fragment's age is its data files' write time:
// compaction rewrites reset it, so a record may outlive RetentionAge by the
// time it spent before its last rewrite, never the other way round. The
// write time is the wall clock's (the file system's or the object store's):
// a wall clock stepped forward drops records early.
func ageCut(frags []lance.FragmentStat, cutoff time.Time) int64 {
	var cut int64
	for _, f := range frags {
		for _, p := range f.DataFiles {
			info, err := objstore.Stat(p) // a file, or an object on s3://
			if err != nil || !info.ModTime.Before(cutoff) {
				return cut
			}
		}
		cut += f.LiveRows
	}
	return cut
}

// applyRetention drops the records past the limits as one new version.
func (b *Bucket) applyRetention(now time.Time) error {
	ds := b.rewritable()
	if ds == nil {
		return nil
	}
	rows := b.opts.Background.retentionCut(ds, now)
	if rows == 0 {
		return nil
	}
	config, err := retainedFrom(offsetsOf(ds), rows)
	if err != nil {
		return err
	}
	var commit flushGate // see maintenance_policy.go
	defer commit.release(b)
	nds, _, err := lance.DeletePrefix(b.opts.datasetPath(), rows, lance.DeletePrefixOptions{
		Base:       ds,
		Config:     config,
		Properties: map[string]string{"persisting.operation": "retention"},
		BeforeCommit: func() {
			crashAt(crashBeforeRetentionCommit)
			commit.hold(b)
		},
	})
	if err != nil {
		return err
	}
	crashAt(crashAfterRetentionCommit)
	commit.install(b, nds)
	b.metrics.dropped(rows)
	return nil
}

// retainedFrom is the config of the version that drops the first rows live
// rows of a version with offsets m: the offset of its first remaining row
// (cleared offsets among the dropped rows are skipped with them) and the
// cleared offsets from there on.
func retainedFrom(m offsetMap, rows int64) (map[string]string, error) {
	first := m.offsetOfRow(rows)
	cleared := m.cleared.clone()
	cleared.removeBelow(first)
	enc, err := encodeOffsets(cleared)
	if err != nil {
		return nil, err
	}
	return map[string]string{firstOffsetKey: strconv.FormatInt(first, 10), clearedOffsetKey: enc}, nil
}
