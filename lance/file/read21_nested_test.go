package file

import (
	"fmt"
	"math/rand"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/internal/arrowtest"
)

// TestReadPylance21Nested: fixed_size_list (mini-block and full-zip, with
// null vectors and null items), list, large_list, struct, struct<list> and
// list<struct>, list<list> with nulls at every level, written by pylance as 2.1 and 2.2
// (one page, and many pages), equal pylance's own reading, full and in
// random ranges.
func TestReadPylance21Nested(t *testing.T) {
	for _, ver := range versions21 {
		for _, pages := range []struct {
			name  string
			rows  int
			bytes string
		}{{"one-page", 300, ""}, {"many-pages", 20000, "65536"}} {
			t.Run(ver+"/"+pages.name, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				p, out := filepath.Join(dir, "n.lance"), filepath.Join(dir, "n.arrow")
				args := []string{"testdata/nested_io.py", p, out, ver, fmt.Sprint(pages.rows)}
				if pages.bytes != "" {
					args = append(args, pages.bytes)
				}
				if b, err := exec.Command(pythonCmd(), args...).CombinedOutput(); err != nil {
					t.Fatalf("pylance: %v\n%s", err, b)
				}
				sch, want := arrowtest.ReadIPCColumns(t, out)
				r, err := Open(p)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				cols := make([]int, sch.NumFields())
				next := 0
				for i, f := range sch.Fields() {
					cols[i] = next
					next += leafCount(f.Type)
				}
				if next != r.NumColumns() {
					t.Fatalf("schema has %d leaves, file %d columns", next, r.NumColumns())
				}
				if pages.bytes != "" {
					checkMinPages(t, r, 2)
				}
				n := r.NumRows()
				rng := rand.New(rand.NewSource(n))
				ranges := [][2]int64{{0, n}, {0, 0}, {n - 1, 1}, {1, n - 2}}
				for i := 0; i < 10; i++ {
					off := rng.Int63n(n)
					ranges = append(ranges, [2]int64{off, rng.Int63n(n-off) + 1})
				}
				// short reads all over the file start and end in every part
				// of a mini-block chunk (found through the repetition index)
				for off := int64(0); off < n; off += 1 + n/150 {
					ranges = append(ranges, [2]int64{off, 1}, [2]int64{off, min(3, n-off)})
				}
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				track := newTrackingAllocator(mem)
				for _, rg := range ranges {
					rec, err := r.Read(sch, cols, rg[0], rg[1], track)
					if err != nil {
						t.Fatalf("Read(%d, %d): %v", rg[0], rg[1], err)
					}
					for i := range want {
						exp := array.NewSlice(want[i], rg[0], rg[0]+rg[1])
						if !array.Equal(exp, rec.Column(i)) {
							t.Fatalf("Read(%d, %d) column %s:\n got %v\nwant %v", rg[0], rg[1], sch.Field(i).Name, trunc(rec.Column(i)), trunc(exp))
						}
						exp.Release()
						if err := track.owns(rec.Column(i).Data()); err != nil {
							t.Fatal(err)
						}
					}
					rec.Release()
				}
				mem.AssertSize(t, 0)
				var descs []string
				for c := range r.cols {
					descs = append(descs, r.pageDescriptions(c)...)
				}
				for _, e := range []string{"FixedSizeList", "FullZipLayout", "rep="} {
					found := false
					for _, d := range descs {
						found = found || strings.Contains(d, e)
					}
					if !found {
						t.Errorf("no page uses %s: %v", e, descs[:min(len(descs), 20)])
					}
				}
			})
		}
	}
}
