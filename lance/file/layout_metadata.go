package file

import (
	"fmt"
	"strings"

	"github.com/persisting/persisting/lance/schema"
)

// Field metadata keys and extension types by which pylance gives a column
// a layout other than the one its Arrow type gets (rust/lance-encoding's
// constants and lance-core's blob keys). This writer does not produce these
// layouts, and a file holding such a field in the plain layout is one
// pylance misreads (a packed struct reads as nulls) or cannot read at all
// (blobs). So a field that asks for one is refused before any row of it is
// accepted. The keys and their truth are the reader's (packed_blob.go).
var unwritableLayoutKeys = []struct{ key, layout string }{
	{blobMetadataKey, "blob"},
	{packedMetadataKey, "packed struct"},
	{packedLegacyMetadataKey, "packed struct"},
}

// truthy is how pylance reads a boolean metadata value.
func truthy(v string) bool { return v == "true" || v == "True" || v == "1" }

// checkLayoutMetadata refuses fields (at any nesting depth) that ask for a
// layout this writer does not produce, naming the field and the request.
func checkLayoutMetadata(fields []schema.Field) error {
	for _, f := range fields {
		for _, k := range unwritableLayoutKeys {
			if truthy(string(f.Metadata[k.key])) {
				return fmt.Errorf("lance file: field %q: its metadata %q asks for Lance's %s layout, which this writer does not produce",
					f.Name, k.key, k.layout)
			}
		}
		ext := f.ExtensionName
		if ext == "" {
			ext = string(f.Metadata[extensionNameKey])
		}
		if strings.HasPrefix(ext, blobExtensionPrefix) {
			return fmt.Errorf("lance file: field %q: extension type %s (Lance's blob layout) is not produced by this writer",
				f.Name, ext)
		}
	}
	return nil
}
