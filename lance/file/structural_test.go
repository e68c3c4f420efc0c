package file

import (
	"fmt"
	"path/filepath"
	"testing"
)

// TestReadPylance21Files: files pylance writes as 2.1 and 2.2 are read exactly.
func TestReadPylance21Files(t *testing.T) {
	for _, ver := range []string{"2.1", "2.2"} {
		for _, tc := range testCases() {
			t.Run(ver+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				defer releaseAll(tc.recs)
				dir := t.TempDir()
				writeIPC(t, filepath.Join(dir, "in.arrow"), tc.sch, tc.recs)
				p := filepath.Join(dir, "py.lance")
				runPylance(t, "writever", filepath.Join(dir, "in.arrow"), p, ver)
				want := concatColumns(t, tc.sch, tc.recs)
				r := checkGoReadVersion(t, p, tc.sch, want, uint32(ver[2]-'0'))
				fmt.Println(ver, tc.name, r.layoutsUsed())
			})
		}
	}
}

func (r *Reader) layoutsUsed() map[string]bool {
	m := map[string]bool{}
	for _, c := range r.cols {
		for _, p := range c.pages {
			if p.layout != nil {
				m[p.layout.describe()] = true
			}
		}
	}
	return m
}
