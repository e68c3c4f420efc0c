package file

import (
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/decimal256"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/internal/arrowtest"
)

// Columns of fixed_size_binary, decimal128/256 and null type, as pylance 14
// writes and reads them (value_width.go, encode21_dict128.go,
// null_column.go).

// fsbOf is v's w low bytes, little-endian: a fixed_size_binary value that
// is a small number.
func fsbOf(w int, v uint64) []byte {
	b := make([]byte, max(w, 8))
	binary.LittleEndian.PutUint64(b, v)
	return b[:w]
}

// hashOf is w pseudo-random bytes for i: a value no encoding shrinks.
func hashOf(w, i int) []byte {
	b := make([]byte, w)
	x := uint64(i)*0x9E3779B97F4A7C15 + 1
	for k := range b {
		x ^= x >> 29
		x *= 0xBF58476D1CE4E5B9
		b[k] = byte(x >> 56)
	}
	return b
}

func fsb(w int) arrow.DataType { return &arrow.FixedSizeBinaryType{ByteWidth: w} }

func dec128(i int64) any { return decimal128.FromI64(i) }
func dec256(i int64) any { return decimal256.FromI64(i) }

// fixedBytesCases: the layout and value encoding pylance 14 gives each
// column at 2.1 and 2.2. fixed_size_binary of 1, 2, 4 or 8 bytes is
// bit-packed and run-length encoded like the integer of its width (but
// never dictionary-encoded at 2.2, unlike integers); 16-byte values
// (fixed_size_binary[16], decimal128) get a dictionary at 2.1 and 2.2 when
// few are distinct; other widths are stored Flat, full-zip from 256 bytes
// on; a page of one repeated value is a 2.2 constant page (the value
// inline up to 32 bytes, else in a scalar buffer); a null column
// is an all-null page. (f16c, f16r, dc, dk and f16k at 2.1 carry a
// dictionary: checkLikePylance checks ours has one exactly when pylance's
// has.)
var fixedBytesCases = []encodingCase{
	{col21{"f1", fsb(1), nil, nullEvery(7, func(i int) any { return fsbOf(1, uint64(i%13)) })}, both("MiniBlockLayout[InlineBitpacking]")},
	{col21{"f2", fsb(2), nil, func(i int) any { return fsbOf(2, uint64(i%1000)) }}, both("MiniBlockLayout[InlineBitpacking]")},
	{col21{"f3", fsb(3), nil, nullEvery(5, func(i int) any { return fsbOf(3, uint64(i%1000)) })}, both("MiniBlockLayout[Flat]")},
	{col21{"f4", fsb(4), nil, nullEvery(7, func(i int) any { return fsbOf(4, uint64(i)) })}, both("MiniBlockLayout[InlineBitpacking]")},
	{col21{"f4h", fsb(4), nil, func(i int) any { return hashOf(4, i) }}, both("MiniBlockLayout[Flat]")},
	{col21{"f4r", fsb(4), nil, func(i int) any { return hashOf(4, i/300) }}, both("MiniBlockLayout[Rle(Flat,Flat)]")},
	{col21{"f4c", fsb(4), nil, func(i int) any { return hashOf(4, i*7%10) }}, both("MiniBlockLayout[Flat]")},
	{col21{"f8", fsb(8), nil, func(i int) any { return fsbOf(8, uint64(i*7)) }}, both("MiniBlockLayout[InlineBitpacking]")},
	{col21{"f16", fsb(16), nil, nullEvery(9, func(i int) any { return hashOf(16, i) })}, both("MiniBlockLayout[Flat]")},
	{col21{"f16c", fsb(16), nil, func(i int) any { return hashOf(16, i%10) }}, both("MiniBlockLayout[InlineBitpacking]")},
	{col21{"f16k", fsb(16), nil, func(i int) any { return hashOf(16, 1) }},
		map[string]string{"2.1": "MiniBlockLayout[InlineBitpacking]", "2.2": "ConstantLayout[inline]"}},
	{col21{"f16r", fsb(16), nil, func(i int) any { return hashOf(16, i/300) }}, both("MiniBlockLayout[Rle(Flat,Flat)]")},
	{col21{"f64", fsb(64), nil, func(i int) any { return hashOf(64, i) }}, both("MiniBlockLayout[Flat]")},
	{col21{"f64k", fsb(64), nil, func(i int) any { return hashOf(64, 3) }},
		map[string]string{"2.1": "MiniBlockLayout[Flat]", "2.2": "ConstantLayout[scalar]"}},
	{col21{"f300k", fsb(300), nil, nullEvery(3, func(i int) any { return hashOf(300, 3) })},
		map[string]string{"2.1": "FullZipLayout[Flat]", "2.2": "ConstantLayout[scalar]"}},
	{col21{"f255", fsb(255), nil, func(i int) any { return hashOf(255, i) }}, both("MiniBlockLayout[Flat]")},
	{col21{"f256", fsb(256), nil, func(i int) any { return hashOf(256, i) }}, both("FullZipLayout[Flat]")},
	{col21{"f300", fsb(300), nil, nullEvery(3, func(i int) any { return hashOf(300, i) })}, both("FullZipLayout[Flat]")},
	{col21{"d", &arrow.Decimal128Type{Precision: 10, Scale: 2}, nil, nullEvery(5, func(i int) any { return dec128(int64(i)) })}, both("MiniBlockLayout[Flat]")},
	{col21{"dneg", &arrow.Decimal128Type{Precision: 38, Scale: 4}, nil, func(i int) any { return dec128(int64(i) * -7919000001) }}, both("MiniBlockLayout[Flat]")},
	{col21{"dc", &arrow.Decimal128Type{Precision: 10, Scale: 2}, nil, func(i int) any { return dec128(int64(i % 10)) }}, both("MiniBlockLayout[InlineBitpacking]")},
	{col21{"dc9k", &arrow.Decimal128Type{Precision: 10, Scale: 2}, nil, func(i int) any { return dec128(int64(i * 7 % 9000)) }}, both("MiniBlockLayout[Flat]")},
	{col21{"dc11k", &arrow.Decimal128Type{Precision: 10, Scale: 2}, nil, func(i int) any { return dec128(int64(i * 7 % 11000)) }}, both("MiniBlockLayout[Flat]")},
	{col21{"dk", &arrow.Decimal128Type{Precision: 10, Scale: 2}, nil, nullEvery(4, func(i int) any { return dec128(1234) })},
		map[string]string{"2.1": "MiniBlockLayout[InlineBitpacking]", "2.2": "ConstantLayout[inline]"}},
	{col21{"d256", &arrow.Decimal256Type{Precision: 40, Scale: 2}, nil, nullEvery(5, func(i int) any { return dec256(int64(i)) })}, both("MiniBlockLayout[Flat]")},
	{col21{"d256c", &arrow.Decimal256Type{Precision: 40, Scale: 2}, nil, func(i int) any { return dec256(int64(i % 10)) }}, both("MiniBlockLayout[Flat]")},
	{col21{"d256k", &arrow.Decimal256Type{Precision: 76, Scale: 0}, nil, func(i int) any { return dec256(-5) }},
		map[string]string{"2.1": "MiniBlockLayout[Flat]", "2.2": "ConstantLayout[inline]"}},
	{col21{"fn", fsb(16), nil, allNull}, both("ConstantLayout[null]")},
	{col21{"nul", arrow.Null, nil, allNull}, both("ConstantLayout[null]")},
}

// TestWriteFixedBytesLikePylance: fixedBytesCases are written at 2.1 and
// 2.2 as pylance writes them, and both readers read them back exactly.
func TestWriteFixedBytesLikePylance(t *testing.T) {
	checkLikePylance(t, fixedBytesCases, 20000, nil)
}

// TestWriteFixedBytes20LikePylance: at 2.0 every page of these columns is
// what pylance writes (Nullable Flat of the value's width, AllNulls for a
// null column), many pages of them, and both readers read them back.
func TestWriteFixedBytes20LikePylance(t *testing.T) {
	tc := case21{name: "fixed-bytes-2.0", rows: 20000}
	for _, c := range fixedBytesCases {
		tc.cols = append(tc.cols, c.col)
	}
	rec := tc.record()
	defer rec.Release()
	sch := rec.Schema()
	rp, ro := writeLikePylance(t, rec, "2.0")
	for ci, f := range sch.Fields() {
		pd, od := rp.pageDescriptions(ci), ro.pageDescriptions(ci)
		if len(pd) == 0 || len(od) == 0 {
			t.Fatalf("%s: pages %v, pylance's %v", f.Name, od, pd)
		}
		for _, d := range od {
			if d != pd[0] {
				t.Errorf("%s: we wrote %v, pylance %v", f.Name, od, pd)
				break
			}
		}
	}
}

// fixedBytesTable is a table of these types flat and below lists and
// structs, as pylance writes them at every version (2.0 takes no null
// struct).
func fixedBytesTable(rows int) arrow.Record {
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "fsb", Type: fsb(4), Nullable: true},
		{Name: "uuid", Type: fsb(16), Nullable: true},
		{Name: "dec", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
		{Name: "dec256", Type: &arrow.Decimal256Type{Precision: 40, Scale: 2}, Nullable: true},
		{Name: "nul", Type: arrow.Null, Nullable: true},
		{Name: "l_fsb", Type: arrow.ListOf(fsb(4)), Nullable: true},
		{Name: "l_dec", Type: arrow.ListOf(&arrow.Decimal128Type{Precision: 10, Scale: 2}), Nullable: true},
		{Name: "l_nul", Type: arrow.ListOf(arrow.Null), Nullable: true},
		{Name: "st", Type: arrow.StructOf(
			arrow.Field{Name: "f", Type: fsb(4), Nullable: true},
			arrow.Field{Name: "d", Type: &arrow.Decimal256Type{Precision: 40, Scale: 0}, Nullable: true},
			arrow.Field{Name: "n", Type: arrow.Null, Nullable: true}), Nullable: true},
	}, nil)
	rb := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer rb.Release()
	for i := 0; i < rows; i++ {
		null := i%7 == 3
		appendAny(rb.Field(0), nullEvery(7, func(i int) any { return fsbOf(4, uint64(i)) })(i))
		appendAny(rb.Field(1), nullEvery(5, func(i int) any { return hashOf(16, i) })(i))
		appendAny(rb.Field(2), nullEvery(3, func(i int) any { return dec128(int64(i) * 37) })(i))
		appendAny(rb.Field(3), nullEvery(4, func(i int) any { return dec256(-int64(i)) })(i))
		rb.Field(4).AppendNull()
		for k, vb := range []array.Builder{rb.Field(5), rb.Field(6), rb.Field(7)} {
			lb := vb.(*array.ListBuilder)
			if null {
				lb.AppendNull()
				continue
			}
			lb.Append(true)
			for j := 0; j < i%4; j++ {
				switch k {
				case 0:
					appendAny(lb.ValueBuilder(), fsbOf(4, uint64(i*4+j)))
				case 1:
					appendAny(lb.ValueBuilder(), nullEvery(3, func(i int) any { return dec128(int64(i)) })(i+j))
				default:
					lb.ValueBuilder().AppendNull()
				}
			}
		}
		sb := rb.Field(8).(*array.StructBuilder)
		sb.Append(true)
		appendAny(sb.FieldBuilder(0), fsbOf(4, uint64(i)))
		appendAny(sb.FieldBuilder(1), nullEvery(6, func(i int) any { return dec256(int64(i) << 40) })(i))
		sb.FieldBuilder(2).AppendNull()
	}
	return rb.NewRecord()
}

// TestReadFixedBytesFromPylance: what pylance writes of these types at
// 2.0, 2.1 and 2.2, over many pages, our reader reads exactly (whole and
// in ranges); what our writer makes of the same table pylance reads
// exactly.
func TestReadFixedBytesFromPylance(t *testing.T) {
	const rows = 6000
	rec := fixedBytesTable(rows)
	defer rec.Release()
	sch := rec.Schema()
	for _, ver := range []string{"2.0", "2.1", "2.2"} {
		t.Run(ver, func(t *testing.T) {
			dir := t.TempDir()
			in, py := filepath.Join(dir, "in.arrow"), filepath.Join(dir, "py.lance")
			var batches []arrow.Record // 2.0: a page per batch and column
			for from := int64(0); from < rows; from += 1000 {
				batches = append(batches, rec.NewSlice(from, from+1000))
			}
			arrowtest.WriteIPCFile(t, in, sch, batches)
			releaseAll(batches)
			if ver == "2.0" {
				runPylance(t, "write", in, py, "4096")
			} else {
				runPylance(t, "writever", in, py, ver, "4096")
			}
			checkReadRanges(t, py, sch, rec.Columns(), minorOf(ver))
			if ver == "2.0" {
				return // our 2.0 writer takes no nested fields
			}
			ours := filepath.Join(dir, "ours.lance")
			if _, err := WriteFileWithOptions(ours, mustFields(t, sch), []arrow.Record{rec}, WriteOptions{Version: Version{2, minorOf(ver)}, MaxPageBytes: 4096}); err != nil {
				t.Fatal(err)
			}
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			checkBothReaders(t, ours, sch, rec.Columns(), mem)
			mem.AssertSize(t, 0)
		})
	}
}

// TestReadNullColumnWithValues: a page of a null column that holds a
// value is refused, not dropped.
func TestReadNullColumnWithValues(t *testing.T) {
	sch := arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Uint8, Nullable: true}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	b.Field(0).(*array.Uint8Builder).AppendValues([]uint8{0, 7, 0}, []bool{false, true, false})
	rec := b.NewRecord()
	defer rec.Release()
	for _, ver := range []string{"2.0", "2.1", "2.2"} {
		p := filepath.Join(t.TempDir(), "f.lance")
		if _, err := WriteFileWithOptions(p, mustFields(t, sch), []arrow.Record{rec}, WriteOptions{Version: Version{2, minorOf(ver)}}); err != nil {
			t.Fatal(err)
		}
		r, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		asNull := arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.Null, Nullable: true}}, nil)
		got, err := r.Read(asNull, []int{0}, 0, 3, memory.DefaultAllocator)
		if err == nil {
			got.Release()
			t.Errorf("%s: a null column with a value read without error", ver)
		}
		r.Close()
	}
}

// checkReadRanges reads the file at path whole and in ranges, its fields
// nested or not, and compares with want; the file must have more than one
// page for its first column.
func checkReadRanges(t *testing.T, path string, sch *arrow.Schema, want []arrow.Array, minor uint32) {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, mi := r.Version(); mi != minor {
		t.Fatalf("file version 2.%d, want 2.%d", mi, minor)
	}
	if pages := len(r.cols[0].pages); pages < 2 {
		t.Errorf("column 0 has %d pages, want more than one", pages)
	}
	cols := make([]int, sch.NumFields())
	c := 0
	for i, f := range sch.Fields() {
		cols[i] = c
		if minor == 0 {
			c += legacyColumns(f.Type)
		} else {
			c += leafCount(f.Type)
		}
	}
	if c != r.NumColumns() {
		t.Fatalf("schema needs %d columns, file has %d", c, r.NumColumns())
	}
	n := int64(want[0].Len())
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for _, rg := range [][2]int64{{0, n}, {1, n - 1}, {n / 3, n / 3}, {n - 7, 7}, {2049, 1}} {
		rec, err := r.Read(sch, cols, rg[0], rg[1], mem)
		if err != nil {
			t.Fatalf("Read(%d, %d): %v", rg[0], rg[1], err)
		}
		for i := range want {
			exp := array.NewSlice(want[i], rg[0], rg[0]+rg[1])
			if !array.Equal(exp, rec.Column(i)) {
				t.Errorf("Read(%d, %d) column %s:\n got %v\nwant %v", rg[0], rg[1], sch.Field(i).Name, trunc(rec.Column(i)), trunc(exp))
			}
			exp.Release()
		}
		rec.Release()
	}
}

// TestWriteFixedBytesNestedLikePylance: fixed_size_list, list and struct of
// these types are written with pylance's layouts (vectors of them as
// vectors of numbers: mini-block FixedSizeList, full-zip from 256 bytes a
// row; a list of fixed_size_binary[4] bit-packed; a null struct field an
// all-null page) and read back exactly by both readers.
func TestWriteFixedBytesNestedLikePylance(t *testing.T) {
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "v4", Type: arrow.FixedSizeListOf(2, fsb(4)), Nullable: true},
		{Name: "v16", Type: arrow.FixedSizeListOf(3, fsb(16)), Nullable: true},
		{Name: "vd", Type: arrow.FixedSizeListOf(2, &arrow.Decimal128Type{Precision: 10, Scale: 2}), Nullable: true},
		{Name: "ve", Type: arrow.FixedSizeListOf(2, &arrow.Decimal256Type{Precision: 40, Scale: 2}), Nullable: true},
		{Name: "vw", Type: arrow.FixedSizeListOf(2, fsb(200)), Nullable: true},
		{Name: "l", Type: arrow.ListOf(fsb(4)), Nullable: true},
		{Name: "st", Type: arrow.StructOf(
			arrow.Field{Name: "d", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
			arrow.Field{Name: "n", Type: arrow.Null, Nullable: true}), Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	for i := 0; i < 5000; i++ {
		for k := 0; k < 6; k++ {
			lb := b.Field(k).(array.ListLikeBuilder)
			if i%7 == 3 {
				lb.AppendNull()
				continue
			}
			lb.Append(true)
			n := i % 4
			if fl, ok := sch.Field(k).Type.(*arrow.FixedSizeListType); ok {
				n = int(fl.Len())
			}
			for j := 0; j < n; j++ {
				switch k {
				case 0, 5:
					appendAny(lb.ValueBuilder(), fsbOf(4, uint64(i*2+j)))
				case 1:
					appendAny(lb.ValueBuilder(), hashOf(16, i*3+j))
				case 2:
					appendAny(lb.ValueBuilder(), dec128(int64(i*2+j)))
				case 3:
					appendAny(lb.ValueBuilder(), dec256(int64(i*2+j)))
				default:
					appendAny(lb.ValueBuilder(), hashOf(200, i*2+j))
				}
			}
		}
		sb := b.Field(6).(*array.StructBuilder)
		sb.Append(true)
		appendAny(sb.FieldBuilder(0), nullEvery(5, func(i int) any { return dec128(int64(i)) })(i))
		sb.FieldBuilder(1).AppendNull()
	}
	rec := b.NewRecord()
	defer rec.Release()
	vectors := both("MiniBlockLayout[FixedSizeList(Flat)]")
	checkRecordLikePylance(t, rec, []map[string]string{vectors, vectors, vectors, vectors,
		both("FullZipLayout[FixedSizeList(Flat)]"), both("MiniBlockLayout[InlineBitpacking]"),
		both("MiniBlockLayout[Flat]"), both("ConstantLayout[null]")}, nil)
}
