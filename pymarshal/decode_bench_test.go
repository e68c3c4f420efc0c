package pymarshal

import "testing"

// BenchmarkDecodeRecord decodes the golden "record" case (a put's plain
// record: ints, floats, short ASCII strs, bytes, None) again and again.
func BenchmarkDecodeRecord(b *testing.B) {
	var in []byte
	for _, c := range loadCases(b, "testdata/cases.json").Good {
		if c.Name == "record" {
			in = unhex(b, c.Marshal)
		}
	}
	var d Decoder
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := d.Decode(in); err != nil {
			b.Fatal(err)
		}
	}
}
