// Package lance reads and writes Lance datasets in pure Go, compatible with
// pylance 14: lance.dataset(path).to_table() opens what Write produces, and
// Open reads and Write appends to what pylance writes with its defaults
// (data storage version 2.2) or with data_storage_version "2.1" or "2.0".
//
// # On-disk layout
//
//	<root>/
//	  _versions/      one manifest per version. New datasets use the V2
//	                  naming scheme (pylance 14's default): version v is
//	                  "{2^64-1-v}" as 20 zero-padded digits + ".manifest";
//	                  V1 ("{v}.manifest") is read and kept when appending to
//	                  a V1 dataset. Names not ending in "manifest" (our
//	                  ".tmp_*" staging files, pylance's
//	                  latest_version_hint.json) are ignored. _latest.manifest
//	                  is never written.
//	  _transactions/  "{read_version}-{uuid}.txn": one lance.table.Transaction
//	                  per version (Overwrite when the dataset is created,
//	                  Append afterwards), so pylance can resolve conflicts
//	                  when it commits after us.
//	  data/           Lance data files, named like Lance does: 24 binary
//	                  digits + 26 hex digits + ".lance". A new dataset's
//	                  file version is WriteOptions.DataStorageVersion
//	                  (default DefaultDataStorageVersion, 2.2); appends use
//	                  the dataset's recorded version, so every data file of
//	                  a dataset has the same version (mixing needs a feature
//	                  flag we do not write). DataFile.fields lists every
//	                  field of a 2.0 file but only the leaves of a 2.1+ one.
//
// A manifest file is: optional IndexSection, Manifest, trailer. Each section
// is a u32 little-endian length followed by protobuf bytes, and the 16-byte
// trailer holds the i64 position of the Manifest section, u16 major 0,
// u16 minor 2 and "LANC". Every manifest is self-contained: full schema
// (lance.file.Field list, parents before children), the complete fragment
// list, config, feature flags, and the name of its transaction file.
// pylance 14 additionally inlines the transaction (a section whose position
// is manifest field 23, as observed in its output; older releases used 21);
// we read it but only write the .txn file. An index section (pylance-built
// indices) is copied verbatim into the versions we append. Manifest fields
// this package does not know are dropped on append; the feature flags guard
// the ones that matter (writers refuse flags they do not implement).
//
// # Commit protocol
//
// Write performs, in order:
//
//  1. create the dataset directories if they are missing (fsyncing the new
//     entries starts at once, in the background), write the data file under
//     data/ (the kernel starts writing it to disk while it is still being
//     encoded) and start fsyncing it and data/;
//  2. build the new manifest from the latest one - the caller's
//     WriteOptions.Base, else the newest in _versions/ - (version+1,
//     fragments plus the new one with id max_fragment_id+1, config upserts,
//     flags);
//  3. at the same time: write _transactions/{read}-{uuid}.txn (fsync it and
//     _transactions/), write the manifest to _versions/.tmp_{v}_{uuid} (a
//     name readers ignore, fsync), and wait for step 1's fsyncs;
//  4. only when all of step 3 succeeded, os.Link the temporary manifest to
//     its final name. link(2) fails with EEXIST when another writer (Go or
//     pylance, whose local commits are also create-if-absent) already
//     published that version; then we remove our temporary file and
//     transaction file, reload the latest manifest, check that the schema
//     is unchanged and that no Overwrite/Restore happened since we read,
//     and retry (up to 20 attempts, jittered backoff);
//  5. remove the temporary file and fsync _versions/ before returning.
//
// A crash before step 4's link leaves only unreferenced files (data files,
// transaction files, temporary manifests) that readers never look at: the
// previous version stays the latest and reads exactly as before. After the
// link the new version is complete, because its bytes were fsynced before
// they became visible under the final name.
//
// # Object stores
//
// A dataset path may be an s3://bucket/prefix URL (see package objstore
// for its settings). The layout is the same; the commit differs in step 4:
// there is no staging name and no link, the manifest is written once under
// its final name by a PUT with "If-None-Match: *", which S3 refuses (412)
// when the version exists - the conflict that makes the writer rebase and
// retry, as Lance's own S3 commit does. Steps 1, 3 and 5 need no fsync: an
// object is durable when its PUT is answered, and a data file (a multipart
// upload past 8 MiB) becomes visible only complete. The newest version is
// the first V2 name of one small LIST page; data files are read with one
// GET of their tail plus coalesced ranged GETs (storage.go, file/remote.go).
//
// # Reading
//
// A Dataset is an immutable snapshot of one version, safe for concurrent
// use; it has no Close method: the data file readers it opens live in the
// process's bounded reader cache (reader_cache.go), shared by all versions.
// Dataset.Read maps a logical row range to fragments with a binary search
// over prefix sums of fragment row counts and reads only those fragments.
//
// Offsets count live rows: rows listed in a fragment's deletion file are
// skipped. A deletion file is either an Arrow IPC file with one UInt32
// column "row_id" (pylance writes it for up to 5000 deleted rows; decoded by
// a narrow, bounds-checked reader of our own in deletion_arrow.go) or a
// portable 32-bit Roaring bitmap (decoded with
// github.com/RoaringBitmap/roaring). The k-th live row of a fragment is found
// by binary search over its sorted deleted offsets; a range is read as one
// physical range and the runs of live rows are concatenated. CountRows is
// exact: fragments whose manifest entry does not record num_deleted_rows have
// their deletion file read at Open. Deletion vectors are cached per Dataset.
//
// A fragment may hold several data files with disjoint fields (pylance's
// add_columns writes one per new computed column); each top-level field is
// read from the last file listing it. A field no data file of the fragment
// lists was added after the fragment was written and reads as nulls.
// DataFile.fields of a 2.0 file lists every field id, nested ones included;
// a 2.1+ file lists only leaves (a struct's or a list's own id is absent,
// the list item's present), so a nested field is read from the column of its
// first leaf descendant, its other leaves following in pre-order.
//
// # Schema evolution
//
// AddColumns appends nullable top-level fields to the schema without writing
// data: it commits a Merge transaction (all fragments unchanged, the new
// schema, preserves_nullability) as pylance's add_columns(pa.schema(...))
// does; new field ids follow the highest existing id. Old rows read as null
// in the new fields, in this package and in pylance; later writes, from
// either side, supply every field.
//
// WidenColumns changes column types to wider ones (int32 -> int64, integer
// or float32 -> float64, ...) the way pylance's alter_columns casts: the
// field keeps its name and position but gets a new id, every fragment that
// stores it gets one new data file with the converted values of all its
// physical rows, and a Merge transaction carries the new fragment list and
// schema. The old column stays in the old data file, unreferenced by the new
// schema, so older versions still read it. Conversions are exact or refused.
//
// # Compaction
//
// Compact plans like pylance's compact_files: a fragment is a candidate when
// it has fewer live rows than TargetRowsPerFragment or (unless
// KeepDeletions) more than MaterializeDeletionsThreshold of its physical rows
// deleted; runs of adjacent candidates with two fragments or more, or one
// with deletions, are rewritten. Their live rows are copied in order into new
// data files (of the dataset's data storage version) of at most
// TargetRowsPerFragment rows, and one version is
// committed with a Rewrite transaction {groups: [{old_fragments,
// new_fragments}]}, the new fragments taking the position of the first old
// one and fresh ids (recorded in the transaction, as pylance does; we do not
// commit a separate ReserveFragments version). Old versions keep their
// files. The commit is rebuilt over concurrent appends and fails with
// ErrCommitConflict if a rewritten fragment or the schema changed meanwhile.
// Datasets with indices are refused: the indices' row addresses would need
// remapping.
//
// # Cleanup
//
// CleanupOldVersions removes manifests committed before a cutoff, except
// the latest and tagged ones (_refs/tags/*.json), oldest first and before
// any file, so every remaining version stays readable if it is interrupted.
// Then it removes data, deletion and transaction files no remaining version
// references: at once if a removed version referenced them, after 7 days
// (Lance's rule, protecting commits in progress) if no version ever did.
// _indices/ is left alone. A manifest that does not decode stops it before
// anything is removed.
//
// # Errors
//
// Manifests, transactions, deletion files, tags and fragment metadata that
// do not decode or contradict each other yield errors wrapping ErrCorrupt.
// Errors from lance/file about a data file's own bytes are passed through
// unclassified (that package has no corruption sentinel yet).
//
// Reported as errors wrapping ErrUnsupported: the feature flags pylance 14
// refuses (data overlay files, bit 9, unknown bits from 12 on), named as
// Lance names them (see feature_flags.go), plus semantic types (2.3 tables)
// and, for writing, stable row ids; writing (Write, AddColumns,
// WidenColumns, Compact) to a dataset whose data storage version is not
// 2.0, 2.1 or 2.2, or whose data files are of other versions without the
// mixed data file versions flag (with it, appends write the dataset's
// version, as pylance does); nested
// types in a 2.0 dataset; nested fields whose leaves are split across data
// files; compacting
// or widening a dataset with indices; data or deletion files under external
// base paths.
package lance
