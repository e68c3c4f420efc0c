//go:build linux

package lance

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// readBytes is this process's count of bytes read through read-like system
// calls (/proc/self/io rchar): page-cache hits count too, so it measures what
// a read asks for, not what the disk happened to serve.
func readBytes(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/io")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "rchar: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("/proc/self/io has no rchar line")
	return 0
}

// TestRangeReadCostIsFlat: reading 100 rows at a deep offset asks for the
// same number of bytes whether the dataset holds 10 or 200 fragments (or
// 2k or 40k rows): a range read touches only the fragments and pages that
// overlap it.
func TestRangeReadCostIsFlat(t *testing.T) {
	cost := map[int]int64{}
	for _, fragments := range []int{10, 200} {
		sizes := make([]int64, fragments)
		for i := range sizes {
			sizes[i] = 200
		}
		ds := writeFragments(t, filepath.Join(t.TempDir(), fmt.Sprint(fragments)), sizes)
		offset := int64(fragments*200) - 1000 // deep, across two fragments
		var perRead int64
		for round := 0; round < 3; round++ { // the smallest of three: other goroutines may read too
			before := readBytes(t)
			recs, err := ds.Read(offset, 100, memory.DefaultAllocator)
			if err != nil {
				t.Fatal(err)
			}
			n := readBytes(t) - before
			checkRows(t, recs, offset, 100)
			releaseAll(recs)
			if round == 0 || n < perRead {
				perRead = n
			}
		}
		cost[fragments] = perRead
	}
	t.Logf("bytes read for 100 rows: %d with 10 fragments, %d with 200", cost[10], cost[200])
	if cost[10] == 0 || cost[200] > cost[10]*3/2 {
		t.Fatalf("range read cost grows with the dataset: %v", cost)
	}
}
