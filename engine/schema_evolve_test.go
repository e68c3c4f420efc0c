package engine

import (
	"errors"
	"fmt"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// batch builds a one-row record from (name, value) pairs; a value's Go type
// picks the column type (nil: a null string).
func batch(t *testing.T, kv ...any) arrow.Record {
	t.Helper()
	var fields []arrow.Field
	var cols []arrow.Array
	for i := 0; i < len(kv); i += 2 {
		name := kv[i].(string)
		var bld array.Builder
		switch v := kv[i+1].(type) {
		case int64:
			b := array.NewInt64Builder(memory.DefaultAllocator)
			b.Append(v)
			bld = b
		case int32:
			b := array.NewInt32Builder(memory.DefaultAllocator)
			b.Append(v)
			bld = b
		case float64:
			b := array.NewFloat64Builder(memory.DefaultAllocator)
			b.Append(v)
			bld = b
		case string:
			b := array.NewStringBuilder(memory.DefaultAllocator)
			b.Append(v)
			bld = b
		case nil:
			b := array.NewStringBuilder(memory.DefaultAllocator)
			b.AppendNull()
			bld = b
		default:
			t.Fatalf("batch: unsupported %T", v)
		}
		cols = append(cols, bld.NewArray())
		bld.Release()
		fields = append(fields, arrow.Field{Name: name, Type: cols[len(cols)-1].DataType(), Nullable: true})
	}
	rec := array.NewRecord(arrow.NewSchema(fields, nil), cols, 1)
	for _, c := range cols {
		c.Release()
	}
	return rec
}

// rowsOf renders every row as "name=value ..." in schema order.
func rowsOf(t *testing.T, b *Bucket) []string {
	t.Helper()
	_, recs, err := b.Read(0, -1, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseAll(recs)
	var out []string
	for _, r := range recs {
		for i := 0; i < int(r.NumRows()); i++ {
			row := ""
			for c, f := range r.Schema().Fields() {
				row += fmt.Sprintf("%s=%s ", f.Name, r.Column(c).ValueStr(i))
			}
			out = append(out, row)
		}
	}
	return out
}

func TestSchemaEvolution(t *testing.T) {
	steps := []struct {
		name    string
		rec     []any
		wantErr bool
	}{
		{"first record fixes id and v", []any{"id", int64(1), "v", int64(10)}, false},
		{"a new field", []any{"id", int64(2), "v", int64(20), "tag", "x"}, false},
		{"a missing field and another order", []any{"tag", "y", "id", int64(3)}, false},
		{"int32 widens to int64", []any{"id", int32(4), "v", int32(40)}, false},
		{"str into an int field", []any{"id", "five"}, true},
		{"a float widens the int field v", []any{"id", int64(6), "v", 6.5}, false},
		{"an int into the widened field", []any{"id", int64(7), "v", int64(70)}, false},
	}
	want := []string{
		"id=1 v=10 tag=(null) ",
		"id=2 v=20 tag=x ",
		"id=3 v=(null) tag=y ",
		"id=4 v=40 tag=(null) ",
		"id=6 v=6.5 tag=(null) ",
		"id=7 v=70 tag=(null) ",
	}
	// flush after every step in one run, never in the other: the dataset's
	// schema change and the buffered rows' widening must agree.
	for _, flushEach := range []bool{false, true} {
		t.Run(fmt.Sprintf("flush=%v", flushEach), func(t *testing.T) {
			path := t.TempDir()
			b, err := Open(Options{Path: path, SchemaEvolution: true, WAL: WALOptions{Enabled: true}})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range steps {
				rec := batch(t, s.rec...)
				err := b.Append(rec)
				rec.Release()
				if s.wantErr != (err != nil) {
					t.Fatalf("%s: err = %v", s.name, err)
				}
				if err != nil && !errors.Is(err, ErrSchemaMismatch) {
					t.Fatalf("%s: err = %v, want ErrSchemaMismatch", s.name, err)
				}
				if flushEach {
					if err := b.Flush(); err != nil {
						t.Fatalf("%s: flush: %v", s.name, err)
					}
				}
			}
			if got := rowsOf(t, b); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("rows:\n%q\nwant\n%q", got, want)
			}
			crash(t, b) // unflushed rows come back from the WAL with their schema
			b, err = Open(Options{Path: path, SchemaEvolution: true, WAL: WALOptions{Enabled: true}})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if got := rowsOf(t, b); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("rows after recovery:\n%q\nwant\n%q", got, want)
			}
		})
	}
}

func TestWidenIntsIntoFloat(t *testing.T) {
	b, err := Open(Options{Path: t.TempDir(), SchemaEvolution: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, rec := range []arrow.Record{batch(t, "x", 1.5), batch(t, "x", int64(2))} {
		if err := b.Append(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	tooBig := batch(t, "x", int64(1<<53+1))
	defer tooBig.Release()
	if err := b.Append(tooBig); !errors.Is(err, ErrSchemaMismatch) {
		t.Fatalf("2^53+1 into a float64 field: %v", err)
	}
	if got := rowsOf(t, b); fmt.Sprint(got) != fmt.Sprint([]string{"x=1.5 ", "x=2 "}) {
		t.Fatalf("rows: %q", got)
	}
}

func TestStrictSchemaWithoutEvolution(t *testing.T) {
	b := openBucket(t, t.TempDir(), 1000)
	defer b.Close()
	first := batch(t, "id", int64(1))
	defer first.Release()
	if err := b.Append(first); err != nil {
		t.Fatal(err)
	}
	extra := batch(t, "id", int64(2), "tag", "x")
	defer extra.Release()
	if err := b.Append(extra); !errors.Is(err, ErrSchemaMismatch) {
		t.Fatalf("a new field without evolution: %v", err)
	}
}

// TestWideningRefusedForInexactStoredValue: an int64 field holding 2^53+1
// (stored or buffered) cannot become float64; the batch asking for it is
// refused and everything stays as it was.
func TestWideningRefusedForInexactStoredValue(t *testing.T) {
	for _, flushed := range []bool{false, true} {
		t.Run(fmt.Sprintf("flushed=%v", flushed), func(t *testing.T) {
			b, err := Open(Options{Path: t.TempDir(), SchemaEvolution: true})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			big := batch(t, "v", int64(1<<53+1))
			defer big.Release()
			if err := b.Append(big); err != nil {
				t.Fatal(err)
			}
			if flushed {
				if err := b.Flush(); err != nil {
					t.Fatal(err)
				}
			}
			f := batch(t, "v", 0.5)
			defer f.Release()
			if err := b.Append(f); !errors.Is(err, ErrSchemaMismatch) {
				t.Fatalf("widening over 2^53+1: %v", err)
			}
			if err := b.Flush(); err != nil {
				t.Fatalf("flush after the refused batch: %v", err)
			}
			if got := rowsOf(t, b); fmt.Sprint(got) != fmt.Sprint([]string{"v=9007199254740993 "}) {
				t.Fatalf("rows: %q", got)
			}
		})
	}
}

// TestCheckSchemaFollowsEvolution: callers (the C layer) ask CheckSchema
// before importing a batch; with evolution on it must accept what Append
// accepts and refuse what Append refuses.
func TestCheckSchemaFollowsEvolution(t *testing.T) {
	b, err := Open(Options{Path: t.TempDir(), SchemaEvolution: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	first := batch(t, "id", int64(1))
	defer first.Release()
	if err := b.Append(first); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		rec  arrow.Record
		want error
	}{
		{batch(t, "id", int64(2), "tag", "x"), nil},
		{batch(t, "tag", "y"), nil},
		{batch(t, "id", 2.5), nil},
		{batch(t, "id", "two"), ErrSchemaMismatch},
	}
	for _, c := range cases {
		err := b.CheckSchema(c.rec.Schema())
		if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Fatalf("CheckSchema(%s) = %v, want %v", c.rec.Schema(), err, c.want)
		}
		c.rec.Release()
	}
}
