package file

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestBorrowBytes: which sizes are pooled, and that a buffer handed back
// is lent again whole.
func TestBorrowBytes(t *testing.T) {
	for _, tc := range []struct {
		n      int64
		pooled bool
		cap    int
	}{
		{0, false, 0},
		{1000, false, 1000},
		{64 << 10, true, 64 << 10},
		{64<<10 + 1, true, 128 << 10},
		{3 << 20, true, 4 << 20},
	} {
		b, pooled := borrowBytes(tc.n)
		if int64(len(b)) != tc.n || pooled != tc.pooled || cap(b) != tc.cap {
			t.Errorf("borrowBytes(%d): len %d cap %d pooled %v, want cap %d pooled %v", tc.n, len(b), cap(b), pooled, tc.cap, tc.pooled)
		}
		if pooled {
			giveBackBytes(b)
		}
	}
}

// TestBorrowedPagesConcurrentReads: many goroutines read the same file
// (mini-block pages large enough to be read into borrowed buffers: vectors,
// lists, integers, strings) over and over, whole and in ranges; every
// result is exact, so no buffer was handed back while a read still used
// it (run with -race too).
func TestBorrowedPagesConcurrentReads(t *testing.T) {
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "vec", Type: arrow.FixedSizeListOf(16, arrow.PrimitiveTypes.Float32)},
		{Name: "obs", Type: arrow.ListOf(arrow.PrimitiveTypes.Float32)},
		{Name: "msg", Type: arrow.BinaryTypes.String},
	}, nil)
	rb := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer rb.Release()
	const rows = 30000
	vb := rb.Field(1).(*array.FixedSizeListBuilder)
	ob := rb.Field(2).(*array.ListBuilder)
	for i := 0; i < rows; i++ {
		rb.Field(0).(*array.Int64Builder).Append(int64(i) * 7)
		vb.Append(true)
		for k := 0; k < 16; k++ {
			vb.ValueBuilder().(*array.Float32Builder).Append(float32(i) + float32(k)/16)
		}
		ob.Append(true)
		for k := 0; k < i%9; k++ {
			ob.ValueBuilder().(*array.Float32Builder).Append(float32(i * k))
		}
		rb.Field(3).(*array.StringBuilder).Append(fmt.Sprintf("event %d from worker %d", i, i%17))
	}
	rec := rb.NewRecord()
	defer rec.Release()
	p := filepath.Join(t.TempDir(), "b.lance")
	if _, err := WriteFileWithOptions(p, mustFields(t, sch), []arrow.Record{rec}, WriteOptions{Version: V2_2}); err != nil {
		t.Fatal(err)
	}
	r, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.InMemory() {
		t.Fatal("the file is read whole at open: no page is borrowed")
	}
	cols := leafColumns(sch)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; round < 4; round++ {
				off := int64((g*round*997)%rows) * int64(round%2)
				n := rows - off
				got, err := r.Read(sch, cols, off, n, memory.DefaultAllocator)
				if err != nil {
					errs <- err
					return
				}
				want := rec.NewSlice(off, off+n)
				ok := array.RecordEqual(got, want)
				want.Release()
				got.Release()
				if !ok {
					errs <- fmt.Errorf("goroutine %d round %d: rows [%d, %d) differ", g, round, off, off+n)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
