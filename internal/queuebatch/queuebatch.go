// Package queuebatch builds the 8-column batches of bench/bench.py, so the Go
// benchmarks of lance, lance/file and bench measure the shape the Python
// benchmarks do. Used by tests and benchmarks only.
package queuebatch

import (
	"fmt"
	"math/rand"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Schema is the 8-column batch of bench/bench.py (measurement 1): the
// shape the append benchmarks measure, so Go and Python numbers compare.
func Schema() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "ts", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "value", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "topic", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "payload", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "count", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "blob", Type: arrow.BinaryTypes.Binary, Nullable: true},
	}, nil)
}

// Batch returns rows rows of Schema starting at id first: an id,
// an epoch-seconds float, a float with 5% nulls, a bool, a 8-byte topic,
// a 24-72 byte payload with 5% nulls, an int32 and a 16-byte blob.
func Batch(rows int, first int64, seed int64) arrow.Record {
	rng := rand.New(rand.NewSource(seed))
	b := array.NewRecordBuilder(memory.DefaultAllocator, Schema())
	defer b.Release()
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789 "
	payload := make([]byte, 72)
	blob := make([]byte, 16)
	for i := 0; i < rows; i++ {
		id := first + int64(i)
		b.Field(0).(*array.Int64Builder).Append(id)
		b.Field(1).(*array.Float64Builder).Append(1_700_000_000 + float64(id)/1000)
		if rng.Float64() < 0.05 {
			b.Field(2).AppendNull()
		} else {
			b.Field(2).(*array.Float64Builder).Append(rng.Float64())
		}
		b.Field(3).(*array.BooleanBuilder).Append(rng.Intn(2) == 0)
		b.Field(4).(*array.StringBuilder).Append(fmt.Sprintf("topic-%02d", rng.Intn(16)))
		if rng.Float64() < 0.05 {
			b.Field(5).AppendNull()
		} else {
			n := 24 + rng.Intn(48)
			for k := range payload[:n] {
				payload[k] = letters[rng.Intn(len(letters))]
			}
			b.Field(5).(*array.StringBuilder).Append(string(payload[:n]))
		}
		b.Field(6).(*array.Int32Builder).Append(int32(rng.Intn(2_000_000) - 1_000_000))
		rng.Read(blob)
		b.Field(7).(*array.BinaryBuilder).Append(blob)
	}
	return b.NewRecord()
}
