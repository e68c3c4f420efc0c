package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/pymarshal"
)

// putSchema and putRecord are bench/bench.py's pulsing record: 6 fields.
var putSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "ts", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "topic", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "payload", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
}, nil)

func putRecord(i int64) pyDict {
	return pyDict{{"id", i}, {"ts", 1_700_000_000.0 + float64(i)/1000}, {"topic", "topic-07"},
		{"payload", strings.Repeat("x", 40)}, {"ok", i%3 != 0}, {"score", 0.25}}
}

// openPutBucket opens a bucket with putSchema fixed by one Arrow row and
// bounds high enough that no flush or refusal interferes.
func openPutBucket(b *testing.B, wal WALOptions) *Bucket {
	return openPutBucketWith(b, Options{WAL: wal})
}

func openPutBucketWith(b *testing.B, opts Options) *Bucket {
	opts.Path, opts.FlushThreshold, opts.WAL.MaxSize = b.TempDir(), 1<<30, 1<<40
	bucket, err := Open(opts)
	if err != nil {
		b.Fatal(err)
	}
	bld := array.NewRecordBuilder(memory.DefaultAllocator, putSchema)
	defer bld.Release()
	for _, f := range bld.Fields() {
		f.AppendNull()
	}
	rec := bld.NewRecord()
	defer rec.Release()
	if err := bucket.Append(rec); err != nil {
		b.Fatal(err)
	}
	return bucket
}

// dropAppended empties the bucket's buffer and WAL outside the timer, so a
// long benchmark's memory and disk stay bounded.
func dropAppended(b *testing.B, bucket *Bucket) {
	b.StopTimer()
	defer b.StartTimer()
	// flushMu first: the automatic flush must not be between taking rows
	// and dropping them from the buffer (lock order: flushMu, then mu).
	bucket.flushMu.Lock()
	defer bucket.flushMu.Unlock()
	bucket.mu.Lock()
	defer bucket.mu.Unlock()
	bucket.sealRows()
	releaseAll(bucket.buf.take())
	if bucket.wal != nil {
		if err := bucket.wal.TruncateFront(bucket.walLast + 1); err != nil {
			b.Fatal(err)
		}
	}
}

// benchmarkAppendRecords measures one put: decode, check, WAL write (when
// on), append into the builders; b.SetBytes counts the marshal bytes.
func benchmarkAppendRecords(b *testing.B, opts Options) {
	bucket := openPutBucketWith(b, opts)
	defer bucket.Close()
	in := pyMarshal(b, putRecord(1))
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := bucket.AppendRecords(in); err != nil {
			b.Fatal(err)
		}
		if i%100_000 == 99_999 { // bound memory and disk on long runs; not timed
			dropAppended(b, bucket)
		}
	}
}

func BenchmarkAppendRecordsNoWAL(b *testing.B) { benchmarkAppendRecords(b, Options{}) }
func BenchmarkAppendRecordsWALInterval(b *testing.B) {
	benchmarkAppendRecords(b, Options{WAL: WALOptions{Enabled: true, SyncInterval: time.Second}})
}
func BenchmarkAppendRecordsWALSyncEach(b *testing.B) {
	benchmarkAppendRecords(b, Options{WAL: WALOptions{Enabled: true}})
}
func BenchmarkAppendRecordsMetrics(b *testing.B) { benchmarkAppendRecords(b, Options{Metrics: true}) }

// BenchmarkAppendRecordsBatch100: one call with a list of 100 records;
// ns/op / 100 is the cost per record when puts are gathered.
func BenchmarkAppendRecordsBatch100(b *testing.B) {
	bucket := openPutBucket(b, WALOptions{Enabled: true, SyncInterval: time.Second})
	defer bucket.Close()
	recs := make([]any, 100)
	for i := range recs {
		recs[i] = putRecord(int64(i))
	}
	in := pyMarshal(b, recs)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := bucket.AppendRecords(in); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			dropAppended(b, bucket)
		}
	}
}

// BenchmarkRecordDecodeConvert: decode + check + convert of one 6-field
// record into the row tail's builders alone, without the bucket's lock and WAL.
func BenchmarkRecordDecodeConvert(b *testing.B) {
	t := newRowTail(putSchema, memory.DefaultAllocator)
	defer t.release()
	in := pyMarshal(b, putRecord(1))
	var d pymarshal.Decoder
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		root, err := d.Decode(in)
		if err != nil {
			b.Fatal(err)
		}
		if err := t.checkRecords(&d, root, false); err != nil {
			b.Fatal(err)
		}
		t.appendRecords(&d, root, len(in))
		if t.rows >= 100_000 {
			b.StopTimer()
			t.seal().Release()
			b.StartTimer()
		}
	}
}
