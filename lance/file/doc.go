// Package file reads and writes single Lance data files (the *.lance files
// under a dataset's data/ directory), file format version 2.0.
//
// Container layout (protos/file2.proto), all integers little-endian:
//
//	[page buffers, each padded to a multiple of 64 bytes]
//	[global buffer 0: lance.file.FileDescriptor {1 schema, 2 length}]
//	[ColumnMetadata 0 .. N-1, back to back]
//	[column metadata offset table: N x (u64 position, u64 size)]
//	[global buffer offset table:   G x (u64 position, u64 size)]
//	[footer, 40 bytes: u64 column metadata start, u64 CMO table position,
//	 u64 GBO table position, u32 G, u32 N, u16 major, u16 minor, "LANC"]
//
// File version 2.0 is written with footer numbers (0, 3); the manifest's
// DataFile records it as (2, 0). Each ColumnMetadata holds the column
// encoding Any{"/lance.encodings.ColumnEncoding", values: Empty} and a list of
// pages {buffer offsets, buffer sizes, row count, page encoding}; a 2.0 page
// encoding is Any{"/lance.encodings.ArrayEncoding", ...}.
//
// 2.0 page encodings produced by the writer (one column per top-level field):
//
//	fixed width, bool: Nullable{no_nulls | some_nulls{validity} | all_nulls}(Flat{bits})
//	string, binary:    Binary{indices: u64 end offsets (+null_adjustment for
//	                   nulls), bytes: Flat{8}}
//
// The reader also decodes Dictionary{u8 indices, Binary items} pages, which
// pylance writes for low-cardinality Utf8 pages, and zstd/lz4-compressed
// Binary bytes buffers (pylance writes them when a field's metadata sets
// "lance-encoding:compression"; see compression.go). Files of version 2.1 and
// later use different ("structural") page encodings and are rejected with an
// explicit error for now, as are nested types.
//
// The writer splits each column into pages of at most WriteOptions.MaxPageBytes
// (8 MiB by default) so a range read touches only the pages, and within them
// only the byte ranges, that hold the requested rows. All decoding of on-disk
// bytes is bounds-checked against the file size.
package file
