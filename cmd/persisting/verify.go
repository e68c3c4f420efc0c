package main

import (
	"fmt"
	"strings"

	"github.com/persisting/persisting/engine"
)

func runVerify(e *env, path string) (int, error) {
	reports, err := perBucket(e, path, func(b string) (engine.VerifyReport, error) { return engine.Verify(b, nil) })
	if err != nil {
		return 0, err
	}
	status := exitOK
	if reports.failed {
		status = exitFailed
	}
	for _, rep := range reports.ok {
		if !rep.OK {
			status = exitProblems
		}
	}
	if e.s.json {
		text, err := pythonJSON(reports.forJSON())
		if err != nil {
			return 0, err
		}
		_, err = fmt.Fprintln(e.stdout, text)
		return status, err
	}
	var b strings.Builder
	for _, rep := range reports.ok {
		verdict := "ok"
		if !rep.OK {
			verdict = plural(len(rep.Problems), "problem")
		}
		fmt.Fprintf(&b, "%s: %s\n", rep.Path, verdict)
		for _, p := range rep.Problems {
			where := "(whole file)"
			if p.Offset >= 0 {
				where = fmt.Sprintf("offset %d", p.Offset)
			}
			fmt.Fprintf(&b, "  %s %s: %s\n", p.File, where, p.Message)
		}
		if e.s.quiet {
			continue
		}
		var parts []string
		if ds := rep.Dataset; ds != nil {
			parts = append(parts, fmt.Sprintf("%s, %s (%s, %s), %s, %s", plural(ds.Versions, "version"),
				plural(ds.DataFiles, "data file"), plural(ds.Pages, "page"), humanBytes(ds.Bytes),
				plural(ds.DeletionFiles, "deletion file"), plural(ds.IndexFiles, "index file")))
		}
		if wl := rep.WAL; wl != nil {
			parts = append(parts, fmt.Sprintf("WAL %s, %s checked (%s)", plural(wl.Segments, "segment"),
				plural(wl.Entries, "entry"), humanBytes(wl.Bytes)))
		}
		if len(parts) == 0 {
			b.WriteString("  checked nothing: the bucket is empty\n")
		} else {
			b.WriteString("  checked " + strings.Join(parts, "; ") + "\n")
		}
	}
	_, err = fmt.Fprint(e.stdout, printable(b.String()))
	return status, err
}
