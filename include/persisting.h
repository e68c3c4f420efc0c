/*
 * persisting.h - the C interface of libpersisting.so.
 *
 * One bucket of a durable queue, kept as a Lance dataset at {path}/data.lance.
 * Data crosses this boundary as Arrow C Data Interface structs, without copying
 * column buffers.
 *
 * Conventions
 * -----------
 * - Every function returns PERSISTING_OK (0) on success or one of the
 *   PERSISTING_E* codes below. On failure, when `error` is not NULL, it is filled
 *   with the same code and a message; release it with persisting_error_release().
 *   On success `error` is left untouched.
 * - `error` must be zero-initialised before its first use (C: PersistingError
 *   err = {0}; C++: PersistingError err{};); a filled error may be passed
 *   again only after it was released.
 * - A bucket is named by an opaque non-zero handle. After a successful
 *   persisting_close() the handle is dead; using it again returns
 *   PERSISTING_EINVALID_HANDLE.
 * - All functions are safe to call from several threads at once, on the same
 *   handle or different ones.
 * - No Go panic crosses this boundary: an internal failure is returned as
 *   PERSISTING_EINTERNAL.
 * - Never fork() after loading the library: the child process hangs in the Go
 *   runtime. Start helper processes by spawn/exec.
 */
#ifndef PERSISTING_H
#define PERSISTING_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Arrow C Data Interface (arrow.apache.org/docs/format/CDataInterface.html) */
#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE

#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4

struct ArrowSchema {
  const char* format;
  const char* name;
  const char* metadata;
  int64_t flags;
  int64_t n_children;
  struct ArrowSchema** children;
  struct ArrowSchema* dictionary;
  void (*release)(struct ArrowSchema*);
  void* private_data;
};

struct ArrowArray {
  int64_t length;
  int64_t null_count;
  int64_t offset;
  int64_t n_buffers;
  int64_t n_children;
  const void** buffers;
  struct ArrowArray** children;
  struct ArrowArray* dictionary;
  void (*release)(struct ArrowArray*);
  void* private_data;
};

#endif /* ARROW_C_DATA_INTERFACE */

#ifndef ARROW_C_STREAM_INTERFACE
#define ARROW_C_STREAM_INTERFACE

struct ArrowArrayStream {
  int (*get_schema)(struct ArrowArrayStream*, struct ArrowSchema* out);
  int (*get_next)(struct ArrowArrayStream*, struct ArrowArray* out);
  const char* (*get_last_error)(struct ArrowArrayStream*);
  void (*release)(struct ArrowArrayStream*);
  void* private_data;
};

#endif /* ARROW_C_STREAM_INTERFACE */

/* ---- Status codes */
#define PERSISTING_OK 0
#define PERSISTING_EINVALID_ARGUMENT 1 /* a NULL pointer, a bad option value, a bad key, a bad range */
#define PERSISTING_EINVALID_HANDLE 2   /* unknown or closed handle */
#define PERSISTING_ESCHEMA 3           /* data does not match the bucket's schema */
#define PERSISTING_EIO 4               /* the file system failed (permissions, disk full, ...) */
#define PERSISTING_ECORRUPT 5          /* a file on disk is not what it should be */
#define PERSISTING_EWAL 6              /* the write-ahead log failed */
#define PERSISTING_EINTERNAL 7         /* a bug: an internal error or a recovered panic */
#define PERSISTING_EUNSUPPORTED 8      /* the dataset uses a Lance feature this version cannot handle */
#define PERSISTING_ETYPE 9             /* a value of a kind no column can hold, or an option of the wrong type */
#define PERSISTING_ENOT_FLUSHED 10     /* the call's rows WERE stored (buffer, and WAL when on), but a flush
                                          the call had to wait for failed; the next flush retries them */
#define PERSISTING_EBUSY 11            /* the bucket is open for writing by another handle or process */
/* Each code means one thing; an unknown code (a newer library) is a failure of
 * the call. An append that failed with any code but PERSISTING_ENOT_FLUSHED
 * kept nothing - except that with the WAL an fsync failure (PERSISTING_EWAL)
 * leaves it unknown whether the rows survive a crash: a caller that did not
 * see a success must treat the rows as "maybe stored" (see docs/wal.md). */

/* An error filled by a failing call. `message` is a NUL-terminated string owned
 * by the error; free both with persisting_error_release(). */
typedef struct PersistingError {
  int code;
  char* message;
} PersistingError;

/* Frees error->message and zeroes the struct. NULL and an already released
 * error are fine. */
void persisting_error_release(PersistingError* error);

/* Frees a string returned by this library (persisting_stats). NULL is fine. */
void persisting_string_free(char* s);

/* Version of the library, a static string: do not free. It changes whenever
 * this header does incompatibly: 0.2.0 added first_offset to the three append
 * functions. A program built against another version must be rebuilt. */
const char* persisting_version(void);

/* ---- Buckets */

/* Opens the bucket stored at `path` (a directory, created when missing),
 * recovering what an earlier process committed there.
 * `options_json` may be NULL or a JSON object, e.g.
 *   {"bucket_id": 3, "flush_threshold": 1000}
 *  - bucket_id (int, default 0): reported by stats.
 *  - flush_threshold (int > 0, default 1000): rows buffered in memory before an
 *    automatic flush writes them as a new Lance version.
 *  - enable_wal (bool, default false): write every append to the write-ahead
 *    log in {path}/wal before the append returns; reopening replays what was
 *    acknowledged but not yet flushed, exactly once.
 *  - wal_sync_interval (seconds >= 0, default 0): 0 makes each append wait
 *    for an fsync of its entry (concurrent appends share one: group commit;
 *    the wait holds no lock, so call it from a worker thread if the caller
 *    must not block); > 0 returns after the write and fsyncs at least that
 *    often in the background.
 *  - max_wal_size (bytes > 0, default 100 MiB): past half of it a flush
 *    starts (emptying the WAL); an append that finds the WAL past it waits
 *    for that flush.
 *  - schema_evolution (bool, default false): a batch may add fields (earlier
 *    rows read null in them; committed as a Lance schema change), omit fields
 *    (null), order fields freely, and carry narrower numbers that widen
 *    exactly (int8/16/32 -> int64, float32 or integers up to 2^53 ->
 *    float64). Without it a batch must match the schema exactly.
 *  - compression (string, default none): "zstd" or "lz4" (any case)
 *    compresses the data files flushes write (pylance reads them); "snappy",
 *    "" and other names are PERSISTING_EINVALID_ARGUMENT (Lance has no snappy
 *    codec).
 *  - data_storage_version (string, default "2.2"): the Lance data file
 *    version of a dataset the bucket creates: "2.0", "2.1" or "2.2" (2.0
 *    cannot store structs or maps). An existing dataset keeps its own version.
 *  - compaction_threshold (int >= 0, default 0 = off): after a flush that
 *    leaves the dataset with at least this many fragments, compact it.
 *  - enable_metrics (bool, default false): record this bucket's Prometheus
 *    metrics (see persisting_metrics_text), labelled by bucket_id and path.
 *  - metrics_address ("host:port", e.g. "127.0.0.1:9464", default none; else
 *    PERSISTING_EINVALID_ARGUMENT before anything is created): also serve
 *    every bucket's metrics over HTTP at /metrics (implies enable_metrics);
 *    one server per address for the life of the process. Port 0 picks a free
 *    port; stats report the address as metrics_address.
 *  - storage_options (object, default none): settings of an s3://bucket/prefix
 *    path in pylance's vocabulary (aws_endpoint, aws_region,
 *    aws_access_key_id, aws_secret_access_key, aws_session_token, allow_http,
 *    ...; values strings, booleans or numbers, else PERSISTING_ETYPE), over
 *    the AWS_* environment; unknown keys are PERSISTING_EINVALID_ARGUMENT.
 *    See docs/object-storage.md.
 *  - wal_path (string, default {path}): local directory of the WAL; required
 *    with enable_wal when path is s3:// (the WAL never leaves local disk).
 *  - writer_lease_sec (seconds > 0, default 30), writer_lease_renew_sec
 *    (seconds > 0, default a third of the lease): the writer lease of an
 *    s3:// bucket, how long it lasts after its last renewal and how often
 *    the writer renews it (docs/scaling.md, "On object storage").
 *  - read_only (bool, default false): open for reading only, without the
 *    writer lock (so beside the bucket's writer): nothing is created, the
 *    WAL is neither replayed nor written (rows only the WAL holds are not
 *    read), nothing is flushed; appends, compaction, cleanup and index
 *    builds fail with PERSISTING_EUNSUPPORTED. `path` must exist. Reads see
 *    the newest version committed at open.
 *  - min_flush_interval_sec (seconds >= 0, default 1, 0 = off): a flush the
 *    threshold asks for starts no sooner than this after the previous flush
 *    started (a burst makes one flush per interval); persisting_flush, close
 *    and max_flush_delay_sec never wait. max_buffer_bytes (bytes > 0, default
 *    32 MiB): at half of it a flush waiting for the interval starts at once.
 *    An append waits for the running flush when the buffer would pass twice
 *    flush_threshold rows, or twice the rows of a larger running flush while
 *    the buffer holds less than max_buffer_bytes.
 *  - Background work (docs/maintenance.md): max_flush_delay_sec (alias
 *    auto_flush_interval_sec; seconds >= 0, default 5, 0 = off): flush rows
 *    at most this long after they were appended; maintenance (bool, default
 *    true): background compaction (compaction_target_rows, default 1048576;
 *    compaction_fanout, default 16) and cleanup of old versions
 *    (keep_versions, default 10; version_retention_sec, default 60;
 *    cleanup_interval_sec, default 10); data retention (retention_seconds,
 *    retention_rows, retention_bytes; default none): drop the oldest records,
 *    offsets never shift, stats report first_retained_offset, and reading
 *    below it is PERSISTING_EINVALID_ARGUMENT.
 *  - ignore_unknown (bool, default false): skip keys this library does not
 *    know instead of refusing them; stats list them as "ignored_options".
 *  - null_is_default (bool, default true): false makes null a value, not
 *    "the default": accepted only by the options that may be none
 *    (compression, data_storage_version, metrics_address, storage_options,
 *    wal_path) and PERSISTING_ETYPE for the others (the Python shell sends
 *    false, so None for an int option is a TypeError).
 * path may also be a file:// URL or s3://bucket/prefix (the dataset is then
 * s3://bucket/prefix/data.lance).
 * A key whose value is null takes its default (see null_is_default). A value of the wrong JSON type
 * is PERSISTING_ETYPE, a value out of range PERSISTING_EINVALID_ARGUMENT, an
 * unknown key PERSISTING_EINVALID_ARGUMENT (unless ignore_unknown).
 * A bucket has one writer at a time: opening for writing takes an exclusive
 * flock on {path}/.persisting.lock (the kernel drops it when the process ends,
 * crash and kill -9 included) and refuses a second open of the same directory
 * in this process. A second writer fails with PERSISTING_EBUSY; the message
 * names the path and the holder (pid, host). The lock is released by
 * persisting_close. An s3:// bucket's writer holds a lease object
 * ({path}/_persisting/writer-lease.json, renewed in the background; a
 * crashed holder's lease expires after writer_lease_sec) and records a
 * fencing epoch in every commit: a writer that was taken over, or whose
 * lease ran out without a renewal, gets PERSISTING_EBUSY from its flushes.
 * A bucket opened without the WAL over a directory whose WAL still holds rows
 * replays and flushes them first. Warnings (a torn WAL tail that was cut) go
 * to stderr.
 * On success *out_handle is set; release it with persisting_close(). */
int persisting_open(const char* path, const char* options_json, uint64_t* out_handle,
                    PersistingError* error);

/* Flushes buffered rows, then closes the bucket and frees the handle. A failed
 * flush is returned as an error. With the WAL (the rows are in its log) the
 * handle is freed all the same. Without it, the bucket stays open with its
 * rows and the handle stays valid: close (or flush) it again once the cause
 * (a full disk, an unreachable store) is gone. */
int persisting_close(uint64_t handle, PersistingError* error);

/* Appends the rows of one record batch: `array` must be a struct array whose
 * children match `schema`'s fields (a record batch exported by pyarrow's
 * RecordBatch._export_to_c or by arrow-rs/nanoarrow).
 * Ownership: both structs are moved into the library. On return, success or
 * not, their release members are NULL: the library has called the schema's
 * release, and calls the array's original release callback once it no longer
 * needs the buffers (possibly after later flushes, from another thread, and
 * never while it holds a lock: the callback may call this library, on the
 * same bucket too, except persisting_close and persisting_flush, which return
 * after the callbacks of the batches they dropped). A refused batch is
 * released before the call returns.
 * The buffers are not copied: do not modify them after the call.
 * Arrays are checked against the C Data Interface before a byte is kept:
 * offsets at any level and null_count -1 are fine; a released struct
 * (release NULL), a schema that is not a struct, wrong buffer or child
 * counts, a NULL buffer the rows need, negative lengths or offsets, children
 * shorter than their parent reads, offsets that decrease, dictionary indices
 * or views out of range, utf8 values that are not UTF-8, and null rows of the
 * batch's own struct array are PERSISTING_EINVALID_ARGUMENT naming the field.
 * string_view and binary_view columns are stored as utf8 and binary (their
 * values copied). A batch of zero rows appends nothing and fixes no schema
 * (its buffers are not read).
 * The first batch of a new bucket fixes the schema; a later batch whose field
 * names or types differ (beyond what schema_evolution allows) fails with
 * PERSISTING_ESCHEMA and nothing of it is kept; a field name that is empty or
 * holds '.' is PERSISTING_EINVALID_ARGUMENT. A column type the bucket's data
 * file version cannot store, or a dataset this library cannot append to
 * (stats "read_only" says why), fails with PERSISTING_EUNSUPPORTED.
 * Buffering, flushes and back-pressure (the same for every append function):
 * rows are buffered in memory (and first written to the WAL when it is on);
 * an append that brings the buffer to flush_threshold rows starts a flush in
 * the background and returns without waiting for it. An append that would
 * take the buffer past twice flush_threshold (or find the WAL past
 * max_wal_size) first waits for the running flush - back-pressure, never an
 * error. If that flush fails, the append still stores its rows and returns
 * PERSISTING_ENOT_FLUSHED: they stay buffered (and logged) for the next flush;
 * stats "flush_error" says why the last flush failed.
 * first_offset (the same for every append function; may be NULL): when the
 * rows are stored (PERSISTING_OK or PERSISTING_ENOT_FLUSHED), receives the
 * offset (0-based, in append order, as persisting_read takes it) of the
 * call's first row; its rows hold the offsets from there on, consecutive
 * even when other appends to the bucket race it. With no rows it is the
 * bucket's total count. On any other error it is not written. */
int persisting_append(uint64_t handle, struct ArrowSchema* schema, struct ArrowArray* array,
                      int64_t* first_offset, PersistingError* error);

/* Appends every batch of `stream` as one unit: all of them, or on any error
 * none. The stream's schema is checked against the bucket's before a batch is
 * read. Ownership: `stream` is moved into the library (its release member is
 * NULL on return, success or not; the library released it before returning);
 * the batches' buffers are kept without copying, as with persisting_append. A
 * get_schema or get_next that fails is PERSISTING_EINVALID_ARGUMENT with the
 * stream's get_last_error text (a NULL get_schema or get_next too). Errors, buffering, flushes and back-pressure
 * are those of persisting_append. */
int persisting_append_stream(uint64_t handle, struct ArrowArrayStream* stream, int64_t* first_offset,
                             PersistingError* error);

/* Appends records in the record encoding, version 1, as one unit: all of
 * them, or on any error none. The encoding is CPython's marshal format
 * (versions 2 to 4; Python writes marshal.dumps(obj, 4)) of `obj`, a list of
 * records (a single dict is taken as one record); each record is a dict
 * mapping field names (str) to values:
 *   - None, bool, int (within int64), float, str (valid UTF-8), bytes,
 *     dict (a struct), list or tuple (a list); marshal's back-references are
 *     understood;
 *   - tagged values, a tuple whose first item is Ellipsis:
 *       (..., "timestamp", int)     naive datetime: microseconds since the epoch
 *       (..., "timestamp_tz", int)  aware datetime: UTC microseconds since the epoch
 *       (..., "date", int)          date: days since the epoch
 *       (..., "time", int)          naive time: microseconds since midnight
 *       (..., "duration", int)      timedelta: microseconds
 *       (..., "decimal", str)       Decimal: its str()
 *       (..., "M8[u]", int)         numpy datetime64 of unit u: ticks since the
 *                                   epoch (u: s, ms, us, ns -> timestamp[u];
 *                                   D -> date32; W, h, m -> timestamp[s];
 *                                   other units are refused, PERSISTING_ETYPE)
 *       (..., "M8[u], UTC", int)    aware pandas Timestamp: UTC ticks
 *       (..., "m8[u]", int)         numpy timedelta64: ticks (s, ms, us, ns ->
 *                                   duration[u]; W, D, h, m -> duration[s])
 *       (..., "uuid", bytes)        UUID: its 16 bytes; fills fixed_size_binary[16]
 *                                   (arrow.uuid) columns, types no new field
 *       (..., "empty", value)       an empty 1-d numpy array: a list of no items,
 *                                   typed (where untyped) as value, a zero of
 *                                   its dtype, would type an item
 *       (..., "unsupported", str)   a value the encoder cannot carry: its type
 *                                   name (refused, naming the field)
 * The engine decides everything else, by the rules of docs/schema-rules.md:
 * the first records give a bucket without a schema its schema (int -> int64,
 * float -> double, bool, str -> string, bytes -> binary, datetime ->
 * timestamp[us] (tz UTC when aware), date -> date32, time -> time64[us],
 * timedelta -> duration[us], Decimal ->
 * decimal128(38, its scale), dict -> struct, list -> list; a field None so
 * far stays untyped - Arrow type null - until a value types it; a flush that
 * must write it stores a null column (an evolving bucket with typed fields
 * leaves it out of the dataset instead)); later records must fit the schema (an int
 * goes into a float field while the float holds it exactly; bytes of exactly
 * n bytes into fixed_size_binary[n]; a Decimal into decimal128/256 at the
 * column's scale, losing no digit; a time or timedelta into a time32/64 or
 * duration column of any unit that holds it exactly; a list of (key, value)
 * pairs, like a dict, into a map) and, with schema_evolution, may add
 * fields and widen integer fields (to double for a float, to int64 for a
 * wider int). Names must be non-empty, without '.' and NUL; values nest at
 * most 62 levels (32 with a list inside).
 * Buffering, flushes and back-pressure are those of persisting_append.
 * Ownership: `data` (`length` bytes) is only read during the call; nothing of
 * it is kept. With enable_wal the bytes are one WAL entry, durable (with
 * wal_sync_interval 0) before the call returns.
 * Errors, each naming the field's path, with nothing of the call appended and
 * no schema change: PERSISTING_EINVALID_ARGUMENT (an empty record, a bad or
 * repeated name, a str that is not UTF-8, an int beyond int64, a time value
 * outside the range of Python's datetime, date or timedelta (no read could
 * return it), data that is not valid marshal data, a NULL `data`); PERSISTING_ETYPE (a record that is
 * not a dict, a key that is not a str, a value no column can hold, a list
 * mixing kinds, nesting too deep); PERSISTING_ESCHEMA (a value that does not
 * fit its field, a field a strict bucket lacks, a widening a stored value
 * cannot take); PERSISTING_EUNSUPPORTED (a type the dataset's version cannot
 * store, such as a struct in a 2.0 dataset); PERSISTING_EWAL when the
 * WAL write fails. */
int persisting_append_records(uint64_t handle, const uint8_t* data, size_t length, int64_t* first_offset,
                              PersistingError* error);

/* Reads `limit` rows starting at row `offset` (0-based, in append order,
 * across flushed and still-buffered rows); limit < 0 means "to the end".
 * On success `out` is filled with a stream that the caller owns and must
 * release with out->release(out); every array and schema it yields is owned by
 * the caller too, and stays valid after persisting_close (it holds its own
 * references; its buffers are outside the Go heap). The stream is a
 * snapshot: rows appended later do not appear.
 * An offset past the end gives an empty stream. */
int persisting_read(uint64_t handle, int64_t offset, int64_t limit, struct ArrowArrayStream* out,
                    PersistingError* error);

/* Fills `out` with the bucket's schema (the caller releases it). Fails with
 * PERSISTING_ESCHEMA while the bucket has no schema yet (nothing appended). */
int persisting_schema(uint64_t handle, struct ArrowSchema* out, PersistingError* error);

/* Writes all buffered rows as one new Lance dataset version and returns when
 * it is committed (waiting for a background flush that runs). No-op when the
 * buffer is empty. On failure the rows stay buffered. */
int persisting_flush(uint64_t handle, PersistingError* error);

/* Rows in the bucket: total (= persisted + buffered), persisted, buffered.
 * Any of the out pointers may be NULL. */
int persisting_count(uint64_t handle, int64_t* total, int64_t* persisted, int64_t* buffered,
                     PersistingError* error);

/* Stats as a JSON object: bucket_id, total_count, persisted_count,
 * buffer_count, storage_path, dataset_path, version, flush_threshold,
 * wal_enabled, wal_size, wal_replayed, data_storage_version, the options in
 * force as the open took them (compression, "" for none and lowercased;
 * schema_evolution, compaction_threshold, wal_sync_interval in seconds,
 * max_wal_size, metrics_enabled), metrics (with enable_metrics),
 * metrics_address; and, only when they apply: "read_only"
 * (why appends to the dataset are impossible), "flush_error" (why the last
 * flush failed, until one succeeds), "ignored_options" (unknown option keys
 * skipped by ignore_unknown). The test build (./build.sh testhooks) adds
 * "boundary" (buffer addresses of the last append and read); the shipped
 * library does not.
 * *out_json is owned by the caller: free it with persisting_string_free(). */
int persisting_stats(uint64_t handle, char** out_json, PersistingError* error);

/* ---- Versions and maintenance (the Lance dataset's committed versions) */

/* Merges small adjacent fragments into fragments of up to `target_rows` rows
 * (0: Lance's default, 1Mi rows) as one new version; row order and offsets are
 * kept, older versions stay readable until cleaned up. *out_json (caller
 * frees with persisting_string_free) holds version_before, version,
 * fragments_before, fragments. */
int persisting_compact(uint64_t handle, int64_t target_rows, char** out_json, PersistingError* error);

/* Removes versions committed more than `older_than_seconds` ago - never the
 * newest, never a tagged one - and the files only they used. *out_json (caller
 * frees) counts what was removed. */
int persisting_cleanup_old_versions(uint64_t handle, double older_than_seconds, char** out_json,
                                    PersistingError* error);

/* The committed versions as a JSON array of {"version", "timestamp"}, oldest
 * first. *out_json is owned by the caller (persisting_string_free). */
int persisting_versions(uint64_t handle, char** out_json, PersistingError* error);

/* Like persisting_read, on committed version `version` of the dataset (time
 * travel); buffered rows belong to no version. A version that does not exist
 * (never committed, or cleaned up) is PERSISTING_EINVALID_ARGUMENT. */
int persisting_read_version(uint64_t handle, uint64_t version, int64_t offset, int64_t limit,
                            struct ArrowArrayStream* out, PersistingError* error);

/* ---- Scalar indices and lookups */

/* Builds a scalar index of `kind` ("BTREE" or "BITMAP") on top-level column
 * `column`, as a new dataset version that pylance lists and uses (replacing an
 * index of the same name). Buffered rows are flushed first so the index covers
 * them. *out_json (caller frees) describes the index: name, type, columns,
 * dataset_version, fragments. */
int persisting_create_index(uint64_t handle, const char* column, const char* kind, char** out_json,
                            PersistingError* error);

/* The dataset's indices as a JSON array (see persisting_create_index). */
int persisting_indices(uint64_t handle, char** out_json, PersistingError* error);

/* Rows whose `column` satisfies `cond_json`, in append order, as a stream the
 * caller releases. cond_json is one of
 *   {"op": "eq", "value": V}
 *   {"op": "range", "lo": V, "hi": V, "lo_inclusive": true, "hi_inclusive": false}
 *     (a missing or null bound is unbounded)
 *   {"op": "is_null"}
 * with V a JSON number, string or bool of the column's kind (another kind is
 * PERSISTING_EINVALID_ARGUMENT). Fragments an
 * index covers are answered from it; the rest are scanned. Buffered rows are
 * flushed first. */
int persisting_lookup(uint64_t handle, const char* column, const char* cond_json, struct ArrowArrayStream* out,
                      PersistingError* error);

/* This bucket's metric values as a JSON object by metric name ({} without
 * enable_metrics). Does not wait for a running flush. *out_json is owned by
 * the caller (persisting_string_free). */
int persisting_bucket_metrics(uint64_t handle, char** out_json, PersistingError* error);

/* Metrics of every bucket opened with enable_metrics, in the Prometheus text
 * exposition format. A bucket's series exist from its open (counters and
 * histograms at zero) until its close; persisting_errors_total from the first
 * failure. *out_text is owned by the caller: free it with
 * persisting_string_free(). */
int persisting_metrics_text(char** out_text, PersistingError* error);

/* ---- Training data: per-task consumption and cleared indexes (docs/training.md)
 *
 * A record's index is its offset in append order (as for persisting_read).
 * Task names are non-empty UTF-8 strings of at most 65535 bytes. Indexes are
 * any int64 offset the bucket handed out (past 2^32 too); a count of indexes
 * above 2^32 is PERSISTING_EINVALID_ARGUMENT. Every change is appended to the
 * bucket's consumption.log:
 * with the WAL it is fsynced before the call returns; without it, it is
 * written at once (a killed process keeps it) and fsynced at the next flush
 * and at close. `fields_json` (may be NULL) is a JSON array of top-level field
 * names the caller will read; an unknown name is PERSISTING_EINVALID_ARGUMENT. */

/* Hands out up to batch_size indexes `task` has not consumed and nobody
 * cleared, lowest first, and marks them consumed, as one step. *out_json
 * (caller frees) is a JSON array of the indexes. Cost O(batch_size), not
 * O(records consumed). */
int persisting_consumption_take(uint64_t handle, const char* task, const char* fields_json, int64_t batch_size,
                                char** out_json, PersistingError* error);

/* The indexes `task` may still be handed (not consumed, not cleared) as a JSON
 * array of half-open ranges [[lo, hi], ...], ascending; nothing is marked. */
int persisting_consumption_ready(uint64_t handle, const char* task, const char* fields_json, char** out_json,
                                 PersistingError* error);

/* Marks `count` indexes consumed by `task`. An index outside [0, records) is
 * PERSISTING_EINVALID_ARGUMENT and nothing is marked. */
int persisting_consumption_mark(uint64_t handle, const char* task, const int64_t* indexes, int64_t count,
                                PersistingError* error);

/* Forgets what `task` consumed; cleared indexes stay cleared. */
int persisting_consumption_reset(uint64_t handle, const char* task, PersistingError* error);

/* Clears `count` indexes: deletes their records through Lance deletion files
 * (buffered records are flushed first); no task is handed them again,
 * persisting_live_indexes drops them and reads return no record at their
 * offsets; no other record's index changes. An index outside [0, records) is
 * PERSISTING_EINVALID_ARGUMENT and nothing is cleared; a bucket with a
 * secondary index is PERSISTING_EUNSUPPORTED. */
int persisting_clear(uint64_t handle, const int64_t* indexes, int64_t count, PersistingError* error);

/* Of `count` indexes, in their order, those naming a stored, not cleared
 * record, as a JSON array in *out_json (caller frees); negative, past-the-end
 * and cleared indexes are dropped. */
int persisting_live_indexes(uint64_t handle, const int64_t* indexes, int64_t count, char** out_json,
                            PersistingError* error);

/* PERSISTING_EINVALID_ARGUMENT naming every name in `fields_json` (a JSON
 * array of strings) that is not a top-level field of the bucket. A bucket that
 * stored nothing yet has no schema: no name is refused, and take and ready
 * asking for fields give an empty array. */
int persisting_check_fields(uint64_t handle, const char* fields_json, PersistingError* error);

/* ---- Operator tools (by path, no handle; read-only, safe beside a writer) */

/* Describes the bucket stored at `path` (a bucket directory, or a Lance
 * dataset directory) as a JSON object: "path", "dataset" (null before the
 * first flush: version, timestamp, data_storage_version, rows, bytes,
 * disk_bytes, fragments [{id, rows, deleted_rows, bytes, files}], schema
 * [{name, type, nullable}], indices, versions [{version, timestamp}],
 * retained {count, oldest, newest, since, until}, tags, config,
 * wal_watermark) and "wal" (null without a WAL directory: path, segments
 * [{file, first_index, entries, bytes}], first_index, last_index, entries,
 * bytes, watermark, pending, damage). `options_json` may be NULL or
 * {"versions_limit": N} (list only the newest N versions; a wrong JSON type
 * is PERSISTING_ETYPE, a negative N or another key
 * PERSISTING_EINVALID_ARGUMENT). Nothing is changed on disk. A path that is not a directory is
 * PERSISTING_EINVALID_ARGUMENT. `path` may be an s3://bucket/prefix URL: its
 * objects are read with the AWS_* environment's settings (an s3:// bucket's
 * WAL is on its writer's disk: "wal" is null). *out_json is owned by the caller
 * (persisting_string_free). */
int persisting_inspect(const char* path, const char* options_json, char** out_json, PersistingError* error);

/* Checks the bucket (or Lance dataset) at `path` without changing it: reads
 * every page of every data file of every version kept, every deletion file,
 * and checks every WAL entry's CRC. *out_json: {"path", "ok", "dataset"
 * (counts of what was read), "wal", "problems": [{part, file, offset,
 * message}]} - offset -1 when the problem is not at a byte position. Damage
 * is reported in "problems" with status PERSISTING_OK; an error status means
 * the check could not run (no such directory). Lance data files carry no
 * checksums: a flipped bit inside a plain value cannot be detected, damage to
 * a file's structure can. `path` may be an s3:// URL, as for
 * persisting_inspect. *out_json is owned by the caller. */
int persisting_verify(const char* path, char** out_json, PersistingError* error);

#ifdef __cplusplus
}
#endif

#endif /* PERSISTING_H */
