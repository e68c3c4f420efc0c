package engine

import (
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

// TestInferenceAsPyarrow: values pyarrow's inference (pa.array, from_pylist)
// types that records once refused: a UUID infers arrow.uuid (its storage
// fixed_size_binary[16], the extension in the field's metadata, at any
// depth), an int beyond int64 within uint64 (numpy's uint64) infers uint64,
// in a list too; below int64 or beyond uint64 it is still refused.
func TestInferenceAsPyarrow(t *testing.T) {
	u := func(b byte) pyTuple {
		return pyTuple{pyEllipsis{}, "uuid", []byte(strings.Repeat(string(rune('a'+b)), 16))}
	}
	over := new(big.Int).Lsh(big.NewInt(1), 63) // 2**63
	cases := []ruleCase{
		{name: "uuid", steps: []ruleStep{
			ok(rec("u", u(0), "s", rec("v", u(1)), "l", []any{u(2), nil})),
			ok(rec("u", []byte("0123456789abcdef"), "s", rec("v", nil), "l", nil)),
			refused(rec("u", []byte("short")), ErrSchemaMismatch, `field 'u': expected fixed_size_binary\[16\], found bytes b'short'`),
		}, schema: "u: fixed_size_binary[16], s: struct<v: fixed_size_binary[16]>, l: list<item: fixed_size_binary[16]>"},
		{name: "uint64", evolve: true, steps: []ruleStep{
			ok(rec("n", over, "l", []any{1, over, nil})),
			ok(rec("n", 5, "l", []any{})),
			refused(rec("n", -1), ErrSchemaMismatch, `field 'n': expected uint64, found int -1`),
			refused(rec("m", bigInt), ErrInvalidArgument, `field 'm': 18446744073709551616 does not fit in int64`),
			refused(rec("m", new(big.Int).Neg(bigInt)), ErrInvalidArgument, `does not fit in int64`),
			refused(rec("m", []any{-1, over}), ErrInvalidArgument, `field 'm\[\]': 9223372036854775808 does not fit in int64`),
		}, schema: "n: uint64, l: list<item: uint64>", rows: []string{
			"n=9223372036854775808 l=[1,9223372036854775808,null] ", "n=5 l=[] "}},
		{name: "set", evolve: true, steps: []ruleStep{ // pyarrow: a set makes a list, a frozenset is refused
			refused(rec("s", pyTuple{pyEllipsis{}, "unsupported", "set"}), ErrType, `field 's': cannot store a set: it has no order, and reads would return a list - store sorted\(...\)`),
			refused(rec("s", []any{pyTuple{pyEllipsis{}, "unsupported", "frozenset"}}), ErrType, `field 's\[\]': cannot store a frozenset: it has no order`),
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runRuleCase(t, c, false) })
	}
	// The metadata of inferred UUID fields names the extension, at any depth.
	b, err := Open(Options{Path: t.TempDir(), FlushThreshold: 1000, SchemaEvolution: true, Logger: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	appendRecords(t, b, rec("id", 1))
	appendRecords(t, b, rec("u", u(0), "s", rec("v", u(1)), "l", []any{u(2)}))
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	s, err := b.Schema()
	if err != nil {
		t.Fatal(err)
	}
	isUUID := func(f arrow.Field) bool { name, _ := extensionOf(f); return name == "arrow.uuid" }
	st := s.Field(2).Type.(*arrow.StructType)
	if !isUUID(s.Field(1)) || !isUUID(st.Field(0)) || !isUUID(s.Field(3).Type.(*arrow.ListType).ElemField()) || isUUID(s.Field(0)) {
		t.Fatalf("the UUID fields do not all carry arrow.uuid: %v", s)
	}
}

// TestRecordsIntoBool8: an arrow.bool8 column (int8 storage, from a dataset
// or pylance) takes bools - at the top, in a struct, in a list - and refuses
// ints and other values naming the extension.
func TestRecordsIntoBool8(t *testing.T) {
	meta := arrow.NewMetadata([]string{"ARROW:extension:name", "ARROW:extension:metadata"}, []string{"arrow.bool8", ""})
	b8 := arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Int8, Nullable: true, Metadata: meta}
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "b", Type: arrow.PrimitiveTypes.Int8, Nullable: true, Metadata: meta},
		{Name: "s", Type: arrow.StructOf(b8), Nullable: true},
		{Name: "l", Type: arrow.ListOfField(arrow.Field{Name: "item", Type: arrow.PrimitiveTypes.Int8, Nullable: true, Metadata: meta}), Nullable: true},
	}, nil)
	steps := []ruleStep{
		ok(rec("b", true, "s", rec("x", false), "l", []any{true, nil, false})),
		ok([]any{rec("b", false), rec("b", nil, "s", rec("x", true))}),
		refused(rec("b", 1), ErrSchemaMismatch, `field 'b': expected arrow.bool8 \(a bool\), found int 1`),
		refused(rec("s", rec("x", "yes")), ErrSchemaMismatch, `field 's.x': expected arrow.bool8 \(a bool\), found str 'yes'`),
		refused(rec("l", []any{0}), ErrSchemaMismatch, `field 'l\[\]': expected arrow.bool8 \(a bool\), found int 0`),
	}
	rows := []string{
		"b=(null) s=(null) l=(null) ",
		`b=1 s={"x":0} l=[1,null,0] `,
		"b=0 s=(null) l=(null) ",
		`b=(null) s={"x":1} l=(null) `,
	}
	runRecordSteps(t, sch, steps, rows)
}

// TestNullPartsTypedLater: a nested part that was only None or [] keeps the
// type null (pyarrow: list<null>, struct<a: null>) and a later value types
// it - in the same unit, a later unit, or after flushes stored the null
// form (the stored column is rewritten with the part typed), strict bucket or
// evolving; the rows read back as they were put.
func TestNullPartsTypedLater(t *testing.T) {
	type seq struct {
		name   string
		recs   []pyDict
		schema string
		rows   []string
	}
	seqs := []seq{
		{"empty list", []pyDict{rec("tags", []any{}), rec("tags", []any{1, 2})}, "tags: list<item: int64>",
			[]string{"tags=[] ", "tags=[1,2] "}},
		{"None in a struct", []pyDict{rec("m", rec("a", nil, "b", 1)), rec("m", rec("a", 5))}, "m: struct<a: int64, b: int64>",
			[]string{`m={"a":null,"b":1} `, `m={"a":5,"b":null} `}},
		{"None items", []pyDict{rec("l", []any{nil}), rec("l", []any{rec("k", nil)}), rec("l", []any{rec("k", 1.5)})},
			"l: list<item: struct<k: double>>", []string{"l=[null] ", `l=[{"k":null}] `, `l=[{"k":1.5}] `}},
		{"ints among floats", []pyDict{rec("l", []any{nil}, "m", rec("a", nil)), rec("l", []any{1, 2.5}, "m", rec("a", []any{1, 0.5}))},
			"l: list<item: double>, m: struct<a: list<item: double>>", []string{`l=[null] m={"a":null} `, `l=[1,2.5] m={"a":[1,0.5]} `}},
		{"lists of empty lists", []pyDict{rec("l", []any{[]any{}}), rec("l", []any{[]any{}, []any{"x"}})},
			"l: list<item: list<item: string>>", []string{"l=[[]] ", `l=[[],["x"]] `}},
	}
	for _, s := range seqs {
		for _, evolve := range []bool{false, true} {
			for _, flush := range []bool{false, true} {
				c := ruleCase{name: s.name, evolve: evolve, schema: s.schema, rows: s.rows}
				// One unit of all the records, then one unit per record.
				if !flush {
					all := make([]any, len(s.recs))
					for i, r := range s.recs {
						all[i] = r
					}
					c.steps = []ruleStep{ok(all)}
					runRuleCase(t, c, false)
				}
				c.steps = nil
				for _, r := range s.recs {
					c.steps = append(c.steps, ruleStep{recs: r, flush: flush})
				}
				t.Run(fmt.Sprintf("%s/evolve=%v/flush=%v", s.name, evolve, flush), func(t *testing.T) { runRuleCase(t, c, true) })
			}
		}
	}
}
