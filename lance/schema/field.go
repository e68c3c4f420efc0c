package schema

// Legacy (v1) encodings stored in Field.Encoding; Lance still writes them, v2
// readers ignore them.
const (
	EncodingNone       int32 = 0
	EncodingPlain      int32 = 1
	EncodingVarBinary  int32 = 2
	EncodingDictionary int32 = 3
	EncodingRLE        int32 = 4
)

// Field is one lance.file.Field: the Lance schema is a flat pre-order list of these.
type Field struct {
	ID, ParentID int32 // ParentID -1 for top-level
	Name         string
	LogicalType  string // e.g. "int64", "double", "bool", "string", "large_string", ...
	Nullable     bool
	Encoding     int32             // legacy v1 encoding enum (EncodingPlain, ...)
	Metadata     map[string][]byte // Arrow field metadata

	// Rarely used members, kept so fields read from a manifest round-trip.
	Type                    int32 // legacy PARENT=0 / REPEATED=1 / LEAF=2
	ExtensionName           string
	DictionaryOffset        int64 // v1 only
	DictionaryLength        int64 // v1 only
	HasDictionary           bool
	UnenforcedPrimaryKey    bool
	PrimaryKeyPosition      uint32
	UnenforcedClusteringKey bool
	ClusteringKeyPosition   uint32
	// Unknown holds protobuf fields this package does not know, re-emitted verbatim.
	Unknown []byte
}

// MaxID returns the largest field id in fields, or -1 if there are none.
func MaxID(fields []Field) int32 {
	m := int32(-1)
	for _, f := range fields {
		if f.ID > m {
			m = f.ID
		}
	}
	return m
}
