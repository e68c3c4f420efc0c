package file

import (
	"bytes"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
)

// logLines is n log-like strings and their end offsets.
func logLines(n int) ([]byte, []uint64) {
	rng := rand.New(rand.NewSource(1))
	words := strings.Fields("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa")
	var data []byte
	ends := make([]uint64, n)
	for i := range ends {
		data = fmt.Appendf(data, "%s %s id=%d %s", words[rng.Intn(16)], words[rng.Intn(16)], rng.Intn(100000), words[rng.Intn(16)])
		ends[i] = uint64(len(data))
	}
	return data, ends
}

// TestFsstRoundTrip: what the encoder writes, the table parsed by the
// reader's decoder gives back exactly, for learnt and edge-case tables.
func TestFsstRoundTrip(t *testing.T) {
	data, ends := logLines(5000)
	tables := map[string]*fsstEncoder{
		"learnt":  learnFsst(contiguousValues(data, ends)),
		"empty":   newFsstEncoder(nil),
		"8-byte":  newFsstEncoder([][]byte{[]byte("abcdefgh"), []byte("ab"), []byte("a")}),
		"escapes": newFsstEncoder([][]byte{{0xff, 0xff}, {0}}),
	}
	inputs := [][]byte{nil, []byte("a"), []byte("abcdefgh"), []byte("abcdefg"), {0xff, 0xff, 0xff, 0}, data[:ends[20]]}
	for name, enc := range tables {
		tbl, err := parseFsstTable(enc.table())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, in := range inputs {
			out, err := tbl.decode(nil, enc.compress(nil, in))
			if err != nil || string(out) != string(in) {
				t.Fatalf("%s: %q -> %q, %v", name, in, out, err)
			}
		}
	}
	enc := tables["learnt"]
	c := 0
	for i, e := range ends {
		s := uint64(0)
		if i > 0 {
			s = ends[i-1]
		}
		c += len(enc.compress(nil, data[s:e]))
	}
	if c*2 > len(data) {
		t.Fatalf("log lines compress to %d of %d bytes", c, len(data))
	}
}

// TestFsstSampleRatio: the sample estimate buildFsst gives up on tells
// incompressible values (random bytes) from text.
func TestFsstSampleRatio(t *testing.T) {
	text, textEnds := logLines(20000)
	rng := rand.New(rand.NewSource(2))
	random := make([]byte, 16*20000)
	rng.Read(random)
	randomEnds := make([]uint64, 20000)
	for i := range randomEnds {
		randomEnds[i] = uint64(16 * (i + 1))
	}
	for _, tc := range []struct {
		name     string
		data     []byte
		ends     []uint64
		compress bool
	}{
		{"log lines", text, textEnds, true},
		{"random bytes", random, randomEnds, false},
	} {
		enc := learnFsst(contiguousValues(tc.data, tc.ends))
		if got := enc.sampleRatio < fsstMaxRatio; got != tc.compress {
			t.Errorf("%s: sample ratio %.2f", tc.name, enc.sampleRatio)
		}
		enc.release()
	}
}

// TestFsstCompressParallel: a page compressed in parts on goroutines is
// the page compressed in one go, byte for byte, however many parts.
func TestFsstCompressParallel(t *testing.T) {
	data, ends := logLines(50000)
	enc := learnFsst(contiguousValues(data, ends))
	defer enc.release()
	want := &pageFsst{ends: make([]uint64, len(ends))}
	var start uint64
	for i, e := range ends {
		want.data = enc.compressRange(want.data, data, int(start), int(e))
		start = e
		want.ends[i] = uint64(len(want.data))
	}
	for _, parts := range []int{1, 2, 3, 7, 64} {
		got := &pageFsst{ends: make([]uint64, len(ends))}
		got.compressParallel(enc, contiguousValues(data, ends), parts)
		if !bytes.Equal(got.data, want.data) || !slices.Equal(got.ends, want.ends) {
			t.Errorf("%d parts: the compressed page differs", parts)
		}
	}
}

// BenchmarkFsstLearn: training a symbol table on a page of log lines.
func BenchmarkFsstLearn(b *testing.B) {
	data, ends := logLines(100000)
	b.SetBytes(fsstSampleBytes)
	b.ReportAllocs()
	for b.Loop() {
		learnFsst(contiguousValues(data, ends)).release()
	}
}

// BenchmarkFsstCompress: compressing a page of log lines value by value
// with a learnt table.
func BenchmarkFsstCompress(b *testing.B) {
	data, ends := logLines(100000)
	enc := learnFsst(contiguousValues(data, ends))
	defer enc.release()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	out := make([]byte, 0, 2*len(data))
	for b.Loop() {
		out = out[:0]
		var s uint64
		for _, e := range ends {
			out = enc.compressRange(out, data, int(s), int(e))
			s = e
		}
	}
}

// FuzzFsstEncode: any table learnt from any strings, and any input, round
// trips through the reader's decoder.
func FuzzFsstEncode(f *testing.F) {
	f.Add([]byte("hello world hello world"), []byte("hello"))
	f.Add([]byte{0xff, 0, 0xff, 0}, []byte{0xff})
	f.Fuzz(func(t *testing.T, sample, in []byte) {
		if len(sample) == 0 {
			return
		}
		enc := learnFsst(contiguousValues(sample, []uint64{uint64(len(sample) / 2), uint64(len(sample))}))
		tbl, err := parseFsstTable(enc.table())
		if err != nil {
			t.Fatal(err)
		}
		out, err := tbl.decode(nil, enc.compress(nil, in))
		if err != nil || string(out) != string(in) {
			t.Fatalf("%q -> %q, %v", in, out, err)
		}
	})
}

// TestFsstDecodeBlock: a block of many compressed strings (a slice of a
// longer one, so its offsets do not start at 0) expands to exactly the
// strings, in one buffer sized by decodedLen.
func TestFsstDecodeBlock(t *testing.T) {
	data, ends := logLines(3000)
	enc := learnFsst(contiguousValues(data, ends))
	defer enc.release()
	in, want := fsstBlock(enc, data, ends)
	in = in.slice(7, in.n-5)
	e := &compressive{kind: compFsst, symbolTable: enc.table()}
	out, err := fsstDecode(e, in, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out.n != in.n {
		t.Fatalf("%d strings, want %d", out.n, in.n)
	}
	for i := 0; i < out.n; i++ {
		if got := string(out.data[out.offs[i]:out.offs[i+1]]); got != want[7+i] {
			t.Fatalf("string %d: %q, want %q", i, got, want[7+i])
		}
	}
}

// fsstBlock compresses the strings data[ends[i-1]:ends[i]] one by one into
// a variable-width block; want is the strings.
func fsstBlock(enc *fsstEncoder, data []byte, ends []uint64) (*block, []string) {
	in := &block{n: len(ends), offs: make([]uint64, 1, len(ends)+1)}
	want := make([]string, len(ends))
	s := uint64(0)
	for i, e := range ends {
		in.data = enc.compress(in.data, data[s:e])
		in.offs = append(in.offs, uint64(len(in.data)))
		want[i] = string(data[s:e])
		s = e
	}
	return in, want
}

// BenchmarkFsstDecode: expanding a page of compressed log lines, whole
// and in blocks of 128 strings (about a mini-block chunk).
func BenchmarkFsstDecode(b *testing.B) {
	data, ends := logLines(100000)
	enc := learnFsst(contiguousValues(data, ends))
	defer enc.release()
	in, _ := fsstBlock(enc, data, ends)
	for _, per := range []int{in.n, 128} {
		b.Run(fmt.Sprintf("%d-strings", per), func(b *testing.B) {
			var blocks []*block
			for i := 0; i < in.n; i += per {
				blocks = append(blocks, in.slice(i, min(i+per, in.n)))
			}
			e := &compressive{kind: compFsst, symbolTable: enc.table()}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				for _, blk := range blocks {
					if _, err := fsstDecode(e, blk, nil); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// FuzzFullZipFsst: strings cut from any bytes, FSST-compressed one by one
// as a full-zip page stores them, decode value by value through the
// encoding message the writer stores.
func FuzzFullZipFsst(f *testing.F) {
	f.Add([]byte(strings.Repeat("long-7-ü-", 40)), []byte{90, 200, 0, 70})
	f.Add([]byte{0xff, 0, 0xff, 0, 1}, []byte{2})
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		var ends []uint64
		var e uint64
		for _, c := range cuts {
			e = min(e+uint64(c), uint64(len(data)))
			ends = append(ends, e)
		}
		if e == 0 {
			return
		}
		enc := learnFsst(contiguousValues(data, ends))
		defer enc.release()
		ce, err := decodeCompressive(encFsst21(enc.table(), 32), 0)
		if err != nil {
			t.Fatal(err)
		}
		var start uint64
		for i, end := range ends {
			v := data[start:end]
			start = end
			out, err := perValueDecode(ce, enc.compress(nil, v))
			if err != nil || !bytes.Equal(out, v) {
				t.Fatalf("value %d: %q -> %q (%v)", i, v, out, err)
			}
		}
	})
}
