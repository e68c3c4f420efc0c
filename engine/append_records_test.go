package engine

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestAppendRecordsInOrderWithArrow: rows put as marshal records and as Arrow
// batches read back as one log, in append order, before and after a flush
// and a reopen, with and without the WAL.
func TestAppendRecordsInOrderWithArrow(t *testing.T) {
	for _, wal := range []WALOptions{{}, {Enabled: true, SyncInterval: time.Second}, {Enabled: true}} {
		t.Run(fmtWAL(wal), func(t *testing.T) {
			dir := t.TempDir()
			open := func() *Bucket {
				b, err := Open(Options{Path: dir, FlushThreshold: 1000, WAL: wal, Logger: t.Logf})
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			b := open()
			appendRows(t, b, 0, 10)
			appendRecords(t, b, testRecord(10))
			appendRecords(t, b, testRecords(11, 10))
			if got := readIDs(t, b, 5, 10); !equalInts(got, seq(5, 10)) {
				t.Fatalf("read 5..14: %v", got)
			}
			appendRows(t, b, 21, 10)
			appendRecords(t, b, testRecords(31, 5))
			if total, _, buffered, err := b.Counts(); err != nil || total != 36 || buffered != 36 {
				t.Fatalf("Counts = %d total, %d buffered, %v; want 36, 36", total, buffered, err)
			}
			if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, 36)) {
				t.Fatalf("read all: %v", got)
			}
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
			appendRecords(t, b, testRecords(36, 4))
			if s, err := b.Stats(); err != nil || s.TotalCount != 40 || s.BufferCount != 4 {
				t.Fatalf("Stats = %+v, %v", s, err)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			b = open()
			defer b.Close()
			if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, 40)) {
				t.Fatalf("after reopen: %v", got)
			}
		})
	}
}

func fmtWAL(w WALOptions) string {
	switch {
	case !w.Enabled:
		return "no WAL"
	case w.SyncInterval > 0:
		return "WAL interval sync"
	}
	return "WAL sync every append"
}

// kindsSchema has a column of every type AppendRecords fills.
var kindsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "i8", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
	{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "i64", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "u8", Type: arrow.PrimitiveTypes.Uint8, Nullable: true},
	{Name: "u64", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
	{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
	{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "ls", Type: arrow.BinaryTypes.LargeString, Nullable: true},
	{Name: "b", Type: arrow.BinaryTypes.Binary, Nullable: true},
	{Name: "lb", Type: arrow.BinaryTypes.LargeBinary, Nullable: true},
	{Name: "st", Type: arrow.StructOf(
		arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		arrow.Field{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	), Nullable: true},
	{Name: "fl", Type: arrow.ListOf(arrow.PrimitiveTypes.Float64), Nullable: true},
	{Name: "ll", Type: arrow.LargeListOf(arrow.StructOf(
		arrow.Field{Name: "k", Type: arrow.BinaryTypes.String, Nullable: true})), Nullable: true},
	{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_us, Nullable: true},
	{Name: "req", Type: arrow.PrimitiveTypes.Int64, Nullable: false},
}, nil)

// openKindsBucket opens a bucket whose schema is kindsSchema, fixed by one
// Arrow row (req=0, everything else null).
func openKindsBucket(t *testing.T, wal WALOptions) *Bucket {
	t.Helper()
	b, err := Open(Options{Path: t.TempDir(), FlushThreshold: 1000, WAL: wal, Logger: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	bld := array.NewRecordBuilder(memory.DefaultAllocator, kindsSchema)
	defer bld.Release()
	for i, f := range kindsSchema.Fields() {
		if f.Name == "req" {
			bld.Field(i).(*array.Int64Builder).Append(0)
		} else {
			bld.Field(i).AppendNull()
		}
	}
	rec := bld.NewRecord()
	defer rec.Release()
	if err := b.Append(rec); err != nil {
		t.Fatal(err)
	}
	return b
}

// rowsJSON renders rows [offset, end) as JSON lines.
func rowsJSON(t *testing.T, b *Bucket, offset int64) string {
	t.Helper()
	_, recs, err := b.Read(offset, -1, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseAll(recs)
	var out bytes.Buffer
	for _, r := range recs {
		if err := array.RecordToJSON(r, &out); err != nil {
			t.Fatal(err)
		}
	}
	return out.String()
}

func TestAppendRecordsConvertsEveryKind(t *testing.T) {
	b := openKindsBucket(t, WALOptions{})
	defer b.Close()
	full := pyDict{
		{"i8", -128}, {"i32", 2147483647}, {"i64", int64(-1) << 62}, {"u8", 255}, {"u64", int64(1) << 62},
		{"f32", 16777216}, {"f64", 9007199254740992}, // ints the float types hold exactly
		{"ok", true}, {"s", "héllo"}, {"ls", "large"}, {"b", []byte{0, 255}}, {"lb", []byte("x")},
		{"st", pyDict{{"tags", pyTuple{"a", nil}}, {"x", 7}}}, // keys in any order, tuple as list
		{"fl", []any{1, 2.5, nil}},                            // ints among floats
		{"ll", []any{pyDict{{"k", "v"}}, nil, pyDict{}}},
		{"ts", nil}, {"req", 1},
	}
	sparse := pyDict{{"req", 2}, {"st", pyDict{{"x", nil}}}, {"fl", []any{}}}
	appendRecords(t, b, []any{full, sparse})
	want := `{"b":"AP8=","f32":16777216,"f64":9007199254740992,"fl":[1,2.5,null],"i32":2147483647,"i64":-4611686018427387904,"i8":-128,"lb":"eA==","ll":[{"k":"v"},null,{"k":null}],"ls":"large","ok":true,"req":1,"s":"héllo","st":{"tags":["a",null],"x":7},"ts":null,"u64":4611686018427387904,"u8":255}
{"b":null,"f32":null,"f64":null,"fl":[],"i32":null,"i64":null,"i8":null,"lb":null,"ll":null,"ls":null,"ok":null,"req":2,"s":null,"st":{"tags":null,"x":null},"ts":null,"u64":null,"u8":null}
`
	if got := rowsJSON(t, b, 1); got != want {
		t.Fatalf("rows:\n%s\nwant:\n%s", got, want)
	}
}

// TestAppendRecordsRefuses: records that do not fit a strict bucket's
// schema are refused whole - nothing buffered, nothing logged - and the
// bucket takes good records afterwards.
func TestAppendRecordsRefuses(t *testing.T) {
	ok := func(kv ...pyItem) pyDict { return append(pyDict{{"req", 1}}, kv...) }
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"unknown key", pyMarshal(t, ok(pyItem{"nope", 1})), ErrSchemaMismatch},
		{"key twice", pyMarshal(t, ok(pyItem{"i64", 1}, pyItem{"i64", 2})), ErrInvalidArgument},
		{"non-str key", pyMarshal(t, pyDict{{"req", 1}, {int64(3), 1}}), ErrType},
		{"empty record", pyMarshal(t, pyDict{}), ErrInvalidArgument},
		{"float into int", pyMarshal(t, ok(pyItem{"i64", 1.0})), ErrSchemaMismatch},
		{"bool into int", pyMarshal(t, ok(pyItem{"i64", true})), ErrSchemaMismatch},
		{"int into bool", pyMarshal(t, ok(pyItem{"ok", 1})), ErrSchemaMismatch},
		{"int out of int8", pyMarshal(t, ok(pyItem{"i8", 128})), ErrSchemaMismatch},
		{"negative into uint", pyMarshal(t, ok(pyItem{"u8", -1})), ErrSchemaMismatch},
		{"int beyond 2^53 into float", pyMarshal(t, ok(pyItem{"f64", int64(1)<<53 + 1})), ErrSchemaMismatch},
		{"int beyond 2^24 into float32", pyMarshal(t, ok(pyItem{"f32", 1<<24 + 1})), ErrSchemaMismatch},
		{"str into binary", pyMarshal(t, ok(pyItem{"b", "x"})), ErrSchemaMismatch},
		{"bytes into str", pyMarshal(t, ok(pyItem{"s", []byte("x")})), ErrSchemaMismatch},
		{"list into struct", pyMarshal(t, ok(pyItem{"st", []any{1}})), ErrSchemaMismatch},
		{"unknown struct key", pyMarshal(t, ok(pyItem{"st", pyDict{{"y", 1}}})), ErrSchemaMismatch},
		{"wrong list item", pyMarshal(t, ok(pyItem{"fl", []any{1.0, "x"}})), ErrType},
		{"int for a timestamp", pyMarshal(t, ok(pyItem{"ts", 1})), ErrSchemaMismatch},
		{"None into non-nullable", pyMarshal(t, pyDict{{"req", nil}}), ErrSchemaMismatch},
		{"non-nullable missing", pyMarshal(t, pyDict{{"i64", 1}}), ErrSchemaMismatch},
		{"not a dict", pyMarshal(t, pyTuple{ok()}), ErrType},
		{"a list with a non-dict", pyMarshal(t, []any{ok(), 1}), ErrType},
		{"a bad record after a good one", pyMarshal(t, []any{ok(), ok(pyItem{"nope", 1})}), ErrSchemaMismatch},
		{"garbage", []byte("\x01\x02garbage"), ErrInvalidArgument},
		{"truncated", pyMarshal(t, ok())[:5], ErrInvalidArgument},
		{"empty input", nil, ErrInvalidArgument},
	}
	b := openKindsBucket(t, WALOptions{Enabled: true, SyncInterval: time.Second})
	defer b.Close()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, _ := b.Stats()
			n, err := b.AppendRecords(c.in)
			if !errors.Is(err, c.want) || n != 0 {
				t.Fatalf("AppendRecords = %d, %v; want 0, %v", n, err, c.want)
			}
			after, _ := b.Stats()
			if after.TotalCount != before.TotalCount || after.WALSize != before.WALSize {
				t.Fatalf("a refused append changed the bucket: %d -> %d rows, WAL %d -> %d bytes",
					before.TotalCount, after.TotalCount, before.WALSize, after.WALSize)
			}
			if n, err := b.AppendRecords(pyMarshal(t, ok(pyItem{"i64", 5}))); n != 1 || err != nil {
				t.Fatalf("a good record after the refusal: %d, %v", n, err)
			}
		})
	}
	// Every row is the good one: the refused ones left nothing in any column.
	got := rowsJSON(t, b, 1)
	want := strings.Repeat(`{"b":null,"f32":null,"f64":null,"fl":null,"i32":null,"i64":5,"i8":null,"lb":null,"ll":null,"ls":null,"ok":null,"req":1,"s":null,"st":null,"ts":null,"u64":null,"u8":null}`+"\n", len(cases))
	if got != want {
		t.Fatalf("rows after the refusals:\n%s", got)
	}
}

func TestAppendRecordsOnAClosedBucket(t *testing.T) {
	b := openBucket(t, t.TempDir(), 10)
	b.Close()
	if _, err := b.AppendRecords(pyMarshal(t, testRecord(0))); !errors.Is(err, ErrClosed) {
		t.Fatalf("AppendRecords on a closed bucket: %v, want ErrClosed", err)
	}
}

// TestAppendRecordsReplay: records logged to the WAL come back after a crash,
// exactly once, in order with Arrow batches, across a schema change.
func TestAppendRecordsReplay(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, b *Bucket) // writes rows 0..29
	}{
		{"records only after the first batch", func(t *testing.T, b *Bucket) {
			appendRows(t, b, 0, 1)
			for i := int64(1); i < 30; i++ {
				appendRecords(t, b, testRecord(i))
			}
		}},
		{"interleaved, one flush", func(t *testing.T, b *Bucket) {
			appendRows(t, b, 0, 5)
			appendRecords(t, b, testRecords(5, 10))
			appendRows(t, b, 15, 5)
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
			appendRecords(t, b, testRecords(20, 5))
			appendRows(t, b, 25, 2)
			appendRecords(t, b, testRecords(27, 3))
		}},
	}
	for _, sync := range []time.Duration{0, time.Second} {
		for _, c := range cases {
			t.Run(c.name+"/"+sync.String(), func(t *testing.T) {
				dir := t.TempDir()
				b := openWALBucket(t, dir, 1000, sync)
				c.run(t, b)
				crash(t, b)
				b = openWALBucket(t, dir, 1000, sync)
				defer b.Close()
				if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, 30)) {
					t.Fatalf("after replay: %v", got)
				}
				appendRecords(t, b, testRecord(30)) // the tail works after replay
				if got := readIDs(t, b, 30, -1); !equalInts(got, []int64{30}) {
					t.Fatalf("after replay and one more record: %v", got)
				}
			})
		}
	}
}

// TestAppendRecordsReplayAcrossEvolution: records that evolve the schema,
// written before and after an Arrow batch that added a field, replay against
// the schema of their place in the log.
func TestAppendRecordsReplayAcrossEvolution(t *testing.T) {
	dir := t.TempDir()
	open := func() *Bucket {
		b, err := Open(Options{Path: dir, FlushThreshold: 1000, SchemaEvolution: true,
			WAL: WALOptions{Enabled: true, SyncInterval: time.Second}, Logger: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := open()
	add := func(kv ...any) {
		rec := batch(t, kv...)
		defer rec.Release()
		if err := b.Append(rec); err != nil {
			t.Fatal(err)
		}
	}
	add("a", int64(1))
	appendRecords(t, b, pyDict{{"a", 2}})
	appendRecords(t, b, pyDict{{"a", 3}, {"note", "x"}})
	add("a", int64(4), "note", "w", "n", int64(1))
	appendRecords(t, b, []any{pyDict{{"note", "y"}, {"n", 1.5}}, pyDict{{"a", 5}, {"note", nil}}})
	want := []string{"a=1 note=(null) n=(null) ", "a=2 note=(null) n=(null) ", "a=3 note=x n=(null) ",
		"a=4 note=w n=1 ", "a=(null) note=y n=1.5 ", "a=5 note=(null) n=(null) "}
	check := func(when string) {
		got := rowsOf(t, b)
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("%s: rows %q, want %q", when, got, want)
		}
	}
	check("before the crash")
	crash(t, b)
	b = open()
	defer b.Close()
	check("after replay")
}

// TestAppendRecordsSharesNoMemoryWithTheCaller: the caller may reuse its
// bytes once AppendRecords returns.
func TestAppendRecordsSharesNoMemoryWithTheCaller(t *testing.T) {
	b := openBucket(t, t.TempDir(), 100)
	defer b.Close()
	appendRows(t, b, 0, 1)
	in := pyMarshal(t, testRecord(1))
	if _, err := b.AppendRecords(in); err != nil {
		t.Fatal(err)
	}
	for i := range in {
		in[i] = 0xAA
	}
	if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, 2)) {
		t.Fatalf("rows %v", got)
	}
}

// TestAppendRecordsConcurrently: records, Arrow batches, reads and flushes
// from several goroutines; every row arrives once and each writer's rows
// stay in its order.
func TestAppendRecordsConcurrently(t *testing.T) {
	b := openWALBucket(t, t.TempDir(), 1<<20, time.Second)
	defer b.Close()
	appendRows(t, b, 0, 1)
	const writers, perWriter = 4, 200
	var wg sync.WaitGroup
	for w := int64(0); w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int64(0); i < perWriter; i++ {
				id := 1 + w*perWriter + i
				var err error
				if i%10 == 0 {
					rec := makeRows(t, memory.DefaultAllocator, id, 1)
					err = b.Append(rec)
					rec.Release()
				} else {
					_, err = b.AppendRecords(pyMarshal(t, testRecord(id)))
				}
				if err != nil {
					t.Error(err)
					return
				}
				if i%50 == 0 {
					if err := b.Flush(); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // a reader: every read is a consistent prefix
		defer wg.Done()
		for i := 0; i < 50; i++ {
			_, recs, err := b.Read(0, -1, memory.DefaultAllocator)
			if err != nil {
				t.Error(err)
				return
			}
			ids(t, recs)
			releaseAll(recs)
		}
	}()
	wg.Wait()
	got := readIDs(t, b, 0, -1)
	if len(got) != 1+writers*perWriter {
		t.Fatalf("%d rows, want %d", len(got), 1+writers*perWriter)
	}
	last := map[int64]int64{}
	for _, id := range got[1:] {
		w := (id - 1) / perWriter
		if prev, ok := last[w]; ok && id <= prev {
			t.Fatalf("writer %d's row %d after its row %d", w, id, prev)
		}
		last[w] = id
	}
}
