package file

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/internal/arrowtest"
)

// TestReadDictionaryStrings: dictionary pages of strings read back exactly,
// with items of at most 8 bytes (gathered as whole words, shortItems) and
// with longer ones, with and without nulls, at 32- and 64-bit offsets, and
// across pages (each with its own dictionary).
func TestReadDictionaryStrings(t *testing.T) {
	short := []string{"", "a", "INFO", "WARN", "abcdefgh", "a\x00"}
	long := []string{"DEBUG", "a rather long level name", "x"}
	for _, tc := range []struct {
		name  string
		typ   arrow.DataType
		items []string
		nulls bool
	}{
		{"short", arrow.BinaryTypes.String, short, false},
		{"short-nulls", arrow.BinaryTypes.String, short, true},
		{"short-large", arrow.BinaryTypes.LargeString, short, true},
		{"long-nulls", arrow.BinaryTypes.String, long, true},
		{"long-large", arrow.BinaryTypes.LargeString, long, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sch := arrow.NewSchema([]arrow.Field{arrowtest.Nullable("s", tc.typ)}, nil)
			rb := array.NewRecordBuilder(memory.DefaultAllocator, sch)
			defer rb.Release()
			for i := 0; i < 20000; i++ {
				if tc.nulls && i%7 == 3 {
					rb.Field(0).AppendNull()
					continue
				}
				v := tc.items[(i*7+i/13)%len(tc.items)]
				switch b := rb.Field(0).(type) {
				case *array.StringBuilder:
					b.Append(v)
				case *array.LargeStringBuilder:
					b.Append(v)
				}
			}
			rec := rb.NewRecord()
			defer rec.Release()
			p := filepath.Join(t.TempDir(), "d.lance")
			if _, err := WriteFileWithOptions(p, mustFields(t, sch), []arrow.Record{rec}, WriteOptions{Version: V2_2, MaxPageBytes: 32 << 10}); err != nil {
				t.Fatal(err)
			}
			r, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if descs := strings.Join(r.pageDescriptions(0), " "); !strings.Contains(descs, "dict=") {
				t.Fatalf("no dictionary page written (%s): the test reads nothing it means to", descs)
			}
			got := readAllColumns(t, p, sch, memory.DefaultAllocator)
			diffColumns(t, fmt.Sprintf("%s read", tc.name), sch, rec.Columns(), got)
		})
	}
}
