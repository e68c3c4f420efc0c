package file

import (
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/persisting/persisting/lance/schema"
)

// TestLayoutMetadataRefused: a field whose metadata asks for a layout this
// writer does not produce (pylance's blobs, packed structs) is not writable
// in any version (the request is named even where 2.0 would refuse the
// struct anyway), at any depth, and the error names the field and the key;
// other lance-encoding metadata (compression) stays writable.
func TestLayoutMetadataRefused(t *testing.T) {
	md := func(kv ...string) arrow.Metadata { return arrow.NewMetadata(kv[:1], kv[1:]) }
	pair := arrow.StructOf(arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		arrow.Field{Name: "b", Type: arrow.PrimitiveTypes.Float64, Nullable: true})
	tests := []struct {
		name  string
		field arrow.Field
		want  string // "" when writable
	}{
		{"blob", arrow.Field{Name: "img", Type: arrow.BinaryTypes.LargeBinary, Nullable: true, Metadata: md("lance-encoding:blob", "true")},
			`field "img": its metadata "lance-encoding:blob" asks for Lance's blob layout`},
		{"packed", arrow.Field{Name: "p", Type: pair, Nullable: true, Metadata: md("lance-encoding:packed", "true")},
			`field "p": its metadata "lance-encoding:packed" asks for Lance's packed struct layout`},
		{"packed-older-key", arrow.Field{Name: "p", Type: pair, Nullable: true, Metadata: md("packed", "true")},
			`field "p": its metadata "packed"`},
		{"nested-packed", arrow.Field{Name: "outer", Type: arrow.StructOf(arrow.Field{Name: "p", Type: pair, Nullable: true,
			Metadata: md("packed", "true")}), Nullable: true}, `field "p": its metadata "packed"`},
		{"blob-v2", arrow.Field{Name: "b", Type: pair, Nullable: true, Metadata: md("ARROW:extension:name", "lance.blob.v2")},
			`field "b": extension type lance.blob.v2`},
		{"compression-is-writable", arrow.Field{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true,
			Metadata: md(CompressionMetadataKey, "zstd")}, ""},
	}
	for _, tt := range tests {
		fields, err := schema.FromArrow(arrow.NewSchema([]arrow.Field{tt.field}, nil), 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range WritableVersions {
			err := CheckWritableVersion(fields, v)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("%s in %s: %v", tt.name, v, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("%s in %s: err = %v, want %q", tt.name, v, err, tt.want)
			}
		}
	}
}
