/* Compile check of include/persisting.h as C (tests/header/check.sh builds it
 * as C99, C11 and C17 with -Wall -Wextra -Werror -pedantic-errors and more).
 *
 * Uses every declaration of the header: each function through a pointer of
 * exactly the documented type (a changed signature fails to compile), every
 * macro, every struct member. The layout of the Arrow structs is checked
 * against the Arrow C Data Interface, whose ABI is fixed. At run time (linked
 * with header_cpp.cpp, which has main) it calls the functions that need no
 * bucket and checks their error reporting. */
#include "persisting.h"
#include "persisting.h" /* the include guard makes a second include harmless */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* C99 has no _Static_assert: a negative array size fails to compile. */
#define HEADER_STATIC_ASSERT(cond, name) typedef char header_static_assert_##name[(cond) ? 1 : -1]

/* ---- Arrow C Data Interface layout (every member, in order), on 64-bit
 * targets (where Go builds c-shared libraries) */
#if UINTPTR_MAX > 0xFFFFFFFFu
HEADER_STATIC_ASSERT(offsetof(struct ArrowSchema, format) == 0, schema_format);
HEADER_STATIC_ASSERT(offsetof(struct ArrowSchema, name) == sizeof(void*), schema_name);
HEADER_STATIC_ASSERT(offsetof(struct ArrowSchema, metadata) == 2 * sizeof(void*), schema_metadata);
HEADER_STATIC_ASSERT(offsetof(struct ArrowSchema, flags) == 3 * sizeof(void*), schema_flags);
HEADER_STATIC_ASSERT(offsetof(struct ArrowSchema, n_children) == 3 * sizeof(void*) + 8, schema_n_children);
HEADER_STATIC_ASSERT(offsetof(struct ArrowSchema, children) == 3 * sizeof(void*) + 16, schema_children);
HEADER_STATIC_ASSERT(offsetof(struct ArrowSchema, dictionary) == 4 * sizeof(void*) + 16, schema_dictionary);
HEADER_STATIC_ASSERT(offsetof(struct ArrowSchema, release) == 5 * sizeof(void*) + 16, schema_release);
HEADER_STATIC_ASSERT(offsetof(struct ArrowSchema, private_data) == 6 * sizeof(void*) + 16, schema_private_data);
HEADER_STATIC_ASSERT(sizeof(struct ArrowSchema) == 7 * sizeof(void*) + 16, schema_size);

HEADER_STATIC_ASSERT(offsetof(struct ArrowArray, length) == 0, array_length);
HEADER_STATIC_ASSERT(offsetof(struct ArrowArray, null_count) == 8, array_null_count);
HEADER_STATIC_ASSERT(offsetof(struct ArrowArray, offset) == 16, array_offset);
HEADER_STATIC_ASSERT(offsetof(struct ArrowArray, n_buffers) == 24, array_n_buffers);
HEADER_STATIC_ASSERT(offsetof(struct ArrowArray, n_children) == 32, array_n_children);
HEADER_STATIC_ASSERT(offsetof(struct ArrowArray, buffers) == 40, array_buffers);
HEADER_STATIC_ASSERT(offsetof(struct ArrowArray, children) == 40 + sizeof(void*), array_children);
HEADER_STATIC_ASSERT(offsetof(struct ArrowArray, dictionary) == 40 + 2 * sizeof(void*), array_dictionary);
HEADER_STATIC_ASSERT(offsetof(struct ArrowArray, release) == 40 + 3 * sizeof(void*), array_release);
HEADER_STATIC_ASSERT(offsetof(struct ArrowArray, private_data) == 40 + 4 * sizeof(void*), array_private_data);
HEADER_STATIC_ASSERT(sizeof(struct ArrowArray) == 40 + 5 * sizeof(void*), array_size);

HEADER_STATIC_ASSERT(offsetof(struct ArrowArrayStream, get_schema) == 0, stream_get_schema);
HEADER_STATIC_ASSERT(offsetof(struct ArrowArrayStream, get_next) == sizeof(void*), stream_get_next);
HEADER_STATIC_ASSERT(offsetof(struct ArrowArrayStream, get_last_error) == 2 * sizeof(void*), stream_get_last_error);
HEADER_STATIC_ASSERT(offsetof(struct ArrowArrayStream, release) == 3 * sizeof(void*), stream_release);
HEADER_STATIC_ASSERT(offsetof(struct ArrowArrayStream, private_data) == 4 * sizeof(void*), stream_private_data);
HEADER_STATIC_ASSERT(sizeof(struct ArrowArrayStream) == 5 * sizeof(void*), stream_size);

HEADER_STATIC_ASSERT(offsetof(PersistingError, code) == 0, error_code);
HEADER_STATIC_ASSERT(offsetof(PersistingError, message) == sizeof(void*), error_message);
#endif

/* ---- macros: the documented values, which are ABI too */
HEADER_STATIC_ASSERT(ARROW_FLAG_DICTIONARY_ORDERED == 1, flag_dictionary_ordered);
HEADER_STATIC_ASSERT(ARROW_FLAG_NULLABLE == 2, flag_nullable);
HEADER_STATIC_ASSERT(ARROW_FLAG_MAP_KEYS_SORTED == 4, flag_map_keys_sorted);
HEADER_STATIC_ASSERT(PERSISTING_OK == 0, ok);
HEADER_STATIC_ASSERT(PERSISTING_EINVALID_ARGUMENT == 1, einvalid_argument);
HEADER_STATIC_ASSERT(PERSISTING_EINVALID_HANDLE == 2, einvalid_handle);
HEADER_STATIC_ASSERT(PERSISTING_ESCHEMA == 3, eschema);
HEADER_STATIC_ASSERT(PERSISTING_EIO == 4, eio);
HEADER_STATIC_ASSERT(PERSISTING_ECORRUPT == 5, ecorrupt);
HEADER_STATIC_ASSERT(PERSISTING_EWAL == 6, ewal);
HEADER_STATIC_ASSERT(PERSISTING_EINTERNAL == 7, einternal);
HEADER_STATIC_ASSERT(PERSISTING_EUNSUPPORTED == 8, eunsupported);
HEADER_STATIC_ASSERT(PERSISTING_ETYPE == 9, etype);
HEADER_STATIC_ASSERT(PERSISTING_ENOT_FLUSHED == 10, enot_flushed);
HEADER_STATIC_ASSERT(PERSISTING_EBUSY == 11, ebusy);

#if !defined(ARROW_C_DATA_INTERFACE) || !defined(ARROW_C_STREAM_INTERFACE) || !defined(PERSISTING_H)
#error "persisting.h must define its include guards"
#endif

/* ---- every function, through a pointer of exactly its declared type */
struct persisting_api {
  void (*error_release)(PersistingError*);
  void (*string_free)(char*);
  const char* (*version)(void);
  int (*open)(const char*, const char*, uint64_t*, PersistingError*);
  int (*close)(uint64_t, PersistingError*);
  int (*append)(uint64_t, struct ArrowSchema*, struct ArrowArray*, int64_t*, PersistingError*);
  int (*append_stream)(uint64_t, struct ArrowArrayStream*, int64_t*, PersistingError*);
  int (*append_records)(uint64_t, const uint8_t*, size_t, int64_t*, PersistingError*);
  int (*read)(uint64_t, int64_t, int64_t, struct ArrowArrayStream*, PersistingError*);
  int (*schema)(uint64_t, struct ArrowSchema*, PersistingError*);
  int (*flush)(uint64_t, PersistingError*);
  int (*count)(uint64_t, int64_t*, int64_t*, int64_t*, PersistingError*);
  int (*stats)(uint64_t, char**, PersistingError*);
  int (*compact)(uint64_t, int64_t, char**, PersistingError*);
  int (*cleanup_old_versions)(uint64_t, double, char**, PersistingError*);
  int (*versions)(uint64_t, char**, PersistingError*);
  int (*read_version)(uint64_t, uint64_t, int64_t, int64_t, struct ArrowArrayStream*, PersistingError*);
  int (*bucket_metrics)(uint64_t, char**, PersistingError*);
  int (*create_index)(uint64_t, const char*, const char*, char**, PersistingError*);
  int (*indices)(uint64_t, char**, PersistingError*);
  int (*lookup)(uint64_t, const char*, const char*, struct ArrowArrayStream*, PersistingError*);
  int (*metrics_text)(char**, PersistingError*);
  int (*consumption_take)(uint64_t, const char*, const char*, int64_t, char**, PersistingError*);
  int (*consumption_ready)(uint64_t, const char*, const char*, char**, PersistingError*);
  int (*consumption_mark)(uint64_t, const char*, const int64_t*, int64_t, PersistingError*);
  int (*consumption_reset)(uint64_t, const char*, PersistingError*);
  int (*clear)(uint64_t, const int64_t*, int64_t, PersistingError*);
  int (*live_indexes)(uint64_t, const int64_t*, int64_t, char**, PersistingError*);
  int (*check_fields)(uint64_t, const char*, PersistingError*);
  int (*inspect)(const char*, const char*, char**, PersistingError*);
  int (*verify)(const char*, char**, PersistingError*);
};

static const struct persisting_api kApi = {
    persisting_error_release,
    persisting_string_free,
    persisting_version,
    persisting_open,
    persisting_close,
    persisting_append,
    persisting_append_stream,
    persisting_append_records,
    persisting_read,
    persisting_schema,
    persisting_flush,
    persisting_count,
    persisting_stats,
    persisting_compact,
    persisting_cleanup_old_versions,
    persisting_versions,
    persisting_read_version,
    persisting_bucket_metrics,
    persisting_create_index,
    persisting_indices,
    persisting_lookup,
    persisting_metrics_text,
    persisting_consumption_take,
    persisting_consumption_ready,
    persisting_consumption_mark,
    persisting_consumption_reset,
    persisting_clear,
    persisting_live_indexes,
    persisting_check_fields,
    persisting_inspect,
    persisting_verify,
};

/* The callbacks of the structs, with the types the header gives them. */
static void schema_release(struct ArrowSchema* s) { s->release = NULL; }
static void array_release(struct ArrowArray* a) { a->release = NULL; }
static int stream_get_schema(struct ArrowArrayStream* s, struct ArrowSchema* out) {
  (void)s;
  memset(out, 0, sizeof *out);
  return 0;
}
static int stream_get_next(struct ArrowArrayStream* s, struct ArrowArray* out) {
  (void)s;
  memset(out, 0, sizeof *out);
  return 0;
}
static const char* stream_get_last_error(struct ArrowArrayStream* s) {
  (void)s;
  return NULL;
}
static void stream_release(struct ArrowArrayStream* s) { s->release = NULL; }

static int passes, failures;
static void check(int cond, const char* what) {
  if (cond) {
    passes++;
  } else {
    failures++;
    fprintf(stderr, "FAIL (C): %s\n", what);
  }
}

/* Expects `rc` to be `want`, reported in `err` with a message; releases it. */
static void expect_error(int rc, int want, PersistingError* err, const char* what) {
  check(rc == want && err->code == want, what);
  check(err->message != NULL && err->message[0] != '\0', what);
  kApi.error_release(err);
  check(err->code == 0 && err->message == NULL, "error_release zeroes the error");
}

/* Called from header_cpp.cpp's main; returns the number of failed checks and
 * adds the passed ones to *passed. */
int persisting_header_check_c(int* passed);
int persisting_header_check_c(int* passed) {
  PersistingError err = {0};
  uint64_t dead = 0; /* handles are non-zero: 0 is never valid */

  const char* version = kApi.version();
  check(version != NULL && version[0] != '\0', "version");

  struct ArrowSchema schema;
  memset(&schema, 0, sizeof schema);
  schema.format = "+s";
  schema.name = "";
  schema.metadata = NULL;
  schema.flags = ARROW_FLAG_NULLABLE | ARROW_FLAG_DICTIONARY_ORDERED | ARROW_FLAG_MAP_KEYS_SORTED;
  schema.n_children = 0;
  schema.children = NULL;
  schema.dictionary = NULL;
  schema.private_data = NULL;
  schema.release = schema_release;

  const void* buffers[1] = {NULL};
  struct ArrowArray array;
  memset(&array, 0, sizeof array);
  array.length = 0;
  array.null_count = 0;
  array.offset = 0;
  array.n_buffers = 1;
  array.n_children = 0;
  array.buffers = buffers;
  array.children = NULL;
  array.dictionary = NULL;
  array.private_data = NULL;
  array.release = array_release;

  /* a dead handle: the structs are taken (released) all the same */
  expect_error(kApi.append(dead, &schema, &array, NULL, &err), PERSISTING_EINVALID_HANDLE, &err, "append");
  check(schema.release == NULL && array.release == NULL, "append takes both structs");

  struct ArrowArrayStream stream;
  stream.get_schema = stream_get_schema;
  stream.get_next = stream_get_next;
  stream.get_last_error = stream_get_last_error;
  stream.release = stream_release;
  stream.private_data = NULL;
  expect_error(kApi.append_stream(dead, &stream, NULL, &err), PERSISTING_EINVALID_HANDLE, &err, "append_stream");
  check(stream.release == NULL, "append_stream takes the stream");
  static const uint8_t record[] = {'{', '0'}; /* marshal.dumps({}, 4) */
  expect_error(kApi.append_records(dead, record, sizeof record, NULL, &err), PERSISTING_EINVALID_HANDLE, &err,
               "append_records");

  expect_error(kApi.read(dead, 0, -1, &stream, &err), PERSISTING_EINVALID_HANDLE, &err, "read");
  expect_error(kApi.schema(dead, &schema, &err), PERSISTING_EINVALID_HANDLE, &err, "schema");
  expect_error(kApi.flush(dead, &err), PERSISTING_EINVALID_HANDLE, &err, "flush");
  int64_t total = 0, persisted = 0, buffered = 0;
  expect_error(kApi.count(dead, &total, &persisted, &buffered, &err), PERSISTING_EINVALID_HANDLE, &err, "count");
  char* json = NULL;
  expect_error(kApi.stats(dead, &json, &err), PERSISTING_EINVALID_HANDLE, &err, "stats");
  expect_error(kApi.compact(dead, 0, &json, &err), PERSISTING_EINVALID_HANDLE, &err, "compact");
  expect_error(kApi.cleanup_old_versions(dead, 3600.0, &json, &err), PERSISTING_EINVALID_HANDLE, &err,
               "cleanup_old_versions");
  expect_error(kApi.versions(dead, &json, &err), PERSISTING_EINVALID_HANDLE, &err, "versions");
  expect_error(kApi.read_version(dead, 1, 0, -1, &stream, &err), PERSISTING_EINVALID_HANDLE, &err, "read_version");
  expect_error(kApi.bucket_metrics(dead, &json, &err), PERSISTING_EINVALID_HANDLE, &err, "bucket_metrics");
  const int64_t one_index[] = {0};
  expect_error(kApi.consumption_take(dead, "t", NULL, 1, &json, &err), PERSISTING_EINVALID_HANDLE, &err,
               "consumption_take");
  expect_error(kApi.consumption_ready(dead, "t", NULL, &json, &err), PERSISTING_EINVALID_HANDLE, &err,
               "consumption_ready");
  expect_error(kApi.consumption_mark(dead, "t", one_index, 1, &err), PERSISTING_EINVALID_HANDLE, &err,
               "consumption_mark");
  expect_error(kApi.consumption_reset(dead, "t", &err), PERSISTING_EINVALID_HANDLE, &err, "consumption_reset");
  expect_error(kApi.clear(dead, one_index, 1, &err), PERSISTING_EINVALID_HANDLE, &err, "clear");
  expect_error(kApi.live_indexes(dead, one_index, 1, &json, &err), PERSISTING_EINVALID_HANDLE, &err,
               "live_indexes");
  expect_error(kApi.check_fields(dead, "[]", &err), PERSISTING_EINVALID_HANDLE, &err, "check_fields");
  expect_error(kApi.close(dead, &err), PERSISTING_EINVALID_HANDLE, &err, "close");
  uint64_t handle = 0;
  expect_error(kApi.open(NULL, NULL, &handle, &err), PERSISTING_EINVALID_ARGUMENT, &err, "open");

  char* text = NULL;
  check(kApi.metrics_text(&text, &err) == PERSISTING_OK && text != NULL, "metrics_text");
  kApi.string_free(text);
  kApi.string_free(NULL);
  kApi.error_release(NULL);
  kApi.error_release(&err); /* an already released error is fine */

  /* codes that no call above can produce: only referenced */
  static const int kOtherCodes[] = {PERSISTING_ESCHEMA, PERSISTING_EIO,       PERSISTING_ECORRUPT,
                                    PERSISTING_EWAL,    PERSISTING_EINTERNAL, PERSISTING_EUNSUPPORTED};
  check(sizeof kOtherCodes / sizeof kOtherCodes[0] == 6, "codes");

  *passed += passes;
  return failures;
}
