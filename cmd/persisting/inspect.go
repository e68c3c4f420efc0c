package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/persisting/persisting/engine"
)

func runInspect(e *env, path string) (int, error) {
	opts := engine.InspectOptions{VersionsLimit: int(e.s.versions)}
	if opts.VersionsLimit == 0 && !e.s.json {
		// A bucket flushed every second keeps ~600k versions a week: the
		// text lists the newest few (--json, a document for programs, all).
		opts.VersionsLimit = versionsShown
	}
	reports, err := perBucket(e, path, func(b string) (engine.Inspection, error) { return engine.Inspect(b, opts) })
	if err != nil {
		return 0, err
	}
	if e.s.json {
		text, err := pythonJSON(reports.forJSON())
		if err != nil {
			return 0, err
		}
		if _, err := fmt.Fprintln(e.stdout, text); err != nil {
			return 0, err
		}
	} else {
		for i, rep := range reports.ok {
			if i > 0 {
				fmt.Fprintln(e.stdout)
			}
			if err := printInspection(e.stdout, rep, e.s.all); err != nil {
				return 0, err
			}
		}
	}
	if reports.failed {
		return exitFailed, nil
	}
	return exitOK, nil
}

const (
	fragmentsShown = 10 // more: the first and last 5
	versionsShown  = 10 // the newest, unless --versions says otherwise
	inspectIndent  = "              "
)

func printInspection(out io.Writer, rep engine.Inspection, allFragments bool) error {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	head := func(label string, j int) string {
		if j == 0 {
			return fmt.Sprintf("  %-12s", label)
		}
		return inspectIndent
	}
	w("bucket %s\n", rep.Path)
	ds := rep.Dataset
	if ds == nil {
		w("  dataset     none yet (nothing committed)\n")
	} else {
		w("  dataset     %s (Lance file format %s)\n", ds.Path, ds.DataStorageVersion)
		w("  version     %d, committed %s\n", ds.Version, jsonTime(ds.Timestamp))
		r := ds.Retained
		w("  retained    %s, %d..%d (since %s)\n", plural(r.Count, "version"), r.Oldest, r.Newest, jsonTime(r.Since))
		w("  rows        %d in %s, %s (%s on disk with every version kept)\n", ds.Rows, plural(len(ds.Fragments), "fragment"),
			humanBytes(ds.Bytes), humanBytes(ds.DiskBytes))
		for j, f := range ds.Schema {
			null := ""
			if !f.Nullable {
				null = " not null"
			}
			w("%s%s: %s%s\n", head("schema", j), f.Name, f.Type, null)
		}
		if len(ds.Indices) == 0 {
			w("  indices     none\n")
		}
		for j, ix := range ds.Indices {
			w("%s%s: %s on %s (built at version %d, covers %s)\n", head("indices", j), ix.Name, ix.Type,
				strings.Join(ix.Columns, ", "), ix.DatasetVersion, plural(ix.Fragments, "fragment"))
		}
		frags := ds.Fragments
		shown := frags
		cut := !allFragments && len(frags) > fragmentsShown
		if cut {
			shown = append(append([]engine.FragmentInspection{}, frags[:5]...), frags[len(frags)-5:]...)
		}
		for j, f := range shown {
			if cut && j == 5 {
				w("%s... %d more (--all-fragments lists every fragment)\n", inspectIndent, len(frags)-fragmentsShown)
			}
			deleted := ""
			if f.DeletedRows != 0 {
				deleted = fmt.Sprintf(", %d deleted", f.DeletedRows)
			}
			var files []string
			for _, x := range f.Files {
				files = append(files, x.Path)
			}
			w("%s#%d: %d rows%s, %s  %s\n", head("fragments", j), f.ID, f.Rows, deleted, humanBytes(f.Bytes), strings.Join(files, " "))
		}
		if len(ds.Tags) > 0 {
			names := make([]string, 0, len(ds.Tags))
			for k := range ds.Tags {
				names = append(names, k)
			}
			sort.Strings(names)
			for i, k := range names {
				names[i] = fmt.Sprintf("%s=%d", k, ds.Tags[k])
			}
			w("  tags        %s\n", strings.Join(names, ", "))
		}
	}
	if wl := rep.WAL; wl == nil {
		w("  wal         none\n")
	} else {
		count := int64(wl.LastIndex) - int64(wl.FirstIndex) + 1
		w("  wal         %s: %s, %s, entries %d..%d (%d)\n", wl.Path, plural(len(wl.Segments), "segment"), humanBytes(wl.Bytes),
			wl.FirstIndex, wl.LastIndex, max(count, 0))
		w("  watermark   %d (last entry in the dataset); %s pending (replayed at the next open)\n", wl.Watermark, plural(wl.Pending, "entry"))
		for _, seg := range wl.Segments {
			w("%s%s: %s from %d, %s\n", inspectIndent, seg.File, plural(seg.Entries, "entry"), seg.FirstIndex, humanBytes(seg.Bytes))
		}
		for _, d := range wl.Damage {
			w("  damage      %s at offset %d: %s\n", d.File, d.Offset, d.Reason)
		}
	}
	if ds != nil {
		var vs []string
		for _, v := range ds.Versions {
			vs = append(vs, fmt.Sprintf("%d (%s)", v.Version, jsonTime(v.Timestamp)))
		}
		w("  versions    %s\n", strings.Join(vs, ", "))
		if older := ds.Retained.Count - len(ds.Versions); older > 0 {
			w("%s... %d older (--versions N lists the newest N)\n", inspectIndent, older)
		}
	}
	_, err := io.WriteString(out, printable(b.String()))
	return err
}
