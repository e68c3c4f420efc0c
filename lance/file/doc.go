// Package file reads and writes single Lance data files (the *.lance files
// under a dataset's data/ directory). It writes and reads file format
// versions 2.0, 2.1 and 2.2 (pylance 14 writes 2.2 by default);
// WriteOptions.Version chooses.
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
// 2.0 page encodings produced by the writer (one column per field, nested
// ones included, in pre-order; no structs or maps):
//
//	fixed width, bool: Nullable{no_nulls | some_nulls{validity} | all_nulls}(Flat{bits})
//	string, binary:    Binary{indices: u64 end offsets (+null_adjustment for
//	                   nulls), bytes: Flat{8} (with compression{scheme} when
//	                   WriteOptions.Compression asks, as pylance does)}
//	fixed_size_list:   Nullable{...}(FixedSizeList{dimension, Nullable{...}(Flat{bits})})
//	list, large_list:  List{u64 end offsets, null_offset_adjustment, num_items},
//	                   then the item's column(s) (write20_nested.go)
//
// 2.1 and 2.2 files are written with the structural layouts described
// below, one column per leaf (write21*.go: write21.go shreds rows into
// levels and values, write21_levels.go, write21_miniblock.go,
// write21_fullzip.go and write21_pages.go write the pages), choosing each
// page's encoding as pylance 14 does (encode21_*.go): integers bit-packed
// (InlineBitpacking), low-cardinality strings and (2.2) integers as
// dictionaries, runs of numbers and of dictionary indices run-length
// encoded (Rle), strings FSST-compressed (in mini-block and full-zip
// pages), levels bit-packed (OutOfLineBitpacking); full-zip pages for
// values of 256 bytes or more (large vectors, long strings), all-null pages
// for pages without valid values and (2.2) constant pages, inline or with a
// scalar buffer, for pages whose valid values are all equal (lists and
// structs included). Under a general
// codec, 32- and 64-bit numbers whose bytes repeat are byte-stream split. Compression wraps values in General{zstd|lz4}. Vector
// columns without null items are appended in bulk (write21_vectors.go).
//
// The reader also decodes Dictionary{u8 indices, Binary items} pages, which
// pylance writes for low-cardinality Utf8 pages, and zstd/lz4-compressed
// Binary bytes buffers (pylance writes them when a field's metadata sets
// "lance-encoding:compression"; see compression.go). pylance's 2.0 list,
// struct and fixed-size list columns are read (legacy_nested.go); this
// package writes the lists and fixed-size lists, not the structs.
//
// Files of version 2.1 and 2.2 use "structural" page layouts
// (lance.encodings21.PageLayout; encodings21_proto.go): mini-block pages
// (read21_miniblock.go: chunks of up to a few thousand values, each with its
// own rep/def levels and value buffers), full-zip pages for wide values
// (read21_fullzip.go), and constant / all-null pages (read21.go). Values are
// compressed with Flat, Variable, FastLanes bit-packing (decode21_bitpack.go),
// RLE, FSST (decode21_fsst.go), dictionaries, byte-stream-split and zstd/lz4
// "General" wrappers (decode21.go). Repetition and definition levels carry list
// offsets and the validity of every nesting level; a read decodes the levels
// of the rows it needs and unravels them into Arrow validity and offsets
// (read21_assemble.go for flat columns, read21_nested.go for
// struct, list, large_list and fixed_size_list). Without lists a row range
// maps to a range of mini-block chunks (or full-zip bytes) and only those are
// read; mini-block pages with lists are decoded whole. In 2.1+ files a struct has no
// column of its own: Read's column index for a struct field is its first
// leaf column, the others following in pre-order.
//
// Dictionary-typed columns (read_dictionary.go, write21_dictionary.go,
// write20_dictionary.go) keep their dictionary and indices apart, as
// pylance stores them; map columns are read and written as the list of
// their entries (map_storage.go), at 2.2 only.
//
// Packed structs (field metadata lance-encoding:packed) are read, not
// written (packed_blob.go). 2.3 files and blob columns are refused with an
// error naming what is unsupported; so are structs and maps in a 2.0 file
// being written.
//
// The writer splits each column into pages of at most WriteOptions.MaxPageBytes
// (8 MiB by default) so a range read touches only the pages, and within them
// only the byte ranges, that hold the requested rows. All decoding of on-disk
// bytes is bounds-checked against the file size.
package file
