package main

import (
	"fmt"
)

// bucketReports are the reports of every bucket a PATH names.
type bucketReports[R any] struct {
	single bool  // PATH is the one bucket (not a directory holding buckets)
	all    []any // each R, or {"path", "error"} for a bucket that could not be read
	ok     []R
	failed bool
}

// perBucket runs look on every bucket PATH names. A bucket it cannot read
// becomes {"path", "error"} (reported on stderr) and the others still get
// theirs; when PATH names one bucket its failure is the command's.
func perBucket[R any](e *env, path string, look func(string) (R, error)) (bucketReports[R], error) {
	var out bucketReports[R]
	buckets, err := findBuckets(path)
	if err != nil {
		return out, err
	}
	out.single = len(buckets) == 1 && buckets[0].path == path
	for _, b := range buckets {
		r, err := look(b.path)
		if err != nil {
			if out.single || isUsageFailure(err) {
				return out, err
			}
			fmt.Fprint(e.stderr, printable(fmt.Sprintf("persisting %s: %s: %v\n", e.command, b.path, err)))
			out.all = append(out.all, map[string]string{"path": b.path, "error": err.Error()})
			out.failed = true
			continue
		}
		out.all = append(out.all, r)
		out.ok = append(out.ok, r)
	}
	return out, nil
}

// forJSON is what --json prints: the report of the one bucket PATH names,
// or the list for a directory holding buckets.
func (r bucketReports[R]) forJSON() any {
	if r.single && len(r.all) == 1 {
		return r.all[0]
	}
	return r.all
}
