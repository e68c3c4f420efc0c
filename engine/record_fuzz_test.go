package engine

import (
	"errors"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/pymarshal"
)

// FuzzRecordRules: for any bytes, decoding, the rules (against no schema and
// a schema of every kind, strict and evolving) and the conversion into the
// schema the rules settle never panic; a refusal is one of the engine's
// sentinels, and records the rules accept convert into their schema.
func FuzzRecordRules(f *testing.F) {
	seeds := []any{
		testRecords(0, 3),
		rec("i8", 1, "f64", 2.5, "s", "x", "st", rec("x", 1, "tags", pyTuple{"a"}), "fl", []any{1, 2.5}),
		[]any{rec("a", nil), rec("a", 1), rec("b", []any{}), rec("c", rec("d", nil))},
		rec("t", pyTimestamp(1), "z", pyTimestampTZ(-1), "d", pyDate(3), "dec", pyDecimal("1.50"), "u", pyUnsupported("set")),
		rec("deep", nestedDict(maxNesting)), rec("n", bigInt), rec("k\x00", 1), rec("s", "\xed\xa0\x80"),
		[]any{rec("n", 1), rec("n", 1.5), "x"},
	}
	for _, s := range seeds {
		f.Add(pyMarshal(f, s))
	}
	var d pymarshal.Decoder
	f.Fuzz(func(t *testing.T, in []byte) {
		root, err := d.Decode(in)
		if err != nil {
			if e := decodeError(err); !errors.Is(e, ErrType) && !errors.Is(e, ErrInvalidArgument) {
				t.Fatalf("decode error %v maps to no sentinel", err)
			}
			return
		}
		for _, cur := range []*arrow.Schema{nil, kindsSchema} {
			for _, evolve := range []bool{false, true} {
				schema, _, err := planRecordSchema(&d, root, cur, evolve)
				if err != nil {
					if !errors.Is(err, ErrType) && !errors.Is(err, ErrInvalidArgument) && !errors.Is(err, ErrSchemaMismatch) {
						t.Fatalf("rules error without a sentinel: %v", err)
					}
					continue
				}
				if schema == nil {
					continue // no records
				}
				tail := newRowTail(schema, memory.DefaultAllocator)
				if err := tail.checkRecords(&d, root, true); err == nil {
					n := tail.appendRecords(&d, root, 0)
					if rec := tail.seal(); rec != nil {
						for i, c := range rec.Columns() {
							if c.Len() != n {
								t.Fatalf("column %d has %d rows, want %d", i, c.Len(), n)
							}
						}
						rec.Release()
					}
				} else if !errors.Is(err, ErrSchemaMismatch) {
					t.Fatalf("conversion error without a sentinel: %v", err)
				}
				tail.release()
			}
		}
	})
}
