package file

import (
	"bytes"
	"math/rand"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/internal/arrowtest"
)

// sample21File returns a small file of version v (every type of issue #3,
// nulls at every level, several pages) written by WriteFileWithOptions.
func sample21File(t testing.TB, v Version, comp string) []byte {
	sch := arrowtest.AllTypesSchema()
	rng := rand.New(rand.NewSource(int64(v.Minor)))
	o := arrowtest.DefaultGen
	o.LongRate = 0.05
	rec := arrowtest.GenRecord(rng, sch, 40, o)
	defer rec.Release()
	p := filepath.Join(t.TempDir(), "s21.lance")
	if _, err := WriteFileWithOptions(p, mustFields(t, sch), []arrow.Record{rec}, WriteOptions{Version: v, MaxPageRows: 16, Compression: comp}); err != nil {
		t.Fatal(err)
	}
	b, err := readFileBytes(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzFullZipValues targets the per-value decoders of full-zip pages
// (Flat, FixedSizeList of Flat or Constant items, with and without item
// validity, Variable, General).
func FuzzFullZipValues(f *testing.F) {
	f.Add(uint8(0), uint16(3), uint8(2), []byte{1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0})
	f.Add(uint8(3), uint16(4), uint8(1), []byte{1, 0, 1, 1})
	f.Add(uint8(4), uint16(2), uint8(5), bytes.Repeat([]byte{0xff, 0, 0, 0x80, 0x3f}, 2))
	f.Fuzz(func(t *testing.T, ei uint8, n uint16, vb uint8, data []byte) {
		flat := func(b uint64) *compressive { return &compressive{kind: compFlat, bits: b} }
		encs := []*compressive{
			flat(32),
			{kind: compFixedSizeList, itemsPerValue: 2, child: flat(32)},
			{kind: compFixedSizeList, itemsPerValue: 3, hasValidity: true, child: flat(8)},
			{kind: compFixedSizeList, itemsPerValue: 1, hasValidity: true, child: &compressive{kind: compConstant}},
			{kind: compFixedSizeList, itemsPerValue: 1, hasValidity: true, child: &compressive{kind: compConstant, hasValue: true, value: []byte{0, 0, 0x80, 0x3f}}},
			{kind: compFixedSizeList, itemsPerValue: 9, child: &compressive{kind: compConstant, hasValue: true, value: []byte{7}}},
		}
		e := encs[int(ei)%len(encs)]
		m := int(n % 512)
		w := int(vb%64) + 1
		if len(data) >= m*w {
			if blk, err := fixedPerValue(e, data[:m*w], m, w); err == nil && blk.n != m {
				t.Fatalf("decoded %d values, want %d", blk.n, m)
			}
		}
		for _, pe := range []*compressive{{kind: compVariable}, {kind: compGeneral, scheme: "zstd"}, {kind: compGeneral, scheme: "lz4"}} {
			_, _ = perValueDecode(pe, data)
		}
	})
}

// FuzzWriteRoundTrip: a random schema and random data (from the fuzzer's
// seed) written as 2.1 or 2.2, with or without compression, in random
// pages, sometimes in runs or constant, with opt >= 18 plus a bool vector
// column (boolVectorType), read back equal to what was written.
func FuzzWriteRoundTrip(f *testing.F) {
	for seed := int64(0); seed < 8; seed++ {
		f.Add(seed, uint8(seed), uint16(100+seed*37))
		f.Add(seed, uint8(6+seed), uint16(250))             // runs
		f.Add(seed, uint8(12+seed), uint16(90))             // constant columns
		f.Add(seed, uint8(18+seed*31), uint16(120+seed*20)) // bool vectors
	}
	f.Fuzz(func(t *testing.T, seed int64, opt uint8, rows uint16) {
		rng := rand.New(rand.NewSource(seed))
		sch := arrowtest.RandomSchema(rng, true, 4)
		if opt >= 18 {
			f := arrowtest.Nullable("bv", boolVectorType(int(opt/18-1)))
			sch = arrow.NewSchema(append(sch.Fields(), f), nil)
		}
		n := int(rows % 300)
		gen := arrowtest.RandomGen(rng)
		if r := []int{0, 6, 1000}[opt/6%3]; r > 0 {
			gen.Runs = r // runs (RLE) or constant columns
		}
		rec := arrowtest.GenRecord(rng, sch, n, gen)
		defer rec.Release()
		opts := WriteOptions{
			Version:     []Version{V2_1, V2_2}[opt%2],
			Compression: []string{"", "zstd", "lz4"}[opt/2%3],
			MaxPageRows: int64(1 + rng.Intn(200)),
		}
		p := filepath.Join(t.TempDir(), "rt.lance")
		if _, err := WriteFileWithOptions(p, mustFields(t, sch), []arrow.Record{rec}, opts); err != nil {
			t.Fatalf("%s: %v", arrowtest.SchemaString(sch), err)
		}
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		got := readAllColumns(t, p, sch, mem)
		for c := range got {
			if d := arrowtest.DiffArrays(rec.Column(c), got[c]); d != "" {
				t.Fatalf("%s %+v: column %d: %s", arrowtest.SchemaString(sch), opts, c, d)
			}
			got[c].Release()
		}
		mem.AssertSize(t, 0)
	})
}

// boolVectorType is fixed_size_list<bool> of one of a few dims, at the top
// level, in a struct or in a list, as k picks.
func boolVectorType(k int) arrow.DataType {
	dims := []int32{1, 3, 13, 64, 4096}
	v := arrow.FixedSizeListOf(dims[k/3%len(dims)], arrow.FixedWidthTypes.Boolean)
	switch k % 3 {
	case 1:
		return arrow.StructOf(arrowtest.Nullable("id", arrow.PrimitiveTypes.Int32), arrowtest.Nullable("m", v))
	case 2:
		return arrow.ListOf(v)
	}
	return v
}
