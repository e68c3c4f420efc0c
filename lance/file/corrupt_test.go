package file

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/klauspost/compress/zstd"

	"github.com/persisting/persisting/lance/schema"
)

// openBytes opens an in-memory file image, as the fuzz targets do.
func openBytes(b []byte) (*Reader, error) {
	if len(b) < footerSize {
		return nil, errTooSmall(len(b))
	}
	return parseFile(bytes.NewReader(b), int64(len(b)), b[len(b)-footerSize:])
}

// readEverything reads up to maxRows rows of every column as each supported
// Arrow type; errors are fine, panics are not.
func readEverything(r *Reader, maxRows int64) {
	types := []arrow.DataType{arrow.PrimitiveTypes.Int64, arrow.FixedWidthTypes.Boolean,
		arrow.BinaryTypes.String, arrow.BinaryTypes.LargeBinary, arrow.PrimitiveTypes.Int8}
	n := min(r.NumRows(), maxRows)
	// With a schema, read its fields as they are (nested types of 2.1+
	// files span several leaf columns).
	if fields, err := r.Schema(); err == nil {
		if sch, err := schema.ToArrow(fields); err == nil {
			cols := make([]int, sch.NumFields())
			if r.minor >= 1 {
				cols = leafColumns(sch)
			} else {
				c := 0
				for i, f := range sch.Fields() {
					cols[i] = c
					c += legacyColumns(f.Type)
				}
			}
			for _, rg := range [][2]int64{{0, n}, {n / 2, n / 2}} {
				if rec, err := r.Read(sch, cols, rg[0], rg[1], memory.DefaultAllocator); err == nil {
					rec.Release()
				}
			}
		}
	}
	for c := range r.cols {
		for _, dt := range types {
			sch := arrow.NewSchema([]arrow.Field{{Name: "x", Type: dt, Nullable: true}}, nil)
			for _, rg := range [][2]int64{{0, n}, {n / 2, n / 2}} {
				rec, err := r.Read(sch, []int{c}, rg[0], rg[1], memory.DefaultAllocator)
				if err == nil {
					rec.Release()
				}
			}
		}
	}
}

// sampleFile returns a small valid file image with every page kind we write.
func sampleFile(t testing.TB) []byte {
	sch := fourTypes()
	recs := genRecords(sch, []int{20, 30}, []func(int) bool{nullIf(3), nullIf(1), nil, nullIf(4)}, nil, 3)
	defer releaseAll(recs)
	p := filepath.Join(t.TempDir(), "s.lance")
	if _, err := WriteFileWithOptions(p, mustFields(t, sch), recs, WriteOptions{MaxPageRows: 16}); err != nil {
		t.Fatal(err)
	}
	b, err := readFileBytes(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCorruptFilesNeverPanic(t *testing.T) {
	orig := sampleFile(t)
	// every truncation
	for n := 0; n < len(orig); n++ {
		if r, err := openBytes(orig[:n]); err == nil {
			readEverything(r, 1000)
		}
	}
	// every single-byte corruption, two patterns
	for i := range orig {
		for _, x := range []byte{0xff, 0x01} {
			b := bytes.Clone(orig)
			b[i] ^= x
			if r, err := openBytes(b); err == nil {
				readEverything(r, 1000)
			}
		}
	}
}

func TestCorruptFileErrors(t *testing.T) {
	orig := sampleFile(t)
	end := len(orig)
	patch := func(f func(b []byte)) []byte {
		b := bytes.Clone(orig)
		f(b)
		return b
	}
	tests := []struct {
		name, want string
		b          []byte
	}{
		{"empty", "too small", nil},
		{"bad-magic", "bad magic", patch(func(b []byte) { copy(b[end-4:], "LANX") })},
		{"version-2.3", "file version 2.3 not supported yet", patch(func(b []byte) {
			binary.LittleEndian.PutUint16(b[end-8:], 2)
			binary.LittleEndian.PutUint16(b[end-6:], 3)
		})},
		{"legacy", "persisting does not read data storage version 0.1", patch(func(b []byte) { binary.LittleEndian.PutUint16(b[end-6:], 2) })},
		{"cmo-outside", "outside file", patch(func(b []byte) { binary.LittleEndian.PutUint64(b[end-32:], 1<<40) })},
		{"many-columns", "outside file", patch(func(b []byte) { binary.LittleEndian.PutUint32(b[end-12:], 1<<31) })},
		{"gbo-entry-outside", "outside file", patch(func(b []byte) {
			gbo := binary.LittleEndian.Uint64(b[end-24:])
			binary.LittleEndian.PutUint64(b[gbo+8:], 1<<50)
		})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := openBytes(tc.b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestLegacyFileRefused: a Lance v1 file (data storage version 0.1, written
// by pylance in testdata/make_fixture_legacy.py) is recognised by its footer
// version and refused by name, whatever its last 40 bytes would mean as
// positions of a 2.x footer.
func TestLegacyFileRefused(t *testing.T) {
	path := filepath.Join("testdata", "pylance_legacy.lance")
	image, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		open func() (*Reader, error)
	}{
		{"Open", func() (*Reader, error) { return Open(path) }},
		{"image", func() (*Reader, error) { return openBytes(image) }},
		{"Open-too-large-to-read-whole", func() (*Reader, error) {
			// the same file behind enough bytes that Open reads only its tail
			big := filepath.Join(t.TempDir(), "big.lance")
			if err := os.WriteFile(big, append(make([]byte, wholeFileBytes), image...), 0o644); err != nil {
				t.Fatal(err)
			}
			return Open(big)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.open()
			if !errors.Is(err, ErrLegacyFile) {
				t.Fatalf("err = %v, want ErrLegacyFile", err)
			}
			for _, want := range []string{"Lance v1 data file", "footer version 0.2", "persisting does not read data storage version 0.1"} {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("err = %v, want it to say %q", err, want)
				}
			}
		})
	}
}

// TestUnsupportedEncodingError: encodings we do not implement are named.
func TestUnsupportedEncodingError(t *testing.T) {
	r := &Reader{numRows: 4}
	for _, name := range []string{"Bitpacked", "Fsst", "FixedSizeList"} {
		r.cols = []column{{
			pages:    []pageInfo{{length: 4, encoding: &arrayEncoding{kind: encUnknown, name: name}}},
			rowStart: []int64{0, 4},
		}}
		for _, dt := range []arrow.DataType{arrow.PrimitiveTypes.Int64, arrow.BinaryTypes.String} {
			sch := arrow.NewSchema([]arrow.Field{{Name: "x", Type: dt, Nullable: true}}, nil)
			_, err := r.Read(sch, []int{0}, 0, 4, memory.DefaultAllocator)
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("err = %v, want mention of %s", err, name)
			}
		}
	}
	// and encodings we do not even know decode to a named error
	b := pbBytes(nil, 99, nil)
	if _, err := decodeArrayEncoding(b, 0); err == nil {
		t.Fatal("want error for an empty/unknown ArrayEncoding")
	}
}

func TestReadArgumentErrors(t *testing.T) {
	r, err := openBytes(sampleFile(t))
	if err != nil {
		t.Fatal(err)
	}
	sch := fourTypes()
	cols := []int{0, 1, 2, 3}
	nn := arrow.NewSchema([]arrow.Field{{Name: "f", Type: arrow.PrimitiveTypes.Float64}}, nil)
	tests := []struct {
		name string
		f    func() error
	}{
		{"offset-past-end", func() error { _, err := r.Read(sch, cols, 51, 1, memory.DefaultAllocator); return err }},
		{"negative", func() error { _, err := r.Read(sch, cols, -1, 1, memory.DefaultAllocator); return err }},
		{"column-count", func() error { _, err := r.Read(sch, cols[:2], 0, 1, memory.DefaultAllocator); return err }},
		{"column-range", func() error { _, err := r.Read(sch, []int{0, 1, 2, 9}, 0, 1, memory.DefaultAllocator); return err }},
		{"type-width", func() error {
			s := arrow.NewSchema([]arrow.Field{{Name: "i", Type: arrow.PrimitiveTypes.Int32, Nullable: true}}, nil)
			_, err := r.Read(s, []int{0}, 0, 1, memory.DefaultAllocator)
			return err
		}},
		{"nulls-in-non-nullable", func() error { _, err := r.Read(nn, []int{1}, 0, 10, memory.DefaultAllocator); return err }},
		{"closed", func() error {
			r2, _ := openBytes(sampleFile(t))
			r2.Close()
			_, err := r2.Read(sch, cols, 0, 1, memory.DefaultAllocator)
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.f(); err == nil {
				t.Fatal("want error")
			}
		})
	}
}

type decompressCase struct {
	name, scheme string
	in           []byte
	want         string
	wantErr      bool
}

func TestDecompress(t *testing.T) {
	tests := []decompressCase{
		{"zstd-prefixed", "zstd", []byte{0x05, 0, 0, 0, 0, 0, 0, 0, 0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x05, 0x29, 0, 0, 'h', 'e', 'l', 'l', 'o'}, "hello", false},
		{"zstd-bare", "zstd", []byte{0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x05, 0x29, 0, 0, 'h', 'e', 'l', 'l', 'o'}, "hello", false},
		{"zstd-wrong-length", "zstd", []byte{0x06, 0, 0, 0, 0, 0, 0, 0, 0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x05, 0x29, 0, 0, 'h', 'e', 'l', 'l', 'o'}, "", true},
		{"zstd-garbage", "zstd", []byte("not zstd at all"), "", true},
		{"lz4", "lz4", []byte{0x05, 0, 0, 0, 0x50, 'h', 'e', 'l', 'l', 'o'}, "hello", false},
		{"lz4-huge-claim", "lz4", []byte{0xff, 0xff, 0xff, 0x7f, 0x50, 'h', 'e', 'l', 'l', 'o'}, "", true},
		{"lz4-short", "lz4", []byte{1}, "", true},
		{"snappy", "snappy", []byte{1, 2, 3}, "", true},
	}
	// A page of one repeated byte compresses far beyond lz4's ratios (pylance
	// writes such pages for a long run of one value): its claim is honest.
	repeated := strings.Repeat("x", 5<<20)
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	frame := enc.EncodeAll([]byte(repeated), binary.LittleEndian.AppendUint64(nil, uint64(len(repeated))))
	enc.Close()
	if len(frame)*1024+1<<20 > len(repeated) {
		t.Fatalf("the case needs a ratio over 1024:1 (and 1 MiB); %d bytes compress to %d", len(repeated), len(frame))
	}
	tests = append(tests,
		decompressCase{"zstd-ratio-over-1024", "zstd", frame, repeated, false},
		decompressCase{"zstd-claim-past-cap", "zstd", append(binary.LittleEndian.AppendUint64(nil, maxDecompressed+1), frame[8:]...), "", true})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decompress(tc.scheme, tc.in)
			if (err != nil) != tc.wantErr || (err == nil && string(got) != tc.want) {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
}
