package engine

import (
	"errors"
	"sync"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestAppendAtReportsItsOwnRows: writers racing Arrow and record appends
// (flushes running meanwhile) each get the offset of their own first row:
// reading n rows there gives back exactly the ids they appended.
func TestAppendAtReportsItsOwnRows(t *testing.T) {
	const writers, calls, rows = 8, 40, 7
	b := openBucket(t, t.TempDir(), 50)
	defer b.Close()
	appendRows(t, b, -1, 1) // fixes the schema: no writer's append changes it
	type appended struct{ first, id int64 }
	payloads := make([][][]byte, writers) // marshalled before the race: pyMarshal may t.Fatal
	for w := range payloads {
		for c := 0; c < calls; c += 2 {
			payloads[w] = append(payloads[w], pyMarshal(t, testRecords(int64(w*10000+c*100), rows)))
		}
	}
	got := make([][]appended, writers)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for c := 0; c < calls; c++ {
				id := int64(w*10000 + c*100)
				var first int64
				var err error
				if c%2 == 0 {
					first, _, err = b.AppendRecordsAt(payloads[w][c/2])
				} else {
					rec := makeRows(t, memory.DefaultAllocator, id, rows)
					first, err = b.AppendBatchesAt([]arrow.Record{rec})
					rec.Release()
				}
				if err != nil && !errors.Is(err, ErrNotFlushed) {
					t.Errorf("writer %d call %d: %v", w, c, err)
					return
				}
				got[w] = append(got[w], appended{first, id})
			}
		}(w)
	}
	wg.Wait()
	for w, calls := range got {
		for _, a := range calls {
			if ids := readIDs(t, b, a.first, rows); !equalInts(ids, seq(a.id, rows)) {
				t.Errorf("writer %d: rows at the reported offset %d are %v, want %v", w, a.first, ids, seq(a.id, rows))
			}
		}
	}
	if first, err := b.AppendBatchesAt(nil); err != nil || first != 1+writers*calls*rows {
		t.Errorf("no rows: first = %d, %v; want the total count %d", first, err, 1+writers*calls*rows)
	}
}
