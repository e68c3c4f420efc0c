package engine

import (
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance"
)

// A rules case: records appended one call after the other to a new bucket
// (strict, or evolving), each accepted or refused with the sentinel and a
// message matching msg; then the bucket's schema and rows.
type ruleStep struct {
	recs  any    // a pyDict or a list of records (one call)
	err   error  // nil: accepted
	msg   string // regexp the error message must match
	flush bool   // flush after the call
}

type ruleCase struct {
	name   string
	evolve bool
	steps  []ruleStep
	schema string   // fields as "name: type", pyarrow's type names
	rows   []string // rowsOf
}

func ok(recs any) ruleStep      { return ruleStep{recs: recs} }
func okFlush(recs any) ruleStep { return ruleStep{recs: recs, flush: true} }
func refused(recs any, err error, msg string) ruleStep {
	return ruleStep{recs: recs, err: err, msg: msg}
}

// emptyOf is an empty numpy array as the record encoding carries it: a
// zero of its dtype types its items.
func emptyOf(zero any) pyTuple { return pyTuple{pyEllipsis{}, "empty", zero} }

func rec(kv ...any) pyDict {
	var d pyDict
	for i := 0; i < len(kv); i += 2 {
		d = append(d, pyItem{kv[i], kv[i+1]})
	}
	return d
}

func schemaText(s *arrow.Schema) string {
	parts := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		parts[i] = f.Name + ": " + typeText(f.Type)
	}
	return strings.Join(parts, ", ")
}

// bucketTrace is everything a refused call must leave as it was.
func bucketTrace(t *testing.T, b *Bucket) string {
	t.Helper()
	s, err := b.Schema()
	schema := "none"
	if err == nil {
		schema = schemaText(s)
	}
	st, err := b.Stats()
	if err != nil {
		t.Fatal(err)
	}
	version := uint64(0)
	b.mu.Lock()
	if b.dataset != nil {
		version = b.dataset.Version()
	}
	b.mu.Unlock()
	return fmt.Sprintf("schema %s; %d rows; WAL %d bytes; version %d", schema, st.TotalCount, st.WALSize, version)
}

func runRuleCase(t *testing.T, c ruleCase, wal bool) {
	opts := Options{Path: t.TempDir(), FlushThreshold: 1000, SchemaEvolution: c.evolve, Logger: t.Logf}
	if wal {
		opts.WAL = WALOptions{Enabled: true, SyncInterval: time.Second}
	}
	b, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i, s := range c.steps {
		before := bucketTrace(t, b)
		n, err := b.AppendRecords(pyMarshal(t, s.recs))
		if s.err == nil {
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		} else {
			if !errors.Is(err, s.err) || n != 0 {
				t.Fatalf("step %d: AppendRecords = %d, %v; want 0, %v", i, n, err, s.err)
			}
			if !regexp.MustCompile(s.msg).MatchString(err.Error()) {
				t.Fatalf("step %d: message %q does not match %q", i, err, s.msg)
			}
			if after := bucketTrace(t, b); after != before {
				t.Fatalf("step %d: a refused call left a trace:\n before %s\n after  %s", i, before, after)
			}
		}
		if s.flush {
			if err := b.Flush(); err != nil {
				t.Fatalf("step %d: flush: %v", i, err)
			}
		}
	}
	if c.schema != "" {
		s, err := b.Schema()
		if err != nil {
			t.Fatal(err)
		}
		if got := schemaText(s); got != c.schema {
			t.Fatalf("schema %q, want %q", got, c.schema)
		}
	}
	if c.rows != nil {
		if got := rowsOf(t, b); strings.Join(got, "|") != strings.Join(c.rows, "|") {
			t.Fatalf("rows\n %q\nwant\n %q", got, c.rows)
		}
	}
}

func nestedDict(levels int) any {
	var v any = 1
	for i := 0; i < levels; i++ {
		v = rec(fmt.Sprintf("l%d", i), v)
	}
	return v
}

var bigInt = new(big.Int).Lsh(big.NewInt(1), 64) // 2**64

var ruleCases = []ruleCase{
	// ---- inference from the first record
	{name: "infers every kind", steps: []ruleStep{ok(rec(
		"i", 1, "f", 0.5, "b", true, "s", "x", "y", []byte("z"),
		"ts", pyTimestamp(1_700_000_000_123_456), "tz", pyTimestampTZ(0), "d", pyDate(19000),
		"st", rec("a", 1, "b", "x"), "l", []any{1, 2}))},
		schema: "i: int64, f: double, b: bool, s: string, y: binary, ts: timestamp[us], tz: timestamp[us, tz=UTC], " +
			"d: date32[day], st: struct<a: int64, b: string>, l: list<item: int64>",
		rows: []string{`i=1 f=0.5 b=true s=x y=eg== ts=2023-11-14 22:13:20.123456Z tz=1970-01-01 00:00:00Z d=2022-01-08 st={"a":1,"b":"x"} l=[1,2] `}},
	{name: "ints among floats make a float list", steps: []ruleStep{ok(rec("v", []any{1, 2.5, nil}))},
		schema: "v: list<item: double>"},
	{name: "a tuple is a list", steps: []ruleStep{ok(rec("v", pyTuple{"a", "b"}))}, schema: "v: list<item: string>"},
	{name: "empty lists and None parts keep the type null, as pyarrow infers", steps: []ruleStep{ok(rec("l", []any{}, "st", rec("a", nil)))},
		schema: "l: list<item: null>, st: struct<a: null>"},
	{name: "an empty numpy array (tagged empty) is a list typed by its payload, a zero of its dtype", evolve: true, steps: []ruleStep{
		ok(rec("f", emptyOf(0.0), "i", emptyOf(0), "s", emptyOf(""), "n", []any{emptyOf(false), []any{true}}, "x", 1)),
		okFlush(rec("f", emptyOf(0), "i", []any{3}, "s", emptyOf(0.0))), // no items: it fits any list column
		ok(rec("f", []any{1.5}, "i", emptyOf(0.0), "t", []any{emptyOf(pyTimestamp(0))})),
		refused(rec("c", emptyOf(pyTuple{pyEllipsis{}, "unsupported", "complex"})), ErrType, `field 'c\[\]': cannot store a value of type complex`),
		refused(rec("f", emptyOf(0), "f2", emptyOf(pyTuple{pyEllipsis{}, "unsupported", "void"})), ErrType, `field 'f2\[\]'`),
		refused(rec("x", emptyOf(0)), ErrSchemaMismatch, `field 'x': expected int64, found a list`)},
		schema: "f: list<item: double>, i: list<item: int64>, s: list<item: string>, n: list<item: list<item: bool>>, x: int64, t: list<item: list<item: timestamp[us]>>"},
	{name: "a tagged empty types a list only None and [] left untyped", steps: []ruleStep{
		okFlush(rec("l", []any{})), ok(rec("l", emptyOf(0))), ok(rec("l", []any{2}))},
		schema: "l: list<item: int64>"},
	{name: "one call decides a nested type together", steps: []ruleStep{
		ok([]any{rec("st", rec("a", 1)), rec("st", rec("b", "x")), rec("st", rec("a", 2.5))})},
		schema: "st: struct<a: double, b: string>"},
	{name: "a struct keeps its fields across calls", evolve: true, steps: []ruleStep{
		ok(rec("st", rec("a", 1))),
		refused(rec("st", rec("b", 1)), ErrSchemaMismatch, `field 'st': 'b' is not a field of its struct struct<a: int64>`)}},
	{name: "a new Decimal field on a strict bucket", steps: []ruleStep{ok(rec("id", 1)),
		refused(rec("id", 2, "d", pyDecimal("1.5")), ErrSchemaMismatch, `'d' is not in this bucket's schema`)}},
	{name: "a Decimal as the first value", evolve: true, steps: []ruleStep{
		okFlush(rec("d", pyDecimal("1.5"))), ok(rec("d", pyDecimal("-2"))),
		refused(rec("d", pyDecimal("0.25")), ErrSchemaMismatch, `field 'd': expected decimal128\(38, 1\), found Decimal Decimal\('0.25'\) \(it has 2 digits after the point, the column's scale is 1: it would lose digits\)`)},
		schema: "d: decimal128(38, 1)", rows: []string{"d=1.5 ", "d=-2 "}},
	{name: "a Decimal of more digits after the point than decimal128 holds", steps: []ruleStep{
		refused(rec("d", pyDecimal("1E-40")), ErrInvalidArgument, `field 'd': Decimal 1E-40 has 40 digits after the point, more than decimal128 holds \(38\)`)}},
	{name: "decimal NaN", steps: []ruleStep{refused(rec("d", pyDecimal("NaN")), ErrInvalidArgument, `field 'd': Decimal NaN not a finite`)}},

	// ---- untyped fields
	{name: "an untyped field takes the type of its first value", steps: []ruleStep{
		ok(rec("id", 0, "note", nil)), ok(rec("id", 1, "note", 7)),
		refused(rec("id", 2, "note", "x"), ErrSchemaMismatch, `field 'note': expected int64, found str 'x'`)},
		schema: "id: int64, note: int64", rows: []string{"id=0 note=(null) ", "id=1 note=7 "}},
	{name: "strict: still untyped at a flush, stored as a null column until a value types it", steps: []ruleStep{
		okFlush(rec("id", 0, "note", nil)), okFlush(rec("note", 7)),
		refused(rec("note", "x"), ErrSchemaMismatch, `'note': expected int64, found str 'x'`)},
		schema: "id: int64, note: int64", rows: []string{"id=0 note=(null) ", "id=(null) note=7 "}},
	{name: "strict: a stored null column typed by a struct and a list", steps: []ruleStep{
		okFlush(rec("id", 0, "st", nil, "l", nil)), okFlush(rec("id", 1, "st", rec("a", 1), "l", []any{"x"})),
		refused(rec("st", rec("b", 1)), ErrSchemaMismatch, `'b' is not a field of its struct`)},
		schema: "id: int64, st: struct<a: int64>, l: list<item: string>",
		rows:   []string{"id=0 st=(null) l=(null) ", "id=1 st={\"a\":1} l=[\"x\"] "}},
	{name: "evolving: an untyped field stays out of the dataset until typed", evolve: true, steps: []ruleStep{
		okFlush(rec("id", 0, "note", nil)), okFlush(rec("id", 1, "later", nil)), okFlush(rec("id", 2, "note", 7))},
		schema: "id: int64, note: int64, later: null",
		rows:   []string{"id=0 note=(null) later=(null) ", "id=1 note=(null) later=(null) ", "id=2 note=7 later=(null) "}},
	{name: "evolving: all untyped at a flush, stored as null columns", evolve: true, steps: []ruleStep{
		okFlush(rec("a", nil)), okFlush(rec("a", 1)), refused(rec("a", "x"), ErrSchemaMismatch, `'a': expected int64, found str 'x'`)},
		schema: "a: int64", rows: []string{"a=(null) ", "a=1 "}},

	// ---- strict checks
	{name: "strict: a new field", steps: []ruleStep{ok(rec("n", 1)),
		refused(rec("n", 2, "new", 1), ErrSchemaMismatch, `field 'new' is not in this bucket's schema \(fields: n\)`)}},
	{name: "strict: the first call's records together make the fields", steps: []ruleStep{
		ok([]any{rec("a", 1), rec("a", 2, "b", "x"), rec("c", nil)}),
		refused(rec("a", 3, "d", 1), ErrSchemaMismatch, `field 'd' is not in this bucket's schema \(fields: a, b, c\)`),
		refused([]any{rec("a", 4), rec("e", 1)}, ErrSchemaMismatch, `field 'e' is not in this bucket's schema`)},
		schema: "a: int64, b: string, c: null", rows: []string{"a=1 b=(null) c=(null) ", "a=2 b=x c=(null) ", "a=(null) b=(null) c=(null) "}},
	{name: "strict: ints then a float in the first call", steps: []ruleStep{
		refused([]any{rec("x", 1), rec("x", 1.5)}, ErrSchemaMismatch, `field 'x': expected int64, found float 1.5`),
		ok([]any{rec("x", 1.5), rec("x", 1)})},
		schema: "x: double", rows: []string{"x=1.5 ", "x=1 "}},
	{name: "strict: a float into an int field", steps: []ruleStep{ok(rec("n", 1)),
		refused(rec("n", 2.5), ErrSchemaMismatch, `^engine: schema mismatch: field 'n': expected int64, found float 2.5$`)}},
	{name: "an int into a float field", steps: []ruleStep{ok(rec("x", 1.5)), ok(rec("x", 2)), ok(rec("x", -(1 << 53))),
		refused(rec("x", 1<<53+1), ErrSchemaMismatch, `'x'.*double.*int 9007199254740993`)},
		rows: []string{"x=1.5 ", "x=2 ", "x=-9.007199254740992e+15 "}},
	{name: "a missing field is null", steps: []ruleStep{ok(rec("id", 0, "a", "x")), ok(rec("a", "y"))},
		rows: []string{"id=0 a=x ", "id=(null) a=y "}},
	{name: "bool is not int", steps: []ruleStep{ok(rec("n", 1)), refused(rec("n", true), ErrSchemaMismatch, `'n': expected int64, found bool True`)}},
	{name: "naive and aware datetimes do not mix", steps: []ruleStep{ok(rec("at", pyTimestamp(0))),
		refused(rec("at", pyTimestampTZ(0)), ErrSchemaMismatch, `'at': expected timestamp\[us\], found datetime`),
		refused(rec("at", pyDate(0)), ErrSchemaMismatch, `'at': expected timestamp\[us\], found date 1970-01-01`)}},
	{name: "a dict into a scalar field", steps: []ruleStep{ok(rec("n", 1)),
		refused(rec("n", rec("a", 1)), ErrSchemaMismatch, `'n': expected int64, found a dict`)}},
	{name: "a scalar into a struct field", steps: []ruleStep{ok(rec("s", rec("a", 1))),
		refused(rec("s", 5), ErrSchemaMismatch, `'s': expected struct<a: int64>, found int 5`)}},

	// ---- evolution
	{name: "evolving: new fields, old rows null", evolve: true, steps: []ruleStep{
		okFlush([]any{rec("id", 0, "a", "x")}), ok(rec("id", 1, "score", 0.5)), ok(rec("id", 2, "tag", "t"))},
		schema: "id: int64, a: string, score: double, tag: string",
		rows: []string{"id=0 a=x score=(null) tag=(null) ", "id=1 a=(null) score=0.5 tag=(null) ",
			"id=2 a=(null) score=(null) tag=t "}},
	{name: "evolving: a float widens a stored int field", evolve: true, steps: []ruleStep{
		okFlush([]any{rec("n", 1), rec("n", 2)}), ok(rec("n", 2.5)), ok(rec("n", 4))},
		schema: "n: double", rows: []string{"n=1 ", "n=2 ", "n=2.5 ", "n=4 "}},
	{name: "evolving: a float widens a buffered int field", evolve: true, steps: []ruleStep{
		ok([]any{rec("n", 1), rec("n", 2)}), ok(rec("n", 2.5))},
		schema: "n: double", rows: []string{"n=1 ", "n=2 ", "n=2.5 "}},
	{name: "evolving: widening refused when a stored int does not fit a double", evolve: true, steps: []ruleStep{
		okFlush([]any{rec("n", 1<<60), rec("n", 3)}), ok(rec("n", 5)),
		refused(rec("n", 0.5), ErrSchemaMismatch, `"n".*1152921504606846976`), ok(rec("n", 6))},
		schema: "n: int64", rows: []string{"n=1152921504606846976 ", "n=3 ", "n=5 ", "n=6 "}},
	{name: "evolving: a batch widens within itself", evolve: true, steps: []ruleStep{ok([]any{rec("n", 1), rec("n", 2.5)})},
		schema: "n: double"},
	{name: "strict: a batch does not widen", steps: []ruleStep{
		refused([]any{rec("n", 1), rec("n", 2.5)}, ErrSchemaMismatch, `'n': expected int64, found float 2.5$`)}},
	{name: "evolving: incompatible values", evolve: true, steps: []ruleStep{ok(rec("n", 1, "s", "x", "f", 0.5, "ok", true)),
		refused(rec("n", "seven"), ErrSchemaMismatch, `'n': expected int64, found str 'seven' \(it cannot be stored there without loss\)`),
		refused(rec("n", []byte("7")), ErrSchemaMismatch, `'n': expected int64, found bytes b'7'`),
		refused(rec("s", 5), ErrSchemaMismatch, `'s': expected string, found int 5`),
		refused(rec("s", 1.5), ErrSchemaMismatch, `'s': expected string, found float 1.5`),
		refused(rec("f", "x"), ErrSchemaMismatch, `'f': expected double, found str 'x'`),
		refused(rec("ok", 1), ErrSchemaMismatch, `'ok': expected bool, found int 1`),
		refused([]any{rec("n", 10, "new", 1), rec("s", 5)}, ErrSchemaMismatch, `'s'`)},
		schema: "n: int64, s: string, f: double, ok: bool"},

	// ---- bad input
	{name: "a record that is not a dict", steps: []ruleStep{ok(rec("a", 1)),
		refused([]any{rec("a", 2), "text"}, ErrType, `record 1: a record must be a dict, got str`),
		refused([]any{pyUnsupported("set")}, ErrType, `record 0: a record must be a dict, got set`),
		refused(5, ErrType, `the records must be a list of dicts, got int`)}},
	{name: "an empty record", steps: []ruleStep{refused(rec(), ErrInvalidArgument, `a record must not be empty`),
		ok(rec("a", 1)), refused([]any{rec("a", 2), rec()}, ErrInvalidArgument, `a record must not be empty`)}},
	{name: "keys that are not str", steps: []ruleStep{
		refused(rec("id", 1, 1, 2), ErrType, `field names must be str, got int 1$`),
		refused(rec("id", 1, 2.5, 2), ErrType, `got float 2.5`),
		refused(rec("id", 1, []byte("id"), 2), ErrType, `got bytes b'id'`),
		refused(rec("id", 1, nil, 2), ErrType, `got NoneType None`),
		refused(rec("id", 1, pyTuple{"t"}, 2), ErrType, `got tuple \('t',\)`),
		refused(rec("id", 1, true, 2), ErrType, `got bool True`),
		refused(rec("id", 1, pyUnsupported("frozenset"), 2), ErrType, `got frozenset`),
		refused(rec("s", rec(1, 2)), ErrType, `field 's': field names must be str, got int 1`)}},
	{name: "values of unsupported types", evolve: true, steps: []ruleStep{ok(rec("id", 1)),
		refused(rec("id", 2, "payload", pyUnsupported("set")), ErrType, `field 'payload': cannot store a set: it has no order`),
		refused(rec("id", 2, "payload", pyEllipsis{}), ErrType, `field 'payload': cannot store a value of type ellipsis`),
		refused(rec("id", pyUnsupported("complex")), ErrType, `field 'id': cannot store a value of type complex`),
		refused(rec("id", 2, "s", rec("x", pyUnsupported("object"))), ErrType, `field 's.x': cannot store a value of type object`),
		refused(rec("id", 2, "l", []any{pyUnsupported("function")}), ErrType, `field 'l\[\]': cannot store a value of type function`)}},
	{name: "malformed tagged values", steps: []ruleStep{
		refused(rec("t", pyTuple{pyEllipsis{}, "timestamp", "x"}), ErrInvalidArgument, `field 't': \(Ellipsis, 'timestamp', 'x'\) is not a tagged value`),
		refused(rec("t", pyTuple{pyEllipsis{}, "when", 1}), ErrInvalidArgument, `is not a tagged value`),
		refused(rec("t", pyTuple{pyEllipsis{}}), ErrInvalidArgument, `is not a tagged value`)}},
	{name: "an int beyond int64", steps: []ruleStep{
		refused(rec("n", bigInt), ErrInvalidArgument, `field 'n': 18446744073709551616 does not fit in int64`), ok(rec("n", 1)),
		refused(rec("n", new(big.Int).Neg(bigInt)), ErrInvalidArgument, `field 'n': -18446744073709551616 does not fit in int64`),
		refused(rec("n", 2, "l", []any{bigInt}), ErrSchemaMismatch, `'l' is not in this bucket's schema`)}},
	{name: "an int beyond int64 nested", evolve: true, steps: []ruleStep{
		refused(rec("l", []any{1, bigInt}), ErrInvalidArgument, `field 'l\[\]': 18446744073709551616 does not fit in int64`)}},
	{name: "a str that is not UTF-8", steps: []ruleStep{ok(rec("id", "a")),
		refused(rec("id", "bad \xed\xb2\x80 surrogate"), ErrInvalidArgument, `field 'id': not storable as UTF-8`),
		refused(rec("id", "x", "k\xed\xb2\x80", 1), ErrInvalidArgument, `field name 'k\\xed\\xb2\\x80': not storable as UTF-8`)}},
	{name: "lists mixing kinds", steps: []ruleStep{
		refused(rec("items", []any{1, "a", 2.0}), ErrType, `field 'items': cannot store a list whose elements mix float, int, string`),
		refused(rec("items", []any{[]byte("x"), 1}), ErrType, `mix binary, int`),
		refused(rec("items", []any{[]any{1}, 2}), ErrType, `mix int, list`),
		refused(rec("items", pyTuple{true, nil, 1.5}), ErrType, `cannot store a tuple whose elements mix bool, float`)}},
	{name: "an empty dict cannot type a struct", steps: []ruleStep{
		refused(rec("s", rec()), ErrInvalidArgument, `field 's': cannot infer a struct from an empty dict`)}},
	{name: "a key twice", steps: []ruleStep{
		refused(rec("a", 1, "a", 2), ErrInvalidArgument, `field 'a' appears twice in the record`),
		refused(rec("s", rec("k", 1, "k", 2)), ErrInvalidArgument, `field 's': key 'k' appears twice`)}},
}

func TestRecordRules(t *testing.T) {
	for _, c := range ruleCases {
		t.Run(c.name, func(t *testing.T) { runRuleCase(t, c, false) })
	}
}

// TestRecordRulesWithWAL: the same rules, and a refused call logs nothing.
func TestRecordRulesWithWAL(t *testing.T) {
	for _, c := range ruleCases {
		t.Run(c.name, func(t *testing.T) { runRuleCase(t, c, true) })
	}
}

// hostileKeys are names Lance or Arrow cannot carry.
var hostileKeys = []struct {
	key, msg string
}{
	{"", `field name '': must be non-empty and without '.'`},
	{"a.b", `field name 'a.b': must be non-empty and without '.'`},
	{"a\x00b", `field name 'a\\x00b': must not contain NUL`},
	{"\x00", `field name '\\x00': must not contain NUL`},
}

// TestHostileKeysAreRefusedLeavingNoTrace: every hostile key, at the top
// level and nested in structs and lists, as the first record and after
// others, on strict and evolving buckets: refused naming the path, nothing
// kept.
func TestHostileKeysAreRefusedLeavingNoTrace(t *testing.T) {
	for _, evolve := range []bool{false, true} {
		for _, k := range hostileKeys {
			for _, place := range []struct {
				name string
				rec  func(key string) pyDict
				in   string
			}{
				{"top", func(key string) pyDict { return rec("x", 1, key, 2) }, ""},
				{"struct", func(key string) pyDict { return rec("x", 1, "s", rec("ok", 1, key, 2)) }, ` in 's'`},
				{"deep", func(key string) pyDict { return rec("x", 1, "s", rec("t", rec(key, 2))) }, ` in 's.t'`},
				{"list", func(key string) pyDict { return rec("x", 1, "l", []any{rec(key, 2)}) }, ` in 'l\[\]'`},
			} {
				msg := strings.Replace(k.msg, ":", place.in+":", 1)
				first := ruleCase{name: "first", evolve: evolve, steps: []ruleStep{
					refused(place.rec(k.key), ErrInvalidArgument, msg), ok(rec("x", 1))}, rows: []string{"x=1 "}}
				have := rec("x", 0, "s", rec("ok", 1, "t", rec("u", 1)), "l", []any{rec("u", 1)})
				later := ruleCase{name: "later", evolve: evolve, steps: []ruleStep{
					okFlush(have), ok(rec("x", 1)), refused(place.rec(k.key), ErrInvalidArgument, msg),
					refused([]any{rec("x", 2), place.rec(k.key)}, ErrInvalidArgument, msg)}}
				for _, c := range []ruleCase{first, later} {
					t.Run(fmt.Sprintf("evolve=%v/%q/%s/%s", evolve, k.key, place.name, c.name), func(t *testing.T) {
						runRuleCase(t, c, true)
					})
				}
			}
		}
	}
}

// TestNestingLimitAtTheBoundary: a field may nest maxNesting levels (with a
// list inside, maxListNesting), one more is refused - first record or later,
// strict or evolving - and the refusal leaves no trace.
func TestNestingLimitAtTheBoundary(t *testing.T) {
	listOf := func(levels int) any { return []any{nestedDict(levels - 2)} } // the list, then dicts, then the leaf
	for _, evolve := range []bool{false, true} {
		for _, c := range []struct {
			name   string
			value  func(levels int) any
			limit  int
			refuse string
		}{
			{"dicts", func(l int) any { return nestedDict(l - 1) }, maxNesting, `field 'deep(\.l\d+)+': cannot store a value nested more than 62 levels deep`},
			{"a list inside", listOf, maxListNesting, `field 'deep\[\](\.l\d+)+': cannot store a value nested more than 32 levels deep \(Lance's limit with a list inside\)`},
		} {
			for _, levels := range []int{c.limit - 1, c.limit, c.limit + 1} {
				accept := levels <= c.limit
				t.Run(fmt.Sprintf("evolve=%v/%s/%d", evolve, c.name, levels), func(t *testing.T) {
					var steps []ruleStep
					if accept {
						steps = append(steps, okFlush(rec("id", 0, "deep", c.value(levels))), ok(rec("id", 1, "deep", c.value(levels))))
					} else {
						steps = append(steps, refused(rec("id", 0, "deep", c.value(levels)), ErrType, c.refuse),
							okFlush(rec("id", 0)))
						if evolve {
							steps = append(steps, refused(rec("id", 1, "deep", c.value(levels)), ErrType, c.refuse))
						}
					}
					runRuleCase(t, ruleCase{evolve: evolve, steps: steps}, true)
				})
			}
		}
	}
}

// TestRefusedSchemaChangeCommitsNothing: a call whose first record would add
// a field and widen another, and whose second record is bad, changes neither
// the bucket's schema nor the dataset's version.
func TestRefusedSchemaChangeCommitsNothing(t *testing.T) {
	runRuleCase(t, ruleCase{evolve: true, steps: []ruleStep{
		okFlush(rec("n", 1)),
		refused([]any{rec("n", 1.5, "new", "x"), rec("n", "bad")}, ErrSchemaMismatch, `'n': expected double, found str 'bad'`),
		refused([]any{rec("n", 1.5, "new", "x"), rec("deep", nestedDict(maxNesting))}, ErrType, `nested more than`),
		refused([]any{rec("n", 1.5, "new", "x"), rec("a\x00b", 1)}, ErrInvalidArgument, `NUL`),
	}, schema: "n: int64", rows: []string{"n=1 "}}, true)
}

// TestNestedRecordsInA20Bucket: a 2.0 dataset cannot hold nested columns;
// a record that would add one is refused naming the field, leaving no trace.
func TestNestedRecordsInA20Bucket(t *testing.T) {
	b, err := Open(Options{Path: t.TempDir(), FlushThreshold: 100, DataStorageVersion: "2.0", SchemaEvolution: true, Logger: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	appendRecords(t, b, rec("id", 1))
	before := bucketTrace(t, b)
	_, err = b.AppendRecords(pyMarshal(t, rec("id", 2, "meta", rec("a", 1))))
	if !errors.Is(err, lance.ErrUnsupported) || !regexp.MustCompile(`field 'meta': cannot store a struct<a: int64> column in this bucket: .*2\.0`).MatchString(err.Error()) {
		t.Fatalf("AppendRecords: %v", err)
	}
	if after := bucketTrace(t, b); after != before {
		t.Fatalf("trace:\n %s\n %s", before, after)
	}
}

// TestRecordsEvolveConcurrently: goroutines append records that add fields
// and widen one, beside plain records, reads and flushes; every record
// arrives once with its values, whatever the order the changes came in.
func TestRecordsEvolveConcurrently(t *testing.T) {
	b, err := Open(Options{Path: t.TempDir(), FlushThreshold: 50, SchemaEvolution: true,
		WAL: WALOptions{Enabled: true, SyncInterval: time.Second}, Logger: func(string, ...any) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	appendRecords(t, b, rec("id", -1, "n", 0))
	const writers, per = 4, 60
	errs := make(chan error, writers+1)
	for w := 0; w < writers; w++ {
		go func() {
			for i := 0; i < per; i++ {
				id := w*per + i
				r := rec("id", id, "n", id)
				switch {
				case i%15 == 7:
					r = rec("id", id, "n", float64(id)+0.5) // widens n
				case i%10 == 3:
					r = rec("id", id, fmt.Sprintf("f%d_%d", w, i), id) // a new field
				}
				if _, err := b.AppendRecords(pyMarshal(t, r)); err != nil {
					errs <- err
					return
				}
				if i%20 == 0 {
					if err := b.Flush(); err != nil {
						errs <- err
						return
					}
				}
			}
			errs <- nil
		}()
	}
	go func() {
		for i := 0; i < 20; i++ {
			if _, recs, err := b.Read(0, -1, memory.DefaultAllocator); err != nil {
				errs <- err
				return
			} else {
				releaseAll(recs)
			}
		}
		errs <- nil
	}()
	for i := 0; i < writers+1; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	_, recs, err := b.Read(0, -1, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseAll(recs)
	seen := map[int64]bool{}
	for _, r := range recs {
		ids := r.Column(r.Schema().FieldIndices("id")[0]).(*array.Int64)
		ns := r.Column(r.Schema().FieldIndices("n")[0]).(*array.Float64)
		for i := 0; i < int(r.NumRows()); i++ {
			id := ids.Value(i)
			if seen[id] {
				t.Fatalf("id %d twice", id)
			}
			seen[id] = true
			want := float64(id)
			if id >= 0 && (id%per)%15 == 7 {
				want += 0.5
			}
			if id >= 0 && (id%per)%10 == 3 {
				if !ns.IsNull(i) {
					t.Fatalf("id %d: n = %v, want null", id, ns.Value(i))
				}
				continue
			}
			if id < 0 {
				want = 0
			}
			if ns.Value(i) != want {
				t.Fatalf("id %d: n = %v, want %v", id, ns.Value(i), want)
			}
		}
	}
	if len(seen) != writers*per+1 {
		t.Fatalf("%d records, want %d", len(seen), writers*per+1)
	}
}
