// Package schema converts between Arrow schemas and the Lance schema: a flat,
// pre-order list of lance.file.Field protobuf messages.
//
// On-disk form (protos/file.proto, package lance.file), written with
// hand-rolled protowire code so the project needs no protoc step:
//
//	Field:  1 type (enum, legacy; Lance writes 0)   2 name          3 id (int32)
//	        4 parent_id (int32, -1 = top level; always written)
//	        5 logical_type (string)   6 nullable (bool)
//	        7 encoding (enum, v1 only: PLAIN=1 for fixed width, VAR_BINARY=2 for
//	          string/binary; Lance still fills it)   8 dictionary {1 offset, 2 length}
//	        9 extension_name   10 metadata map<string,bytes>
//	        12 unenforced_primary_key   13 unenforced_primary_key_position
//	        14 unenforced_clustering_key   15 unenforced_clustering_key_position
//	Schema: 1 repeated Field   5 metadata map<string,bytes>
//
// Parents always precede their children and every child names its parent by
// id; a struct/list gets its id before its children (pre-order DFS).
// logical_type strings: "int8".."int64", "uint8".."uint64", "halffloat",
// "float", "double", "bool", "string", "large_string", "binary",
// "large_binary", "null", "date32:day", "date64:ms", "timestamp:<unit>:<tz|->",
// "time32:<unit>", "time64:<unit>", "duration:<unit>", "decimal:128:<p>:<s>",
// "decimal:256:<p>:<s>", "fixed_size_binary:<n>", "fixed_size_list:<item>:<n>"
// (a leaf: the item field is implied), "struct", "list", "large_list",
// "list.struct", "large_list.struct".
//
// Unknown protobuf fields are kept verbatim (Field.Unknown) so a manifest
// copied forward by this package does not lose data written by newer Lance.
package schema
