package engine

import (
	"bytes"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/internal/memtest"
)

// TestBigValuePutCopies: a put of one big value (a tensor) with the WAL
// allocates one copy of it: the buffer's (records; its builder sized to the
// value, not rounded up to a power of two) or the WAL entry's encoding
// (Arrow: the buffer keeps the caller's record). The WAL entry is written
// from the caller's bytes. Before, a 64 MiB put allocated 6 copies
// (records) or 4 (Arrow), most of them on the way to the WAL.
func TestBigValuePutCopies(t *testing.T) {
	for _, n := range memtest.Sizes(t, "BIG_VALUE_SIZES") {
		for _, how := range []string{"records", "arrow"} {
			for _, interval := range []bool{false, true} {
				wo := WALOptions{Enabled: true}
				if interval {
					wo.SyncInterval = 1 << 40
				}
				wo.MaxSize = 16 << 30 // no flush for the WAL's size
				b, err := Open(Options{Path: t.TempDir(), FlushThreshold: 16 << 30, WAL: wo, Logger: t.Logf,
					Background: BackgroundOptions{MaxFlushDelay: -1}})
				if err != nil {
					t.Fatal(err)
				}
				value := bytes.Repeat([]byte("tensor bytes 0123"), n/16)[:n]
				var put func() error
				if how == "records" {
					data := pyMarshal(t, pyDict{{"id", 1}, {"v", value}})
					put = func() error { _, err := b.AppendRecords(data); return err }
				} else {
					bld := array.NewRecordBuilder(memory.NewGoAllocator(), arrow.NewSchema([]arrow.Field{
						{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "v", Type: arrow.BinaryTypes.Binary}}, nil))
					bld.Field(0).(*array.Int64Builder).Append(1)
					bld.Field(1).(*array.BinaryBuilder).Append(value)
					rec := bld.NewRecord()
					bld.Release()
					defer rec.Release()
					put = func() error { return b.Append(rec) }
				}
				value = nil
				peak, kept := memtest.AllocDuring(func() { err = put() }) // kept: for the log only
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%d MiB value, %s, interval %v: %.2f copies allocated, %.2f kept",
					n>>20, how, interval, float64(peak)/float64(n), float64(kept)/float64(n))
				if limit := int64(n) + int64(n)/8; peak > limit {
					t.Errorf("%d MiB value, %s: the put allocated %d bytes, more than the one copy of %d it needs",
						n>>20, how, peak, n)
				}
				if err := b.Close(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}
