package file

import (
	"os"
	"path/filepath"
	"testing"
)

func readFileBytes(p string) ([]byte, error) { return os.ReadFile(p) }

func fuzzSeeds(f *testing.F) {
	f.Add(sampleFile(f))
	// pylance-written 2.0 file with dictionary, all-null and Binary pages
	for _, name := range []string{"pylance_2_0.lance", "pylance_2_0_nested.lance", "pylance_2_1.lance", "pylance_2_2.lance"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("LANC"))
	// our 2.1 and 2.2 files with every type, nulls at every level
	for _, v := range []Version{V2_1, V2_2} {
		f.Add(sample21File(f, v, ""))
	}
	f.Add(sample21File(f, V2_2, "zstd"))
}

// FuzzOpen feeds whole file images through footer, offset-table, descriptor
// and column-metadata decoding, then reads every column.
func FuzzOpen(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := openBytes(b)
		if err != nil {
			return
		}
		_, _ = r.Schema()
		readEverything(r, 1000)
	})
}

// FuzzColumnMetadata targets the ColumnMetadata / page encoding decoder.
func FuzzColumnMetadata(f *testing.F) {
	f.Add(marshalColumnMetadata([]pageOut{{bufOffsets: []uint64{0, 64}, bufSizes: []uint64{1, 24}, length: 3,
		encoding: encSomeNulls(encFlatMsg(1, 0), encFlatMsg(64, 1))}}))
	f.Add(marshalColumnMetadata([]pageOut{{bufOffsets: []uint64{0, 64}, bufSizes: []uint64{24, 7}, length: 3,
		encoding: encBinaryMsg(encNoNulls(encFlatMsg(64, 0)), encFlatMsg(8, 1), 8)}}))
	f.Add(marshalColumnMetadata([]pageOut{{length: 3, encoding: encAllNulls()}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeColumnMetadata(b, 1<<20)
	})
}

// FuzzFooter targets footer parsing on its own.
func FuzzFooter(f *testing.F) {
	f.Add(footer{columnMetaStart: 10, cmoTableStart: 20, gboTableStart: 36, numGlobalBuffers: 1, numColumns: 1, major: 0, minor: 3}.append(nil), int64(100))
	f.Fuzz(func(t *testing.T, b []byte, size int64) {
		if ft, err := parseFooter(b, size); err == nil {
			_, _, _ = fileVersion(ft.major, ft.minor)
		}
	})
}

// FuzzDecompress targets the zstd / lz4 framing of compressed 2.0 buffers.
func FuzzDecompress(f *testing.F) {
	f.Add(true, []byte{0x05, 0, 0, 0, 0, 0, 0, 0, 0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x05, 0x29, 0, 0, 'h', 'e', 'l', 'l', 'o'})
	f.Add(false, []byte{0x05, 0, 0, 0, 0x50, 'h', 'e', 'l', 'l', 'o'})
	f.Fuzz(func(t *testing.T, isZstd bool, b []byte) {
		scheme := "lz4"
		if isZstd {
			scheme = "zstd"
		}
		_, _ = decompress(scheme, b)
	})
}
