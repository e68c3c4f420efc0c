package schema

import (
	"errors"
	"fmt"
	"sort"

	"google.golang.org/protobuf/encoding/protowire"
)

// lance.file.Field field numbers.
const (
	fieldType                  = 1
	fieldName                  = 2
	fieldID                    = 3
	fieldParentID              = 4
	fieldLogicalType           = 5
	fieldNullable              = 6
	fieldEncoding              = 7
	fieldDictionary            = 8
	fieldExtensionName         = 9
	fieldMetadata              = 10
	fieldPrimaryKey            = 12
	fieldPrimaryKeyPosition    = 13
	fieldClusteringKey         = 14
	fieldClusteringKeyPosition = 15

	schemaFields   = 1
	schemaMetadata = 5
)

// MarshalField encodes one lance.file.Field message (no length prefix).
func MarshalField(f Field) []byte {
	return appendField(nil, f)
}

func appendField(b []byte, f Field) []byte {
	if f.Type != 0 {
		b = protowire.AppendTag(b, fieldType, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int64(f.Type)))
	}
	if f.Name != "" {
		b = protowire.AppendTag(b, fieldName, protowire.BytesType)
		b = protowire.AppendString(b, f.Name)
	}
	if f.ID != 0 {
		b = protowire.AppendTag(b, fieldID, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int64(f.ID)))
	}
	// parent_id 0 is a real parent (field 0), so proto3 "omit zero" is what
	// Lance does too; -1 is always written explicitly (10-byte varint).
	if f.ParentID != 0 {
		b = protowire.AppendTag(b, fieldParentID, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int64(f.ParentID)))
	}
	if f.LogicalType != "" {
		b = protowire.AppendTag(b, fieldLogicalType, protowire.BytesType)
		b = protowire.AppendString(b, f.LogicalType)
	}
	if f.Nullable {
		b = protowire.AppendTag(b, fieldNullable, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
	}
	if f.Encoding != 0 {
		b = protowire.AppendTag(b, fieldEncoding, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int64(f.Encoding)))
	}
	if f.HasDictionary {
		var d []byte
		if f.DictionaryOffset != 0 {
			d = protowire.AppendTag(d, 1, protowire.VarintType)
			d = protowire.AppendVarint(d, uint64(f.DictionaryOffset))
		}
		if f.DictionaryLength != 0 {
			d = protowire.AppendTag(d, 2, protowire.VarintType)
			d = protowire.AppendVarint(d, uint64(f.DictionaryLength))
		}
		b = protowire.AppendTag(b, fieldDictionary, protowire.BytesType)
		b = protowire.AppendBytes(b, d)
	}
	if f.ExtensionName != "" {
		b = protowire.AppendTag(b, fieldExtensionName, protowire.BytesType)
		b = protowire.AppendString(b, f.ExtensionName)
	}
	b = AppendBytesMap(b, fieldMetadata, f.Metadata)
	if f.UnenforcedPrimaryKey {
		b = protowire.AppendTag(b, fieldPrimaryKey, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
	}
	if f.PrimaryKeyPosition != 0 {
		b = protowire.AppendTag(b, fieldPrimaryKeyPosition, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(f.PrimaryKeyPosition))
	}
	if f.UnenforcedClusteringKey {
		b = protowire.AppendTag(b, fieldClusteringKey, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
	}
	if f.ClusteringKeyPosition != 0 {
		b = protowire.AppendTag(b, fieldClusteringKeyPosition, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(f.ClusteringKeyPosition))
	}
	b = append(b, f.Unknown...)
	return b
}

// AppendBytesMap appends a protobuf map<string, bytes> field (one entry
// message {1 key, 2 value} per key) with keys sorted so output is deterministic.
// Exported because manifests and transactions use the same shape.
func AppendBytesMap(b []byte, num protowire.Number, m map[string][]byte) []byte {
	if len(m) == 0 {
		return b
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m[k]
		n := protowire.SizeTag(1) + protowire.SizeBytes(len(k)) + protowire.SizeTag(2) + protowire.SizeBytes(len(v))
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(n))
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, k)
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, v)
	}
	return b
}

// ParseMapEntry decodes one map<string, bytes> entry message. The returned
// value aliases b.
func ParseMapEntry(b []byte) (key string, value []byte, err error) {
	err = walk(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		switch num {
		case 1:
			if typ != protowire.BytesType {
				return errWireType("map key", typ)
			}
			key = string(v)
		case 2:
			if typ != protowire.BytesType {
				return errWireType("map value", typ)
			}
			value = v
		}
		return nil
	})
	return key, value, err
}

func errWireType(what string, typ protowire.Type) error {
	return fmt.Errorf("lance schema: %s has unexpected wire type %d", what, typ)
}

var errTruncated = errors.New("lance schema: truncated or malformed protobuf")

// walk calls fn for every field of message b. For BytesType fields v is the
// payload; for varint and fixed fields x holds the value. raw-field bytes are
// never copied.
func walk(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errTruncated
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var y uint32
			y, n = protowire.ConsumeFixed32(b)
			x = uint64(y)
		case protowire.Fixed64Type:
			x, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		default:
			// Groups are not used by Lance; ConsumeFieldValue validates them.
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return errTruncated
		}
		b = b[n:]
		if err := fn(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}

// UnmarshalField decodes one lance.file.Field message. It never panics on
// malformed input.
func UnmarshalField(b []byte) (Field, error) {
	f := Field{}
	rest := b
	for len(rest) > 0 {
		start := rest
		num, typ, n := protowire.ConsumeTag(rest)
		if n < 0 {
			return Field{}, errTruncated
		}
		m := protowire.ConsumeFieldValue(num, typ, rest[n:])
		if m < 0 {
			return Field{}, errTruncated
		}
		whole := start[:n+m]
		val := rest[n : n+m]
		rest = rest[n+m:]

		varint := func(name string) (uint64, error) {
			if typ != protowire.VarintType {
				return 0, errWireType("Field."+name, typ)
			}
			x, _ := protowire.ConsumeVarint(val)
			return x, nil
		}
		bytesv := func(name string) ([]byte, error) {
			if typ != protowire.BytesType {
				return nil, errWireType("Field."+name, typ)
			}
			v, _ := protowire.ConsumeBytes(val)
			return v, nil
		}
		var err error
		var x uint64
		var v []byte
		switch num {
		case fieldType:
			x, err = varint("type")
			f.Type = int32(x)
		case fieldName:
			v, err = bytesv("name")
			f.Name = string(v)
		case fieldID:
			x, err = varint("id")
			f.ID = int32(x)
		case fieldParentID:
			x, err = varint("parent_id")
			f.ParentID = int32(x)
		case fieldLogicalType:
			v, err = bytesv("logical_type")
			f.LogicalType = string(v)
		case fieldNullable:
			x, err = varint("nullable")
			f.Nullable = x != 0
		case fieldEncoding:
			x, err = varint("encoding")
			f.Encoding = int32(x)
		case fieldDictionary:
			v, err = bytesv("dictionary")
			if err == nil {
				f.HasDictionary = true
				err = walk(v, func(num protowire.Number, typ protowire.Type, _ []byte, x uint64) error {
					if typ != protowire.VarintType {
						return nil
					}
					switch num {
					case 1:
						f.DictionaryOffset = int64(x)
					case 2:
						f.DictionaryLength = int64(x)
					}
					return nil
				})
			}
		case fieldExtensionName:
			v, err = bytesv("extension_name")
			f.ExtensionName = string(v)
		case fieldMetadata:
			v, err = bytesv("metadata")
			if err == nil {
				var k string
				var mv []byte
				k, mv, err = ParseMapEntry(v)
				if err == nil {
					if f.Metadata == nil {
						f.Metadata = map[string][]byte{}
					}
					f.Metadata[k] = append([]byte{}, mv...)
				}
			}
		case fieldPrimaryKey:
			x, err = varint("unenforced_primary_key")
			f.UnenforcedPrimaryKey = x != 0
		case fieldPrimaryKeyPosition:
			x, err = varint("unenforced_primary_key_position")
			f.PrimaryKeyPosition = uint32(x)
		case fieldClusteringKey:
			x, err = varint("unenforced_clustering_key")
			f.UnenforcedClusteringKey = x != 0
		case fieldClusteringKeyPosition:
			x, err = varint("unenforced_clustering_key_position")
			f.ClusteringKeyPosition = uint32(x)
		default:
			f.Unknown = append(f.Unknown, whole...)
		}
		if err != nil {
			return Field{}, err
		}
	}
	return f, nil
}

// MarshalSchema encodes a lance.file.Schema message: the fields (in the given
// order, which must be pre-order) and the schema metadata.
func MarshalSchema(fields []Field, metadata map[string][]byte) []byte {
	var b []byte
	for _, f := range fields {
		b = protowire.AppendTag(b, schemaFields, protowire.BytesType)
		fb := appendField(nil, f)
		b = protowire.AppendBytes(b, fb)
	}
	return AppendBytesMap(b, schemaMetadata, metadata)
}

// UnmarshalSchema decodes a lance.file.Schema message.
func UnmarshalSchema(b []byte) ([]Field, map[string][]byte, error) {
	var fields []Field
	var md map[string][]byte
	err := walk(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		switch num {
		case schemaFields:
			if typ != protowire.BytesType {
				return errWireType("Schema.fields", typ)
			}
			f, err := UnmarshalField(v)
			if err != nil {
				return err
			}
			fields = append(fields, f)
		case schemaMetadata:
			if typ != protowire.BytesType {
				return errWireType("Schema.metadata", typ)
			}
			k, mv, err := ParseMapEntry(v)
			if err != nil {
				return err
			}
			if md == nil {
				md = map[string][]byte{}
			}
			md[k] = append([]byte{}, mv...)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return fields, md, nil
}
