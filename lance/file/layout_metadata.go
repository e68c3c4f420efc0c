package file

import (
	"fmt"

	"github.com/persisting/persisting/lance/schema"
)

// Field metadata keys and extension types by which pylance gives a column
// a layout other than the one its Arrow type gets (rust/lance-encoding's
// constants and lance-core's blob keys). This writer does not produce these
// layouts, and a file holding such a field in the plain layout is one
// pylance misreads (a packed struct reads as nulls) or cannot read at all
// (blobs). So a field that asks for one is refused before any row of it is
// accepted; a key's mere presence counts, whatever its value.
var unwritableLayoutKeys = []struct{ key, layout string }{
	{"lance-encoding:blob", "blob"},
	{"lance-encoding:packed", "packed struct"},
	{"packed", "packed struct"}, // the older spelling pylance still honours
}

// blobV2Extension is the extension type of pylance's 2.2 blob columns.
const blobV2Extension = "lance.blob.v2"

const arrowExtensionNameKey = "ARROW:extension:name"

// checkLayoutMetadata refuses fields (at any nesting depth) that ask for a
// layout this writer does not produce, naming the field and the request.
func checkLayoutMetadata(fields []schema.Field) error {
	for _, f := range fields {
		for _, k := range unwritableLayoutKeys {
			if _, ok := f.Metadata[k.key]; ok {
				return fmt.Errorf("lance file: field %q: its metadata %q asks for Lance's %s layout, which this writer does not produce",
					f.Name, k.key, k.layout)
			}
		}
		if f.ExtensionName == blobV2Extension || string(f.Metadata[arrowExtensionNameKey]) == blobV2Extension {
			return fmt.Errorf("lance file: field %q: extension type %s (Lance's blob v2 layout) is not produced by this writer",
				f.Name, blobV2Extension)
		}
	}
	return nil
}
