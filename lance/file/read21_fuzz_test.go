package file

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand"
	"testing"
)

// packBlockRef packs 1024 t-bit values (little-endian in vals) at width w
// following the FastLanes layout bit by bit; the reference for unpackBlock.
func packBlockRef(t, w int, vals []byte) []byte {
	lanes := 1024 / t
	out := make([]byte, packedWords(t, w)*t/8)
	for lane := 0; lane < lanes; lane++ {
		for row := 0; row < t; row++ {
			v := readWord(vals, t, flOrder[row/8]*16+(row%8)*128+lane)
			for bit := 0; bit < w; bit++ {
				if v>>uint(bit)&1 == 0 {
					continue
				}
				pos := row*w + bit
				word := lanes*(pos/t) + lane
				byteIdx := word*t/8 + (pos%t)/8
				out[byteIdx] |= 1 << uint(pos%8)
			}
		}
	}
	return out
}

func maskValues(t, w int, vals []byte) []byte {
	out := make([]byte, len(vals))
	for i := 0; i < 1024; i++ {
		v := readWord(vals, t, i)
		if w < 64 {
			v &= 1<<uint(w) - 1
		}
		putWord(out, t, i, v)
	}
	return out
}

func TestBitpackRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, tb := range []int{8, 16, 32, 64} {
		for w := 0; w <= tb; w++ {
			vals := make([]byte, 1024*tb/8)
			rng.Read(vals)
			want := maskValues(tb, w, vals)
			got := make([]byte, len(vals))
			if err := unpackBlock(tb, w, packBlockRef(tb, w, want), got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("t=%d w=%d: unpack(pack(x)) != x", tb, w)
			}
		}
	}
}

// FuzzUnpackBlock: unpacking arbitrary packed bytes never panics and agrees
// with the reference packer on the values it yields.
func FuzzUnpackBlock(f *testing.F) {
	f.Add(uint8(0), uint8(3), []byte{1, 2, 3})
	f.Add(uint8(3), uint8(17), bytes.Repeat([]byte{0xA5}, 4096))
	f.Fuzz(func(t *testing.T, ti, w uint8, packed []byte) {
		tb := []int{8, 16, 32, 64}[ti%4]
		out := make([]byte, 1024*tb/8)
		if err := unpackBlock(tb, int(w), packed, out); err != nil {
			return
		}
		if re := packBlockRef(tb, int(w), out); !bytes.Equal(re, packed[:len(re)]) {
			t.Fatalf("t=%d w=%d: pack(unpack(x)) != x", tb, w)
		}
		_, _ = unpackInline(tb, packed, int(w)*40, nil)
		_, _ = unpackOutOfLine(tb, int(w), packed, len(packed), nil)
	})
}

// fuzzEncodings are CompressiveEncodings the chunk / block fuzzers pick from.
func fuzzEncodings() []*compressive {
	flat := func(b uint64) *compressive { return &compressive{kind: compFlat, bits: b} }
	return []*compressive{
		flat(16), flat(1), flat(64),
		{kind: compInlineBitpacking, bits: 16},
		{kind: compInlineBitpacking, bits: 32},
		{kind: compOutOfLineBitpacking, bits: 16, child: flat(3)},
		{kind: compRle, child: flat(16), child2: flat(8)},
		{kind: compVariable, child: flat(32)},
		{kind: compVariable, child: flat(64)},
		{kind: compFsst, symbolTable: fsstSeedTable(), child: &compressive{kind: compVariable, child: flat(32)}},
		{kind: compGeneral, scheme: "lz4", child: flat(16)},
		{kind: compGeneral, scheme: "zstd", child: &compressive{kind: compVariable, child: flat(32)}},
		{kind: compByteStreamSplit, child: flat(32)},
		{kind: compFixedSizeList, itemsPerValue: 3, hasValidity: true, child: flat(32)},
		{kind: compConstant, value: []byte{1, 0}, hasValue: true},
	}
}

func fsstSeedTable() []byte {
	b := make([]byte, 8+9*2)
	binary.LittleEndian.PutUint64(b, fsstMagic<<32|1<<24|2)
	copy(b[8:], "ab\x00\x00\x00\x00\x00\x00")
	copy(b[16:], "xyz\x00\x00\x00\x00\x00")
	b[24], b[25] = 2, 3
	return b
}

// FuzzMiniBlockChunk feeds arbitrary chunk bytes through the chunk header
// parser, level and value decoders.
func FuzzMiniBlockChunk(f *testing.F) {
	f.Add(uint8(0), uint8(0), uint8(1), false, uint16(8), []byte{8, 0, 16, 0, 16, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0})
	f.Add(uint8(3), uint8(6), uint8(7), true, uint16(3), bytes.Repeat([]byte{3, 0, 4, 0, 0, 0}, 8))
	f.Fuzz(func(t *testing.T, vi, di, ri uint8, large bool, items uint16, b []byte) {
		encs := fuzzEncodings()
		L := &pageLayout{kind: layoutMiniBlock, valueComp: encs[int(vi)%len(encs)], largeChunk: large, numBuffers: 1}
		if di%3 != 0 {
			L.defComp = encs[int(di)%len(encs)]
		}
		if ri%4 == 1 {
			L.repComp = encs[int(ri)%len(encs)]
		}
		if L.valueComp.kind == compRle {
			L.numBuffers = 2
		}
		_, _ = decodeChunk(L, b, int(items%5000), nil)
		_, _ = parseChunkMeta(b, large, uint64(items))
	})
}

// FuzzDecodeBlock targets block decoders (levels, dictionaries, RLE framing).
func FuzzDecodeBlock(f *testing.F) {
	rle := append(binary.LittleEndian.AppendUint64(nil, 4), 1, 0, 2, 0, 3, 5)
	f.Add(uint8(6), uint16(8), rle)
	f.Add(uint8(7), uint16(2), []byte{32, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 'a', 'b', 'c'})
	f.Fuzz(func(t *testing.T, ei uint8, n uint16, b []byte) {
		encs := fuzzEncodings()
		e := encs[int(ei)%len(encs)]
		if e.kind == compRle {
			e = &compressive{kind: compRle, child: &compressive{kind: compFlat, bits: 16}, child2: &compressive{kind: compFlat, bits: 8}}
		}
		if blk, err := decodeBlock(e, b, int(n), nil); err == nil {
			if blk.n != int(n) {
				t.Fatalf("decoded %d values, want %d", blk.n, n)
			}
			if blk.bits == 16 {
				_, _ = levelsOf(blk)
			}
		}
		_, _ = variableBlock(b, int(n))
		_, _ = decodeScalarBuffer(b)
	})
}

// FuzzFsst decodes arbitrary symbol tables and strings.
func FuzzFsst(f *testing.F) {
	f.Add(fsstSeedTable(), []byte{0, 1, 255, 'q', 0})
	f.Add([]byte{0, 0, 0, 0, 'T', 'S', 'S', 'F'}, []byte("raw"))
	f.Fuzz(func(t *testing.T, table, s []byte) {
		// one string, and the same bytes as two (codes split between them)
		half := uint64(len(s) / 2)
		for _, in := range []*block{
			{n: 1, offs: []uint64{0, uint64(len(s))}, data: s},
			{n: 2, offs: []uint64{0, half, uint64(len(s))}, data: s},
		} {
			out, err := fsstDecode(&compressive{kind: compFsst, symbolTable: table}, in, nil)
			if err == nil && len(out.data) > 8*len(s)+8 {
				t.Fatalf("FSST expanded %d bytes to %d", len(s), len(out.data))
			}
			tbl, terr := parseFsstTable(table)
			if terr != nil || !tbl.on {
				continue
			}
			// the same strings, one code at a time
			var want []byte
			var wantErr error
			for i := 0; i < in.n && wantErr == nil; i++ {
				want, wantErr = fsstExpandSlowly(tbl, want, s[in.offs[i]:in.offs[i+1]])
			}
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("fsstDecode error %v, one code at a time %v", err, wantErr)
			}
			if err == nil && string(out.data) != string(want) {
				t.Fatalf("fsstDecode %q, one code at a time %q", out.data, want)
			}
		}
	})
}

// fsstExpandSlowly is FSST expansion as the format states it, a code at a
// time: the reference the decoder's word stores are checked against.
func fsstExpandSlowly(t *fsstTable, dst, src []byte) ([]byte, error) {
	for i := 0; i < len(src); i++ {
		switch c := src[i]; {
		case c == fsstEscape && i+1 < len(src):
			i++
			dst = append(dst, src[i])
		case int(c) < t.n:
			dst = append(dst, t.syms[c][:t.lens[c]]...)
		default:
			return nil, errors.New("code outside the table")
		}
	}
	return dst, nil
}

// FuzzPageLayout targets the PageLayout / CompressiveEncoding protobuf decoders.
func FuzzPageLayout(f *testing.F) {
	f.Add(pbBytes(nil, 1, pbBytes(pbVarint(nil, 9, 3), 3, encFlat21(64))))
	f.Add(pbBytes(nil, 2, pbBytes(nil, 6, []byte{7, 0, 0, 0})))
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := decodePageLayout(b); err == nil {
			_ = p.describe()
		}
	})
}
