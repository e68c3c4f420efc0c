package file

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/internal/arrowtest"
)

// writerEncodings are the encodings (pageLayout.describe substrings) our
// writer chooses as pylance does; where pylance uses one of them on a
// column of cases21, ours must too.
var writerEncodings = []string{"InlineBitpacking", "dict=", "MiniBlockLayout[Fsst", "ConstantLayout[inline]", "MiniBlockLayout[Rle", "ConstantLayout[scalar]", "FullZipLayout[Fsst"}

// TestWriteEncodingsLikePylance: our writer writes every table of cases21
// (built to make pylance use each encoding) at 2.1 and 2.2; our reader and
// pylance read back exactly what was written, and every column pylance
// bit-packs or dictionary-encodes we encode so too. Run with -v to compare
// the file sizes with pylance's.
func TestWriteEncodingsLikePylance(t *testing.T) {
	for _, ver := range versions21 {
		for _, tc := range cases21() {
			t.Run(ver+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				rec := tc.record()
				defer rec.Release()
				sch := rec.Schema()
				dir := t.TempDir()
				p := filepath.Join(dir, "ours.lance")
				v := Version{2, minorOf(ver)}
				opts := WriteOptions{Version: v}
				if tc.cache > 0 {
					opts.MaxPageBytes = tc.cache
				}
				if _, err := WriteFileWithOptions(p, mustFields(t, sch), []arrow.Record{rec}, opts); err != nil {
					t.Fatal(err)
				}
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				checkBothReaders(t, p, sch, rec.Columns(), mem)
				mem.AssertSize(t, 0)

				r, err := Open(p)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				for ci, col := range tc.cols {
					descs := strings.Join(r.pageDescriptions(ci), " ")
					for _, want := range tc.enc[col.name] {
						if v, w, ok := strings.Cut(want, ":"); ok && len(v) == 3 && v[0] == '2' {
							if v != ver {
								continue
							}
							want = w
						}
						for _, impl := range writerEncodings {
							if strings.Contains(want, impl) && !strings.Contains(descs, impl) {
								t.Errorf("column %s: pylance uses %s, we wrote %s", col.name, want, descs)
							}
						}
					}
				}
				if testing.Verbose() {
					arrowtest.WriteIPCFile(t, filepath.Join(dir, "in.arrow"), sch, []arrow.Record{rec})
					py := filepath.Join(dir, "py.lance")
					args := []string{"writever", filepath.Join(dir, "in.arrow"), py, ver}
					if tc.cache > 0 {
						args = append(args, fmt.Sprint(tc.cache))
					}
					runPylance(t, args...)
					a, _ := os.Stat(p)
					b, _ := os.Stat(py)
					t.Logf("bytes: ours %d, pylance %d (%.2fx)", a.Size(), b.Size(), float64(a.Size())/float64(b.Size()))
				}
			})
		}
	}
}

func releaseAll2(as []arrow.Array) {
	for _, a := range as {
		a.Release()
	}
}

// TestRandomDataCoversEncodings: the generator the randomized round trips
// use (lance/random_test.go, `make random`) makes our writer choose each of
// its encodings when it draws pooled values, log-like text, runs or
// constant columns.
func TestRandomDataCoversEncodings(t *testing.T) {
	sch := arrow.NewSchema([]arrow.Field{
		arrowtest.Nullable("i", arrow.PrimitiveTypes.Int32),
		arrowtest.Nullable("s", arrow.BinaryTypes.String),
		arrowtest.Nullable("t", arrow.BinaryTypes.String),
		arrowtest.Nullable("l", arrow.ListOf(arrow.PrimitiveTypes.Int64)),
	}, nil)
	rng := rand.New(rand.NewSource(3))
	pooled := arrowtest.GenRecord(rng, sch, 1200, arrowtest.GenOptions{NullRate: 0.3, MaxList: 4, Pool: 40})
	text := arrowtest.GenRecord(rng, sch, 1200, arrowtest.GenOptions{NullRate: 0.05, MaxList: 4, Text: true})
	runs := arrowtest.GenRecord(rng, sch, 1200, arrowtest.GenOptions{NullRate: 0.05, MaxList: 4, Pool: 40, Runs: 6})
	constant := arrowtest.GenRecord(rng, sch, 300, arrowtest.GenOptions{NullRate: 0.3, MaxList: 4, Runs: 1000})
	defer pooled.Release()
	defer text.Release()
	defer runs.Release()
	defer constant.Release()
	for _, tc := range []struct {
		rec  arrow.Record
		want map[int]string
	}{
		{pooled, map[int]string{0: "InlineBitpacking", 1: "dict=", 3: "OutOfLineBitpacking"}},
		{text, map[int]string{2: "Fsst"}},
		{runs, map[int]string{0: "Rle", 1: "Rle"}},
		{constant, map[int]string{0: "ConstantLayout", 1: "ConstantLayout"}},
	} {
		p := filepath.Join(t.TempDir(), "r.lance")
		if _, err := WriteFileWithOptions(p, mustFields(t, sch), []arrow.Record{tc.rec}, WriteOptions{Version: V2_2}); err != nil {
			t.Fatal(err)
		}
		r, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		for c, want := range tc.want {
			if d := strings.Join(r.pageDescriptions(c), " "); !strings.Contains(d, want) {
				t.Errorf("column %d: %s, want %s", c, d, want)
			}
		}
		r.Close()
	}
}

// TestPackBlockMatchesReference: the writer's packer gives the reference
// packer's bytes for every word size and width.
func TestPackBlockMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for _, tb := range []int{8, 16, 32, 64} {
		for w := 0; w <= tb; w++ {
			raw := make([]byte, 1024*tb/8)
			rng.Read(raw)
			want := maskValues(tb, w, raw)
			var vals [1024]uint64
			for i := range vals {
				vals[i] = readWord(want, tb, i)
			}
			got := make([]byte, packedWords(tb, w)*tb/8)
			packBlock(tb, w, &vals, got)
			if ref := packBlockRef(tb, w, want); !bytes.Equal(got, ref) {
				t.Fatalf("t=%d w=%d: packed bytes differ from the reference", tb, w)
			}
		}
	}
}

// BenchmarkPackInline: bit-packing a page of 64k small int64 values.
func BenchmarkPackInline(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	raw := make([]byte, 8*65536)
	for i := 0; i < 65536; i++ {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(rng.Intn(1<<20)))
	}
	b.SetBytes(int64(len(raw)))
	var out []byte
	for b.Loop() {
		out = packInline(out[:0], 64, raw, 65536)
	}
}

// TestShortKeys: strings of up to 8 bytes that differ only in trailing
// zero bytes or length stay apart, at the end of their buffer or not, and
// the table keeps its items as it grows.
func TestShortKeys(t *testing.T) {
	vals := []string{"", "\x00", "\x00\x00", "a", "a\x00", "ab", "abcdefgh", "abcdefg", "abcdefg\x00", "INFO", "WARN"}
	for i := 0; i < 300; i++ {
		vals = append(vals, fmt.Sprintf("h-%d", i))
	}
	for _, atEnd := range []bool{false, true} {
		var m shortKeys
		for i, v := range vals {
			data := []byte(v)
			if !atEnd {
				data = append(data, "xxxxxxxx"...) // loaded as a whole word
			}
			w := loadShort(data, 0, uint64(len(v)))
			if _, ok := m.get(w, uint64(len(v))); ok {
				t.Fatalf("%q found before it was added", v)
			}
			m.put(w, uint64(len(v)), uint32(i))
		}
		for i, v := range vals {
			data := append([]byte(v), "yyyyyyyy"...)
			if k, ok := m.get(loadShort(data, 0, uint64(len(v))), uint64(len(v))); !ok || k != uint32(i) {
				t.Fatalf("%q: item %d, %v; want %d", v, k, ok, i)
			}
		}
	}
}

// TestPackLevelBlockMatchesPackBlock: the 64-bit-lanes level packer gives
// packBlock's bytes at every width.
func TestPackLevelBlockMatchesPackBlock(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for w := 0; w <= 16; w++ {
		var ls [1024]uint16
		var vals [1024]uint64
		for i := range ls {
			if w > 0 {
				ls[i] = uint16(rng.Intn(1 << w))
			}
			vals[i] = uint64(ls[i])
		}
		want := make([]byte, packedWords(16, w)*2)
		packBlock(16, w, &vals, want)
		got := make([]byte, len(want))
		packLevelBlock(w, &ls, got)
		if !bytes.Equal(got, want) {
			t.Fatalf("w=%d: the level packer differs from packBlock", w)
		}
	}
}
