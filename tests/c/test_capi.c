/* Drives libpersisting.so through include/persisting.h alone: builds an Arrow
 * record batch by hand, appends, flushes, reads it back through the stream and
 * checks every value; then checks that bad calls fail with a message. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "persisting.h"
#include "records_marshal.h"

static int failures = 0, passes = 0;
#define CHECK(cond, ...)                                           \
  do {                                                             \
    if (cond) {                                                    \
      passes++;                                                    \
    } else {                                                       \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);         \
      fprintf(stderr, __VA_ARGS__);                                \
      fprintf(stderr, "\n");                                       \
      failures++;                                                  \
    }                                                              \
  } while (0)

/* ---- a record batch {id: int64, score: float64, ok: bool, name: utf8}, built by hand */

enum { NCOLS = 4 };
static const char* kNames[NCOLS] = {"id", "score", "ok", "name"};
static const char* kFormats[NCOLS] = {"l", "g", "b", "u"};

static void release_schema(struct ArrowSchema* s) {
  for (int64_t i = 0; i < s->n_children; i++) {
    struct ArrowSchema* c = s->children[i];
    if (c->release) c->release(c);
    free(c);
  }
  free(s->children);
  s->release = NULL;
}

static void release_child_schema(struct ArrowSchema* s) { s->release = NULL; }

static void make_schema(struct ArrowSchema* out, const char* first_format) {
  memset(out, 0, sizeof *out);
  out->format = "+s";
  out->name = "";
  out->n_children = NCOLS;
  out->children = calloc(NCOLS, sizeof(struct ArrowSchema*));
  for (int i = 0; i < NCOLS; i++) {
    struct ArrowSchema* c = calloc(1, sizeof *c);
    c->format = (i == 0 && first_format) ? first_format : kFormats[i];
    c->name = kNames[i];
    c->flags = ARROW_FLAG_NULLABLE;
    c->release = release_child_schema;
    out->children[i] = c;
  }
  out->release = release_schema;
}

static int released_arrays = 0;

/* Each array's buffers are malloc'd; private_data is unused: release frees buffers[*]. */
static void release_array(struct ArrowArray* a) {
  for (int64_t i = 0; i < a->n_children; i++) {
    struct ArrowArray* c = a->children[i];
    if (c->release) c->release(c);
    free(c);
  }
  for (int64_t i = 0; i < a->n_buffers; i++) free((void*)a->buffers[i]);
  free(a->buffers);
  free(a->children);
  a->release = NULL;
  released_arrays++;
}

static struct ArrowArray* new_child(int64_t n, int64_t n_buffers) {
  struct ArrowArray* c = calloc(1, sizeof *c);
  c->length = n;
  c->n_buffers = n_buffers;
  c->buffers = calloc((size_t)n_buffers, sizeof(void*));
  c->release = release_array;
  return c;
}

static void set_bit(uint8_t* bits, int64_t i) { bits[i / 8] |= (uint8_t)(1u << (i % 8)); }

/* Row i of the test data: id = first+i, score = id/4, ok = id%3==0, name null when id%5==0. */
static void make_array(struct ArrowArray* out, int64_t first, int64_t n) {
  memset(out, 0, sizeof *out);
  out->length = n;
  out->n_buffers = 1;
  out->buffers = calloc(1, sizeof(void*)); /* no struct-level validity */
  out->n_children = NCOLS;
  out->children = calloc(NCOLS, sizeof(struct ArrowArray*));
  out->release = release_array;

  size_t bitmap = (size_t)(n + 7) / 8 + 1;
  struct ArrowArray* id = new_child(n, 2);
  int64_t* ids = malloc(sizeof(int64_t) * (size_t)n + 1);
  for (int64_t i = 0; i < n; i++) ids[i] = first + i;
  id->buffers[1] = ids;

  struct ArrowArray* score = new_child(n, 2);
  double* scores = malloc(sizeof(double) * (size_t)n + 1);
  for (int64_t i = 0; i < n; i++) scores[i] = (double)(first + i) / 4;
  score->buffers[1] = scores;

  struct ArrowArray* ok = new_child(n, 2);
  uint8_t* oks = calloc(bitmap, 1);
  for (int64_t i = 0; i < n; i++)
    if ((first + i) % 3 == 0) set_bit(oks, i);
  ok->buffers[1] = oks;

  struct ArrowArray* name = new_child(n, 3);
  uint8_t* valid = calloc(bitmap, 1);
  int32_t* offsets = malloc(sizeof(int32_t) * (size_t)(n + 1));
  char* chars = malloc((size_t)n * 32 + 1);
  int32_t pos = 0;
  offsets[0] = 0;
  for (int64_t i = 0; i < n; i++) {
    if ((first + i) % 5 == 0) {
      name->null_count++;
    } else {
      set_bit(valid, i);
      pos += sprintf(chars + pos, "név-%lld", (long long)(first + i));
    }
    offsets[i + 1] = pos;
  }
  name->buffers[0] = valid;
  name->buffers[1] = offsets;
  name->buffers[2] = chars;

  out->children[0] = id;
  out->children[1] = score;
  out->children[2] = ok;
  out->children[3] = name;
}

/* ---- a stream of record batches: rows [first, first + batches*rows) */

struct test_stream {
  int64_t first, rows;
  int batches, next;
  const char* id_format;
};

static int stream_get_schema(struct ArrowArrayStream* s, struct ArrowSchema* out) {
  struct test_stream* ts = s->private_data;
  make_schema(out, ts->id_format);
  return 0;
}

static int stream_get_next(struct ArrowArrayStream* s, struct ArrowArray* out) {
  struct test_stream* ts = s->private_data;
  if (ts->next == ts->batches) {
    memset(out, 0, sizeof *out); /* end of stream */
    return 0;
  }
  make_array(out, ts->first + ts->next * ts->rows, ts->rows);
  ts->next++;
  return 0;
}

static const char* stream_get_last_error(struct ArrowArrayStream* s) {
  (void)s;
  return NULL;
}

static int released_streams = 0;

static void stream_release(struct ArrowArrayStream* s) {
  free(s->private_data);
  s->release = NULL;
  released_streams++;
}

static void make_stream(struct ArrowArrayStream* out, int64_t first, int64_t rows, int batches, const char* id_format) {
  struct test_stream* ts = calloc(1, sizeof *ts);
  ts->first = first;
  ts->rows = rows;
  ts->batches = batches;
  ts->id_format = id_format;
  out->get_schema = stream_get_schema;
  out->get_next = stream_get_next;
  out->get_last_error = stream_get_last_error;
  out->release = stream_release;
  out->private_data = ts;
}

/* ---- helpers */

static uint64_t open_bucket(const char* path) {
  PersistingError err = {0};
  uint64_t h = 0;
  int rc = persisting_open(path, "{\"bucket_id\": 7, \"flush_threshold\": 1000, \"enable_metrics\": true}", &h, &err);
  CHECK(rc == PERSISTING_OK, "open %s: %d %s", path, rc, err.message ? err.message : "");
  persisting_error_release(&err);
  return h;
}

static int append_rows(uint64_t h, int64_t first, int64_t n, PersistingError* err) {
  struct ArrowSchema schema;
  struct ArrowArray array;
  make_schema(&schema, NULL);
  make_array(&array, first, n);
  int rc = persisting_append(h, &schema, &array, NULL, err);
  CHECK(schema.release == NULL && array.release == NULL, "append did not take both structs");
  return rc;
}

static int get_bit(const uint8_t* bits, int64_t i) { return bits == NULL || ((bits[i / 8] >> (i % 8)) & 1); }

/* Reads [offset, offset+limit) and checks every value; returns rows read. */
static int64_t read_and_check(uint64_t h, int64_t offset, int64_t limit, int64_t want_first) {
  PersistingError err = {0};
  struct ArrowArrayStream stream;
  memset(&stream, 0, sizeof stream);
  int rc = persisting_read(h, offset, limit, &stream, &err);
  CHECK(rc == PERSISTING_OK, "read: %d %s", rc, err.message ? err.message : "");
  persisting_error_release(&err);
  if (rc != PERSISTING_OK) return -1;

  struct ArrowSchema schema;
  CHECK(stream.get_schema(&stream, &schema) == 0, "get_schema");
  CHECK(schema.n_children == NCOLS, "schema has %lld fields", (long long)schema.n_children);
  for (int i = 0; i < NCOLS && i < schema.n_children; i++) {
    CHECK(strcmp(schema.children[i]->name, kNames[i]) == 0, "field %d is %s", i, schema.children[i]->name);
    CHECK(strcmp(schema.children[i]->format, kFormats[i]) == 0, "field %s has format %s", kNames[i],
          schema.children[i]->format);
  }
  schema.release(&schema);

  int64_t rows = 0;
  for (;;) {
    struct ArrowArray a;
    CHECK(stream.get_next(&stream, &a) == 0, "get_next: %s", stream.get_last_error(&stream));
    if (a.release == NULL) break; /* end of stream */
    struct ArrowArray** c = a.children;
    for (int64_t i = 0; i < a.length; i++) {
      int64_t want = want_first + rows + i;
      int64_t ci = c[0]->offset + a.offset + i, cs = c[1]->offset + a.offset + i;
      int64_t co = c[2]->offset + a.offset + i, cn = c[3]->offset + a.offset + i;
      CHECK(get_bit(c[0]->buffers[0], ci) && ((const int64_t*)c[0]->buffers[1])[ci] == want, "id at row %lld",
            (long long)want);
      CHECK(((const double*)c[1]->buffers[1])[cs] == (double)want / 4, "score at row %lld", (long long)want);
      CHECK(get_bit(c[2]->buffers[1], co) == (want % 3 == 0), "ok at row %lld", (long long)want);
      int valid = get_bit(c[3]->buffers[0], cn);
      CHECK(valid == (want % 5 != 0), "name validity at row %lld", (long long)want);
      if (valid) {
        char expect[64];
        int len = sprintf(expect, "név-%lld", (long long)want);
        const int32_t* off = c[3]->buffers[1];
        const char* chars = c[3]->buffers[2];
        CHECK(off[cn + 1] - off[cn] == len && memcmp(chars + off[cn], expect, (size_t)len) == 0,
              "name at row %lld", (long long)want);
      }
    }
    rows += a.length;
    a.release(&a);
  }
  stream.release(&stream);
  return rows;
}

/* Drains a stream whose id column must read want_first, want_first+1, ...;
 * releases it and returns the rows, or -1 when rc says the call failed. */
static int64_t check_ids(int rc, PersistingError* err, struct ArrowArrayStream* stream, int64_t want_first,
                         const char* what) {
  CHECK(rc == PERSISTING_OK, "%s: %d %s", what, rc, err->message ? err->message : "");
  persisting_error_release(err);
  if (rc != PERSISTING_OK) return -1;
  int64_t rows = 0;
  for (;;) {
    struct ArrowArray a;
    CHECK(stream->get_next(stream, &a) == 0, "%s: get_next", what);
    if (a.release == NULL) break;
    const int64_t* ids = a.children[0]->buffers[1];
    for (int64_t i = 0; i < a.length; i++)
      CHECK(ids[a.children[0]->offset + a.offset + i] == want_first + rows + i, "%s: row %lld", what,
            (long long)(rows + i));
    rows += a.length;
    a.release(&a);
  }
  stream->release(stream);
  return rows;
}

/* Reads all of committed version `version`; returns rows. */
static int64_t read_and_check_version(uint64_t h, uint64_t version, int64_t want_first) {
  PersistingError err = {0};
  struct ArrowArrayStream stream;
  return check_ids(persisting_read_version(h, version, 0, -1, &stream, &err), &err, &stream, want_first,
                   "read_version");
}

/* Looks up ids by cond_json; returns rows. */
static int64_t lookup_ids(uint64_t h, const char* cond_json, int64_t want_first) {
  PersistingError err = {0};
  struct ArrowArrayStream stream;
  return check_ids(persisting_lookup(h, "id", cond_json, &stream, &err), &err, &stream, want_first, cond_json);
}

static void expect_error(int rc, int want, PersistingError* err, const char* what) {
  CHECK(rc == want, "%s: status %d, want %d", what, rc, want);
  CHECK(err->code == want, "%s: error code %d, want %d", what, err->code, want);
  CHECK(err->message != NULL && strlen(err->message) > 0, "%s: no message", what);
  if (err->message) printf("  %s -> %s\n", what, err->message);
  persisting_error_release(err);
  CHECK(err->message == NULL, "%s: error_release left the message", what);
}

static int64_t count_rows(uint64_t h) {
  PersistingError err = {0};
  int64_t total = -1;
  CHECK(persisting_count(h, &total, NULL, NULL, &err) == PERSISTING_OK, "count: %s", err.message);
  return total;
}

/* persisting_append_records: records from marshal.dumps (records_marshal.h)
 * read back like Arrow rows, in order; every bad call refused with its own
 * code and nothing kept; at the buffer bound the call still succeeds (a flush
 * runs in the background, never an error). */
static void test_append_records(const char* dir) {
  char path[300];
  uint64_t h = 0;
  PersistingError err = {0};

  /* the first record of a new bucket gives it its schema (inference) */
  snprintf(path, sizeof path, "%s/bucket_records_first", dir);
  CHECK(persisting_open(path, NULL, &h, &err) == PERSISTING_OK, "open %s: %s", path, err.message);
  CHECK(persisting_append_records(h, kRecordOne, sizeof kRecordOne, NULL, &err) == PERSISTING_OK,
        "a record into a bucket without a schema: %s", err.message);
  struct ArrowSchema inferred;
  CHECK(persisting_schema(h, &inferred, &err) == PERSISTING_OK, "schema after the first record: %s", err.message);
  CHECK(inferred.n_children == 4, "inferred %lld fields, want 4", (long long)inferred.n_children);
  inferred.release(&inferred);
  CHECK(count_rows(h) == 1, "rows after the first record");
  CHECK(persisting_close(h, &err) == PERSISTING_OK, "close: %s", err.message);

  snprintf(path, sizeof path, "%s/bucket_records", dir);
  int rc = persisting_open(path, "{\"enable_wal\": true, \"wal_sync_interval\": 1.0, \"flush_threshold\": 25}",
                           &h, &err);
  CHECK(rc == PERSISTING_OK, "open %s: %s", path, err.message);
  CHECK(append_rows(h, 0, 10, &err) == PERSISTING_OK, "append rows 0..9: %s", err.message);
  CHECK(persisting_append_records(h, kRecordOne, sizeof kRecordOne, NULL, &err) == PERSISTING_OK, "one record: %s",
        err.message);
  CHECK(persisting_append_records(h, kRecordBatch, sizeof kRecordBatch, NULL, &err) == PERSISTING_OK, "a list: %s",
        err.message);
  CHECK(read_and_check(h, 0, -1, 0) == 20, "read Arrow rows and records");
  CHECK(read_and_check(h, 8, 5, 8) == 5, "read across Arrow rows and records");

  struct {
    const uint8_t* data;
    size_t length;
    int want;
    const char* what;
  } bad[] = {
      {NULL, 10, PERSISTING_EINVALID_ARGUMENT, "NULL data"},
      {kRecordGarbage, sizeof kRecordGarbage, PERSISTING_EINVALID_ARGUMENT, "garbage bytes"},
      {kRecordTruncated, sizeof kRecordTruncated, PERSISTING_EINVALID_ARGUMENT, "truncated marshal data"},
      {kRecordOne, 0, PERSISTING_EINVALID_ARGUMENT, "zero length"},
      {kRecordWrongType, sizeof kRecordWrongType, PERSISTING_ESCHEMA, "a str for an int64 field"},
      {kRecordBoolAsInt, sizeof kRecordBoolAsInt, PERSISTING_ESCHEMA, "a bool for an int64 field"},
      {kRecordUnknownKey, sizeof kRecordUnknownKey, PERSISTING_ESCHEMA, "a key not in the schema"},
      {kRecordSet, sizeof kRecordSet, PERSISTING_ETYPE, "a set"},
      {kRecordNotADict, sizeof kRecordNotADict, PERSISTING_ETYPE, "a list of ints"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    expect_error(persisting_append_records(h, bad[i].data, bad[i].length, NULL, &err), bad[i].want, &err, bad[i].what);
    CHECK(count_rows(h) == 20, "%s: rows were kept", bad[i].what);
  }
  CHECK(read_and_check(h, 0, -1, 0) == 20, "rows after the bad calls");

  /* 30 rows pass flush_threshold 25: a flush starts in the background, and
   * the next call is taken like any other (no error at the bound) */
  CHECK(persisting_append_records(h, kRecordsMore, sizeof kRecordsMore, NULL, &err) == PERSISTING_OK, "rows 20..29: %s",
        err.message);
  CHECK(persisting_append_records(h, kRecordNext, sizeof kRecordNext, NULL, &err) == PERSISTING_OK,
        "a record past the flush threshold: %s", err.message);
  CHECK(persisting_flush(h, &err) == PERSISTING_OK, "flush: %s", err.message);
  int64_t persisted = -1;
  CHECK(persisting_count(h, NULL, &persisted, NULL, &err) == PERSISTING_OK && persisted == 31,
        "persisted %lld after the flush, want 31", (long long)persisted);
  CHECK(read_and_check(h, 0, -1, 0) == 31, "read after the flush");

  CHECK(persisting_close(h, &err) == PERSISTING_OK, "close: %s", err.message);
  expect_error(persisting_append_records(h, kRecordNext, sizeof kRecordNext, NULL, &err), PERSISTING_EINVALID_HANDLE,
               &err, "records after close");
  h = open_bucket(path);
  CHECK(read_and_check(h, 0, -1, 0) == 31, "read after reopen");
  CHECK(persisting_close(h, &err) == PERSISTING_OK, "close after reopen");
}

/* persisting_open's options: a wrong JSON type is PERSISTING_ETYPE, a bad
 * value PERSISTING_EINVALID_ARGUMENT; with "ignore_unknown": true unknown
 * keys are listed in stats as "ignored_options". */
/* Index arrays longer than any bucket's indexes (a count that is garbage,
 * say): PERSISTING_EINVALID_ARGUMENT, nothing read past the array, no
 * internal error. */
static void test_index_counts(const char* dir) {
  char path[300];
  snprintf(path, sizeof path, "%s/bucket_index_counts", dir);
  uint64_t h = open_bucket(path);
  PersistingError err = {0};
  CHECK(append_rows(h, 0, 5, &err) == PERSISTING_OK, "append: %s", err.message);
  int64_t indexes[2] = {0, 1};
  char* json = NULL;
  int64_t counts[] = {INT64_MAX, (int64_t)1 << 40};
  for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
    expect_error(persisting_consumption_mark(h, "t", indexes, counts[i], &err), PERSISTING_EINVALID_ARGUMENT, &err,
                 "consumption_mark of a huge count");
    expect_error(persisting_clear(h, indexes, counts[i], &err), PERSISTING_EINVALID_ARGUMENT, &err,
                 "clear of a huge count");
    expect_error(persisting_live_indexes(h, indexes, counts[i], &json, &err), PERSISTING_EINVALID_ARGUMENT, &err,
                 "live_indexes of a huge count");
  }
  CHECK(persisting_live_indexes(h, indexes, 2, &json, &err) == PERSISTING_OK && json && strcmp(json, "[0,1]") == 0,
        "live_indexes after the refused calls: %s", json ? json : err.message);
  persisting_string_free(json);
  CHECK(persisting_close(h, &err) == PERSISTING_OK, "close: %s", err.message);
}

static void test_open_options(const char* dir) {
  char path[300];
  snprintf(path, sizeof path, "%s/bucket_options", dir);
  uint64_t h = 0;
  PersistingError err = {0};
  expect_error(persisting_open(path, "{\"flush_threshold\": \"10\"}", &h, &err), PERSISTING_ETYPE, &err,
               "flush_threshold as a string");
  expect_error(persisting_open(path, "{\"enable_wal\": 1}", &h, &err), PERSISTING_ETYPE, &err, "enable_wal as an int");
  expect_error(persisting_open(path, "{\"flush_threshold\": 0}", &h, &err), PERSISTING_EINVALID_ARGUMENT, &err,
               "flush_threshold 0");
  expect_error(persisting_open(path, "{\"serializer\": \"json\"}", &h, &err), PERSISTING_EINVALID_ARGUMENT, &err,
               "an unknown option");
  CHECK(persisting_open(path, "{\"serializer\": \"json\", \"ignore_unknown\": true}", &h, &err) == PERSISTING_OK,
        "open ignoring unknown options: %s", err.message);
  char* stats = NULL;
  CHECK(persisting_stats(h, &stats, &err) == PERSISTING_OK, "stats: %s", err.message);
  CHECK(stats && strstr(stats, "\"ignored_options\":[\"serializer\"]"), "stats: %s", stats);
  CHECK(stats && !strstr(stats, "\"boundary\""), "the shipped library reports no boundary ledger: %s", stats);
  persisting_string_free(stats);
  CHECK(persisting_close(h, &err) == PERSISTING_OK, "close: %s", err.message);
}

/* ---- Arrow C Data from other producers: what the Arrow spec allows or a
 * careless producer sends (probed in session 9) */

/* a batch {s: struct<x: int64>} of n rows x = first..first+n-1, built by hand;
 * `top_nulls` makes the batch's own struct array mark row 1 null */
static void make_struct_batch(struct ArrowSchema* schema, struct ArrowArray* array, int64_t first, int64_t n,
                              int top_nulls) {
  memset(schema, 0, sizeof *schema);
  schema->format = "+s";
  schema->name = "";
  schema->n_children = 1;
  schema->children = calloc(1, sizeof(struct ArrowSchema*));
  struct ArrowSchema* s = calloc(1, sizeof *s);
  s->format = "+s";
  s->name = "s";
  s->flags = ARROW_FLAG_NULLABLE;
  s->n_children = 1;
  s->children = calloc(1, sizeof(struct ArrowSchema*));
  s->release = release_schema;
  struct ArrowSchema* x = calloc(1, sizeof *x);
  x->format = "l";
  x->name = "x";
  x->flags = ARROW_FLAG_NULLABLE;
  x->release = release_child_schema;
  s->children[0] = x;
  schema->children[0] = s;
  schema->release = release_schema;

  memset(array, 0, sizeof *array);
  array->length = n;
  array->n_buffers = 1;
  array->buffers = calloc(1, sizeof(void*));
  if (top_nulls) {
    uint8_t* valid = calloc((size_t)(n + 7) / 8 + 1, 1);
    for (int64_t i = 0; i < n; i++)
      if (i != 1) set_bit(valid, i);
    array->buffers[0] = valid;
    array->null_count = 1;
  }
  array->n_children = 1;
  array->children = calloc(1, sizeof(struct ArrowArray*));
  array->release = release_array;
  struct ArrowArray* sa = new_child(n, 1);
  sa->n_children = 1;
  sa->children = calloc(1, sizeof(struct ArrowArray*));
  struct ArrowArray* xa = new_child(n, 2);
  int64_t* xs = malloc(sizeof(int64_t) * (size_t)n + 1);
  for (int64_t i = 0; i < n; i++) xs[i] = first + i;
  xa->buffers[1] = xs;
  sa->children[0] = xa;
  array->children[0] = sa;
}

/* a stream whose second get_next fails with a message */
static int failing_get_next(struct ArrowArrayStream* s, struct ArrowArray* out) {
  struct test_stream* ts = s->private_data;
  if (ts->next == 1) return 5; /* EIO */
  make_array(out, ts->first, ts->rows);
  ts->next++;
  return 0;
}
/* a stream whose second batch has string offsets that decrease */
static int malformed_get_next(struct ArrowArrayStream* s, struct ArrowArray* out) {
  struct test_stream* ts = s->private_data;
  if (ts->next == ts->batches) {
    memset(out, 0, sizeof *out);
    return 0;
  }
  make_array(out, ts->first + ts->next * ts->rows, ts->rows);
  if (ts->next == 1) ((int32_t*)out->children[3]->buffers[1])[1] = 1000;
  ts->next++;
  return 0;
}
static const char* failing_last_error(struct ArrowArrayStream* s) {
  (void)s;
  return "the producer's disk went away";
}

/* Malformed arrays a careless producer sends, each refused before a byte is
 * kept (the importer would crash on them, or a flush would fail on them for
 * ever); null_count -1 beside a NULL validity buffer means "no nulls". */
static void break_offsets(struct ArrowArray* a) { ((int32_t*)a->children[3]->buffers[1])[1] = 1000; }
static void break_null_validity(struct ArrowArray* a) {
  free((void*)a->children[3]->buffers[0]);
  a->children[3]->buffers[0] = NULL; /* null_count stays 1 */
}
static void break_short_child(struct ArrowArray* a) { a->children[0]->length = 2; }
static void break_negative_offset(struct ArrowArray* a) { a->children[1]->offset = -1; }
static void break_null_values(struct ArrowArray* a) {
  free((void*)a->children[1]->buffers[1]);
  a->children[1]->buffers[1] = NULL;
}
static void break_child_count(struct ArrowArray* a) { a->n_children = NCOLS - 1; }
static void break_buffer_count(struct ArrowArray* a) {
  free((void*)a->children[2]->buffers[1]); /* release frees n_buffers buffers: the hidden one would leak */
  a->children[2]->buffers[1] = NULL;
  a->children[2]->n_buffers = 1;
}
static void break_utf8(struct ArrowArray* a) {
  struct ArrowArray* name = a->children[3];
  ((uint8_t*)name->buffers[2])[((const int32_t*)name->buffers[1])[1]] = 0xff; /* row 1 is not null */
}

static void test_malformed_arrays(uint64_t h) {
  struct {
    void (*mutate)(struct ArrowArray*);
    const char* what;
    const char* says;
  } bad[] = {
      {break_offsets, "string offsets that decrease", "offsets decrease"},
      {break_null_validity, "nulls without a validity buffer", "validity buffer is NULL"},
      {break_short_child, "a column shorter than the batch", "parent reads"},
      {break_negative_offset, "a negative offset", "negative"},
      {break_null_values, "a NULL values buffer", "values buffer"},
      {break_child_count, "fewer children than fields", "children"},
      {break_buffer_count, "a bool column with one buffer", "buffers"},
      {break_utf8, "a string that is not UTF-8 (pylance could not read the file)", "UTF-8"},
  };
  PersistingError err = {0};
  int64_t before = count_rows(h);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct ArrowSchema schema;
    struct ArrowArray array;
    make_schema(&schema, NULL);
    make_array(&array, before, 5);
    int64_t kept_children = array.n_children;
    struct ArrowArray* children[NCOLS]; /* release frees array.children: keep the pointers */
    memcpy(children, array.children, sizeof children);
    bad[i].mutate(&array);
    int released = released_arrays;
    int rc = persisting_append(h, &schema, &array, NULL, &err);
    CHECK(err.message && strstr(err.message, bad[i].says), "%s: message %s", bad[i].what, err.message);
    expect_error(rc, PERSISTING_EINVALID_ARGUMENT, &err, bad[i].what);
    CHECK(schema.release == NULL && array.release == NULL, "%s: not taken", bad[i].what);
    CHECK(released_arrays == released + 1 + (int)array.n_children, "%s: %d arrays released, want %d", bad[i].what,
          released_arrays - released, 1 + (int)array.n_children);
    for (int64_t c = array.n_children; c < kept_children; c++) { /* the child a mutation hid from release */
      children[c]->release(children[c]);
      free(children[c]);
    }
    CHECK(count_rows(h) == before, "%s: rows were kept", bad[i].what);
  }
  CHECK(persisting_flush(h, &err) == PERSISTING_OK, "flush after malformed arrays: %s", err.message);

  /* zero rows whose buffers are NULL (allowed for empty buffers): nothing appended */
  {
    struct ArrowSchema zs;
    struct ArrowArray za;
    make_schema(&zs, NULL);
    make_array(&za, before, 0);
    for (int c = 0; c < NCOLS; c++)
      for (int64_t b = 0; b < za.children[c]->n_buffers; b++) {
        free((void*)za.children[c]->buffers[b]);
        za.children[c]->buffers[b] = NULL;
      }
    CHECK(persisting_append(h, &zs, &za, NULL, &err) == PERSISTING_OK, "zero rows, NULL buffers: %s", err.message);
    CHECK(za.release == NULL && count_rows(h) == before, "zero rows were not taken, or added rows");
  }

  /* null_count -1 ("not computed") with no validity buffer: no nulls */
  struct ArrowSchema schema;
  struct ArrowArray array;
  make_schema(&schema, NULL);
  make_array(&array, before, 5);
  array.children[0]->null_count = -1;
  array.null_count = -1;
  CHECK(persisting_append(h, &schema, &array, NULL, &err) == PERSISTING_OK, "null_count -1: %s", err.message);
  CHECK(read_and_check(h, 0, -1, 0) == before + 5, "rows after null_count -1");

  /* null_count 0 beside a bitmap that marks nulls: the bitmap decides, and
   * the nulls survive a flush */
  make_schema(&schema, NULL);
  make_array(&array, before + 5, 5);
  CHECK(array.children[3]->null_count == 1, "the batch has one null name");
  array.children[3]->null_count = 0;
  CHECK(persisting_append(h, &schema, &array, NULL, &err) == PERSISTING_OK, "a wrong null_count: %s", err.message);
  make_schema(&schema, NULL);
  make_array(&array, before + 10, 5);
  array.children[3]->null_count = -1; /* "not computed", beside a bitmap with one null */
  CHECK(persisting_append(h, &schema, &array, NULL, &err) == PERSISTING_OK, "null_count -1 and a bitmap: %s", err.message);
  CHECK(persisting_flush(h, &err) == PERSISTING_OK, "flush: %s", err.message);
  CHECK(read_and_check(h, 0, -1, 0) == before + 15, "rows after a wrong null_count");
}

/* {v: string_view} as polars sends strings: rows "short" (inline), a long
 * string in the data buffer, null; `bad_buffer` points row 1 at a data
 * buffer that does not exist */
static const char* kLong = "a string longer than twelve bytes";
static void make_view_batch(struct ArrowSchema* schema, struct ArrowArray* array, int bad_buffer) {
  memset(schema, 0, sizeof *schema);
  schema->format = "+s";
  schema->name = "";
  schema->n_children = 1;
  schema->children = calloc(1, sizeof(struct ArrowSchema*));
  struct ArrowSchema* v = calloc(1, sizeof *v);
  v->format = "vu";
  v->name = "v";
  v->flags = ARROW_FLAG_NULLABLE;
  v->release = release_child_schema;
  schema->children[0] = v;
  schema->release = release_schema;

  memset(array, 0, sizeof *array);
  array->length = 3;
  array->n_buffers = 1;
  array->buffers = calloc(1, sizeof(void*));
  array->n_children = 1;
  array->children = calloc(1, sizeof(struct ArrowArray*));
  array->release = release_array;
  struct ArrowArray* va = new_child(3, 4); /* validity, views, one data buffer, its size */
  uint8_t* valid = calloc(1, 1);
  valid[0] = 0x3; /* row 2 null */
  va->null_count = 1;
  uint8_t* views = calloc(3, 16);
  int32_t len0 = 5, len1 = (int32_t)strlen(kLong), index1 = bad_buffer ? 3 : 0, offset1 = 0;
  memcpy(views, &len0, 4);
  memcpy(views + 4, "short", 5);
  memcpy(views + 16, &len1, 4);
  memcpy(views + 16 + 4, kLong, 4); /* the prefix */
  memcpy(views + 16 + 8, &index1, 4);
  memcpy(views + 16 + 12, &offset1, 4);
  char* data = malloc((size_t)len1);
  memcpy(data, kLong, (size_t)len1);
  int64_t* sizes = malloc(sizeof(int64_t));
  sizes[0] = len1;
  va->buffers[0] = valid;
  va->buffers[1] = views;
  va->buffers[2] = data;
  va->buffers[3] = sizes;
  array->children[0] = va;
}

/* string_view columns are stored as utf8: appended, read back as "u", in
 * pylance's reach; a view outside its buffers is refused */
static void test_string_views(const char* dir) {
  char path[300];
  snprintf(path, sizeof path, "%s/bucket_views", dir);
  uint64_t h = open_bucket(path);
  PersistingError err = {0};
  struct ArrowSchema schema;
  struct ArrowArray array;
  make_view_batch(&schema, &array, 1);
  expect_error(persisting_append(h, &schema, &array, NULL, &err), PERSISTING_EINVALID_ARGUMENT, &err,
               "a view past its data buffers");
  make_view_batch(&schema, &array, 0);
  CHECK(persisting_append(h, &schema, &array, NULL, &err) == PERSISTING_OK, "string_view batch: %s", err.message);
  for (int flushed = 0; flushed < 2; flushed++) {
    struct ArrowArrayStream out;
    CHECK(persisting_read(h, 0, -1, &out, &err) == PERSISTING_OK, "read: %s", err.message);
    struct ArrowSchema got;
    CHECK(out.get_schema(&out, &got) == 0 && strcmp(got.children[0]->format, "u") == 0, "views read back as %s",
          got.children[0]->format);
    got.release(&got);
    struct ArrowArray a;
    CHECK(out.get_next(&out, &a) == 0 && a.release != NULL && a.length == 3, "read 3 rows");
    if (a.release) {
      const struct ArrowArray* c = a.children[0];
      const int32_t* off = c->buffers[1];
      const char* chars = c->buffers[2];
      int64_t i = c->offset + a.offset;
      CHECK(off[i + 1] - off[i] == 5 && memcmp(chars + off[i], "short", 5) == 0, "row 0 (flushed %d)", flushed);
      CHECK(off[i + 2] - off[i + 1] == (int32_t)strlen(kLong) && memcmp(chars + off[i + 1], kLong, strlen(kLong)) == 0,
            "row 1 (flushed %d)", flushed);
      CHECK(!get_bit(c->buffers[0], i + 2), "row 2 is null (flushed %d)", flushed);
      a.release(&a);
    }
    out.release(&out);
    CHECK(persisting_flush(h, &err) == PERSISTING_OK, "flush: %s", err.message);
  }
  CHECK(persisting_close(h, &err) == PERSISTING_OK, "close: %s", err.message);
}

/* A producer whose release callback calls the library back on the same
 * bucket: the flush that drops the batch holds the bucket's lock, so the
 * callback runs outside it (after the call that dropped the batch, at the
 * latest when persisting_close returns), not into a deadlock. */
static uint64_t reentrant_handle;
static int reentrant_calls = 0, reentrant_rc = -1;
static void reentrant_release(struct ArrowArray* a) {
  PersistingError err = {0};
  int64_t total = -1;
  reentrant_rc = persisting_count(reentrant_handle, &total, NULL, NULL, &err);
  persisting_error_release(&err);
  reentrant_calls++;
  release_array(a);
}

static void test_reentrant_release(const char* dir) {
  char path[300];
  snprintf(path, sizeof path, "%s/bucket_reentrant", dir);
  reentrant_handle = open_bucket(path);
  PersistingError err = {0};
  struct ArrowSchema schema;
  struct ArrowArray array;
  make_schema(&schema, NULL);
  make_array(&array, 0, 5);
  array.release = reentrant_release;
  CHECK(persisting_append(reentrant_handle, &schema, &array, NULL, &err) == PERSISTING_OK, "append: %s", err.message);
  CHECK(persisting_flush(reentrant_handle, &err) == PERSISTING_OK, "flush: %s", err.message);
  CHECK(persisting_close(reentrant_handle, &err) == PERSISTING_OK, "close: %s", err.message);
  CHECK(reentrant_calls == 1, "the release callback ran %d times by close", reentrant_calls);
  CHECK(reentrant_rc == PERSISTING_OK || reentrant_rc == PERSISTING_EINVALID_HANDLE, "count from the callback: %d",
        reentrant_rc);
}

/* Released structs, a batch that is not a struct, rows null as a whole, a
 * failing stream: each refused with PERSISTING_EINVALID_ARGUMENT, nothing
 * kept, no crash. A struct column read from an offset of the buffer comes out
 * as valid Arrow: the struct's children cover its offset. */
static void test_foreign_arrow(const char* dir) {
  char path[300];
  snprintf(path, sizeof path, "%s/bucket_foreign", dir);
  uint64_t h = open_bucket(path);
  PersistingError err = {0};
  CHECK(append_rows(h, 0, 10, &err) == PERSISTING_OK, "append: %s", err.message);

  struct ArrowSchema schema, released_schema;
  struct ArrowArray array, released_array;
  memset(&released_schema, 0, sizeof released_schema);
  memset(&released_array, 0, sizeof released_array);
  expect_error(persisting_append(h, &released_schema, &released_array, NULL, &err), PERSISTING_EINVALID_ARGUMENT, &err,
               "released schema and array");
  make_schema(&schema, NULL);
  expect_error(persisting_append(h, &schema, &released_array, NULL, &err), PERSISTING_EINVALID_ARGUMENT, &err,
               "a released array");
  CHECK(schema.release == NULL, "the schema beside a released array was not released");
  make_array(&array, 10, 3);
  int released_before = released_arrays;
  expect_error(persisting_append(h, &released_schema, &array, NULL, &err), PERSISTING_EINVALID_ARGUMENT, &err,
               "a released schema");
  CHECK(array.release == NULL && released_arrays == released_before + 1 + NCOLS,
        "the array beside a released schema was not released");
  make_schema(&schema, NULL);
  schema.format = "l"; /* a batch must be a struct */
  make_array(&array, 10, 3);
  expect_error(persisting_append(h, &schema, &array, NULL, &err), PERSISTING_EINVALID_ARGUMENT, &err, "a non-struct batch");
  CHECK(schema.release == NULL && array.release == NULL, "a non-struct batch was not taken");
  struct ArrowArrayStream in;
  memset(&in, 0, sizeof in);
  expect_error(persisting_append_stream(h, &in, NULL, &err), PERSISTING_EINVALID_ARGUMENT, &err, "a released stream");
  /* a stream without its get_schema or get_next callback: refused, not called */
  for (int missing = 0; missing < 2; missing++) {
    make_stream(&in, 10, 5, 3, NULL);
    if (missing == 0) in.get_schema = NULL;
    else in.get_next = NULL;
    int streams_before = released_streams;
    expect_error(persisting_append_stream(h, &in, NULL, &err), PERSISTING_EINVALID_ARGUMENT, &err,
                 missing == 0 ? "a stream whose get_schema is NULL" : "a stream whose get_next is NULL");
    CHECK(in.release == NULL && released_streams == streams_before + 1, "a stream without a callback was not released");
  }
  make_stream(&in, 10, 5, 3, NULL);
  in.get_next = failing_get_next;
  in.get_last_error = failing_last_error;
  int rc = persisting_append_stream(h, &in, NULL, &err);
  CHECK(err.message && strstr(err.message, "the producer's disk went away"), "get_last_error not reported: %s",
        err.message);
  expect_error(rc, PERSISTING_EINVALID_ARGUMENT, &err, "a stream whose get_next fails");
  CHECK(in.release == NULL, "a failing stream was not released");
  make_stream(&in, 10, 5, 3, NULL);
  in.get_next = malformed_get_next;
  int released_before_stream = released_arrays;
  expect_error(persisting_append_stream(h, &in, NULL, &err), PERSISTING_EINVALID_ARGUMENT, &err,
               "a stream with a malformed second batch");
  CHECK(released_arrays == released_before_stream + 2 * (1 + NCOLS), "%d arrays of the refused stream released, want 2 batches",
        released_arrays - released_before_stream);
  CHECK(count_rows(h) == 10, "rows kept from refused batches");
  test_malformed_arrays(h);
  CHECK(read_and_check(h, 0, -1, 0) == 25, "rows after the refused batches");
  CHECK(persisting_close(h, &err) == PERSISTING_OK, "close: %s", err.message);

  snprintf(path, sizeof path, "%s/bucket_struct", dir);
  h = open_bucket(path);
  make_struct_batch(&schema, &array, 0, 6, 1);
  expect_error(persisting_append(h, &schema, &array, NULL, &err), PERSISTING_EINVALID_ARGUMENT, &err,
               "a batch with null rows");
  CHECK(count_rows(h) == 0, "rows kept from a batch with null rows");
  make_struct_batch(&schema, &array, 0, 6, 0);
  CHECK(persisting_append(h, &schema, &array, NULL, &err) == PERSISTING_OK, "struct batch: %s", err.message);
  for (int flushed = 0; flushed < 2; flushed++) {
    struct ArrowArrayStream out;
    CHECK(persisting_read(h, 2, 3, &out, &err) == PERSISTING_OK, "read: %s", err.message);
    int64_t rows = 0;
    for (;;) {
      struct ArrowArray a;
      CHECK(out.get_next(&out, &a) == 0, "get_next");
      if (a.release == NULL) break;
      const struct ArrowArray* sa = a.children[0];
      const struct ArrowArray* xa = sa->children[0];
      /* the consumer applies the batch's and the struct's offsets, then x's own */
      CHECK(xa->length >= sa->offset + a.offset + a.length, "struct child of %lld rows, struct offset %lld (flushed %d)",
            (long long)xa->length, (long long)sa->offset, flushed);
      for (int64_t i = 0; i < a.length && xa->length >= sa->offset + a.offset + a.length; i++) {
        int64_t x = ((const int64_t*)xa->buffers[1])[xa->offset + sa->offset + a.offset + i];
        CHECK(x == 2 + rows + i, "x at row %lld is %lld (flushed %d)", (long long)(rows + i), (long long)x, flushed);
      }
      rows += a.length;
      a.release(&a);
    }
    out.release(&out);
    CHECK(rows == 3, "read %lld struct rows", (long long)rows);
    CHECK(persisting_flush(h, &err) == PERSISTING_OK, "flush: %s", err.message);
  }
  CHECK(persisting_close(h, &err) == PERSISTING_OK, "close: %s", err.message);
}

/* ---- threads: every function on one handle at once, and a close among them
 *
 * Eight threads call every per-handle function on one bucket (WAL, fsync per
 * append: concurrent appends share fsyncs) while the main thread closes it
 * once they made kCloseAfter calls in all. Batches are released by callbacks
 * that call the library back on the same handle. Afterwards: the close
 * succeeded, every call begun after it returned failed with
 * PERSISTING_EINVALID_HANDLE, a reopened handle reads every acknowledged row
 * once in each thread's order and no other row, and every imported batch was
 * released once. The counters are shared between threads: __atomic builtins. */
enum { kThreads = 8, kCloseAfter = 600, kRowsPerThread = 4000 };
static uint64_t threads_handle;
static int threads_closed, threads_calls, threads_made, threads_released, threads_reentrant_bad;
static pthread_mutex_t threads_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t threads_close_due = PTHREAD_COND_INITIALIZER;

struct thread_log {
  int t;
  unsigned char acked[kRowsPerThread]; /* by row number within the thread */
  int unexpected, after_close_not_invalid;
  char first_error[200];
};

static void threads_release_child(struct ArrowArray* a) {
  free((void*)a->buffers[1]);
  free(a->buffers);
  a->release = NULL;
}

static void threads_release(struct ArrowArray* a) {
  PersistingError err = {0};
  int64_t total = 0;
  char* json = NULL;
  int rc = persisting_count(threads_handle, &total, NULL, NULL, &err); /* the same handle, from a release */
  if (rc == PERSISTING_OK) rc = persisting_stats(threads_handle, &json, &err);
  if (rc != PERSISTING_OK && rc != PERSISTING_EINVALID_HANDLE) __atomic_add_fetch(&threads_reentrant_bad, 1, __ATOMIC_SEQ_CST);
  persisting_string_free(json);
  persisting_error_release(&err);
  struct ArrowArray* c = a->children[0];
  if (c->release) c->release(c);
  free(c);
  free(a->children);
  free(a->buffers);
  a->release = NULL;
  __atomic_add_fetch(&threads_released, 1, __ATOMIC_SEQ_CST);
}

static void threads_release_schema(struct ArrowSchema* s) {
  if (s->children[0]->release) s->children[0]->release(s->children[0]);
  free(s->children[0]);
  free(s->children);
  s->release = NULL;
}

static void threads_make_schema(struct ArrowSchema* s) {
  memset(s, 0, sizeof *s);
  struct ArrowSchema* c = calloc(1, sizeof *c);
  c->format = "l";
  c->name = "id";
  c->flags = ARROW_FLAG_NULLABLE;
  c->release = release_child_schema;
  s->format = "+s";
  s->name = "";
  s->n_children = 1;
  s->children = calloc(1, sizeof(struct ArrowSchema*));
  s->children[0] = c;
  s->release = threads_release_schema;
}

/* a batch {id: int64} of ids first .. first+n-1 */
static void threads_make_array(struct ArrowArray* a, int64_t first, int64_t n) {
  memset(a, 0, sizeof *a);
  struct ArrowArray* c = new_child(n, 2);
  int64_t* ids = malloc(sizeof(int64_t) * (size_t)n);
  for (int64_t i = 0; i < n; i++) ids[i] = first + i;
  c->buffers[1] = ids;
  c->release = threads_release_child;
  a->length = n;
  a->n_buffers = 1;
  a->buffers = calloc(1, sizeof(void*));
  a->n_children = 1;
  a->children = calloc(1, sizeof(struct ArrowArray*));
  a->children[0] = c;
  a->release = threads_release;
  __atomic_add_fetch(&threads_made, 1, __ATOMIC_SEQ_CST);
}

/* {"id": id} in the record encoding (marshal version 4) */
static size_t threads_record(uint8_t* out, int32_t id) {
  static const uint8_t head[] = {0x7b, 0xda, 0x02, 'i', 'd', 0xe9};
  memcpy(out, head, sizeof head);
  memcpy(out + sizeof head, &id, 4);
  out[sizeof head + 4] = 0x30;
  return sizeof head + 5;
}

static void threads_drain(struct ArrowArrayStream* s) {
  struct ArrowArray a;
  while (s->get_next(s, &a) == 0 && a.release != NULL) a.release(&a);
  s->release(s);
}

/* one call of kind op; appends add rows from *next (this thread's row numbers) */
static int threads_call(struct thread_log* log, int op, int* next, int* appended) {
  PersistingError err = {0};
  struct ArrowArrayStream stream;
  struct ArrowSchema schema;
  struct ArrowArray array;
  char* json = NULL;
  int64_t first = (int64_t)log->t * kRowsPerThread + *next, n = 0, counts[3];
  int64_t indexes[3] = {0, 3, 1 << 30};
  uint8_t record[16];
  int rc = PERSISTING_OK;
  switch (op) {
    case 0: case 1: case 2:
      n = 1 + (*next % 7);
      threads_make_schema(&schema);
      threads_make_array(&array, first, n);
      rc = persisting_append(threads_handle, &schema, &array, NULL, &err);
      break;
    case 3: case 4:
      n = 1;
      rc = persisting_append_records(threads_handle, record, threads_record(record, (int32_t)first), NULL, &err);
      break;
    case 5: rc = persisting_read(threads_handle, *next % 50, 20, &stream, &err); if (!rc) threads_drain(&stream); break;
    case 6: rc = persisting_count(threads_handle, &counts[0], &counts[1], &counts[2], &err); break;
    case 7: rc = persisting_stats(threads_handle, &json, &err); break;
    case 8: rc = persisting_schema(threads_handle, &schema, &err); if (!rc) schema.release(&schema); break;
    case 9: rc = persisting_flush(threads_handle, &err); break;
    case 10: rc = persisting_versions(threads_handle, &json, &err); break;
    case 11: rc = persisting_read_version(threads_handle, 1, 0, 5, &stream, &err); if (!rc) threads_drain(&stream); break;
    case 12: rc = persisting_compact(threads_handle, 0, &json, &err); break;
    case 13: rc = persisting_cleanup_old_versions(threads_handle, 0, &json, &err); break;
    case 14: rc = persisting_lookup(threads_handle, "id", "{\"op\": \"eq\", \"value\": 3}", &stream, &err);
             if (!rc) threads_drain(&stream);
             break;
    case 15: rc = persisting_indices(threads_handle, &json, &err); break;
    case 16: rc = persisting_bucket_metrics(threads_handle, &json, &err); break;
    case 17: rc = persisting_consumption_take(threads_handle, "train", "[\"id\"]", 2, &json, &err); break;
    case 18: rc = persisting_consumption_ready(threads_handle, "eval", "[\"id\"]", &json, &err); break;
    case 19: rc = persisting_consumption_mark(threads_handle, "eval", indexes, 2, &err); break;
    case 20: rc = persisting_consumption_reset(threads_handle, "eval", &err); break;
    case 21: rc = persisting_live_indexes(threads_handle, indexes, 3, &json, &err); break;
    default: rc = persisting_check_fields(threads_handle, "[\"id\"]", &err); break;
  }
  if (n > 0) {
    if (rc == PERSISTING_OK)
      for (int64_t i = 0; i < n; i++) log->acked[*next + i] = 1;
    *next += (int)n; /* a refused row number is not used again */
    *appended = 1;
  }
  /* before the first append the bucket has no schema (ESCHEMA) nor fields (EINVALID_ARGUMENT) */
  int no_schema_yet = (rc == PERSISTING_ESCHEMA || rc == PERSISTING_EINVALID_ARGUMENT) && op >= 8;
  if (rc != PERSISTING_OK && rc != PERSISTING_EINVALID_HANDLE && !no_schema_yet && log->unexpected++ == 0)
    snprintf(log->first_error, sizeof log->first_error, "op %d: %d %s", op, rc, err.message ? err.message : "");
  persisting_string_free(json);
  persisting_error_release(&err);
  return rc;
}

static void* threads_worker(void* arg) {
  struct thread_log* log = arg;
  int next = 0, after_close = 0;
  for (int k = 0; after_close < 25 && next < kRowsPerThread - 8; k++) {
    int appended = 0, closed = __atomic_load_n(&threads_closed, __ATOMIC_SEQ_CST);
    int op = (k * 7 + log->t * 3) % 23; /* every kind, in a different order on each thread */
    int rc = threads_call(log, op, &next, &appended);
    if (closed) {
      after_close++;
      if (rc != PERSISTING_EINVALID_HANDLE) log->after_close_not_invalid++;
    }
    if (__atomic_add_fetch(&threads_calls, 1, __ATOMIC_SEQ_CST) == kCloseAfter) {
      pthread_mutex_lock(&threads_mu);
      pthread_cond_signal(&threads_close_due);
      pthread_mutex_unlock(&threads_mu);
    }
  }
  return NULL;
}

static void test_threads_on_one_handle(const char* dir) {
  char path[300];
  snprintf(path, sizeof path, "%s/bucket_threads", dir);
  const char* options = "{\"flush_threshold\": 40, \"enable_wal\": true, \"wal_sync_interval\": 0, \"enable_metrics\": true}";
  PersistingError err = {0};
  CHECK(persisting_open(path, options, &threads_handle, &err) == PERSISTING_OK, "open: %s", err.message);
  static struct thread_log logs[kThreads];
  pthread_t threads[kThreads];
  for (int t = 0; t < kThreads; t++) {
    logs[t].t = t;
    pthread_create(&threads[t], NULL, threads_worker, &logs[t]);
  }
  pthread_mutex_lock(&threads_mu);
  while (__atomic_load_n(&threads_calls, __ATOMIC_SEQ_CST) < kCloseAfter) pthread_cond_wait(&threads_close_due, &threads_mu);
  pthread_mutex_unlock(&threads_mu);
  int rc = persisting_close(threads_handle, &err);
  __atomic_store_n(&threads_closed, 1, __ATOMIC_SEQ_CST);
  CHECK(rc == PERSISTING_OK, "close among the threads: %d %s", rc, err.message);
  persisting_error_release(&err);
  for (int t = 0; t < kThreads; t++) pthread_join(threads[t], NULL);
  long acked = 0;
  for (int t = 0; t < kThreads; t++) {
    CHECK(logs[t].unexpected == 0, "thread %d: %d unexpected errors, first %s", t, logs[t].unexpected, logs[t].first_error);
    CHECK(logs[t].after_close_not_invalid == 0, "thread %d: %d calls after close did not fail with EINVALID_HANDLE", t,
          logs[t].after_close_not_invalid);
    for (int i = 0; i < kRowsPerThread; i++) acked += logs[t].acked[i];
  }

  uint64_t h = 0;
  CHECK(persisting_open(path, options, &h, &err) == PERSISTING_OK, "reopen: %s", err.message);
  struct ArrowArrayStream stream;
  CHECK(persisting_read(h, 0, -1, &stream, &err) == PERSISTING_OK, "read: %s", err.message);
  static unsigned char seen[kThreads * kRowsPerThread];
  int64_t last[kThreads];
  long rows = 0, twice = 0, out_of_order = 0, unacknowledged = 0;
  for (int t = 0; t < kThreads; t++) last[t] = -1;
  struct ArrowArray batch;
  while (stream.get_next(&stream, &batch) == 0 && batch.release != NULL) {
    const int64_t* ids = (const int64_t*)batch.children[0]->buffers[1] + batch.children[0]->offset;
    for (int64_t i = 0; i < batch.length; i++, rows++) {
      int64_t id = ids[i], t = id / kRowsPerThread;
      twice += seen[id]++ > 0;
      out_of_order += id <= last[t];
      last[t] = id;
      unacknowledged += !logs[t].acked[id % kRowsPerThread];
    }
    batch.release(&batch);
  }
  stream.release(&stream);
  CHECK(persisting_close(h, &err) == PERSISTING_OK, "close the reopened handle: %s", err.message);
  CHECK(rows == acked && twice == 0 && out_of_order == 0 && unacknowledged == 0,
        "read back %ld rows of %ld acknowledged: %ld twice, %ld out of thread order, %ld unacknowledged", rows, acked,
        twice, out_of_order, unacknowledged);
  CHECK(acked > 0, "no append was acknowledged before the close");
  int made = __atomic_load_n(&threads_made, __ATOMIC_SEQ_CST), released = __atomic_load_n(&threads_released, __ATOMIC_SEQ_CST);
  CHECK(made == released, "%d batches imported, %d released", made, released);
  CHECK(threads_reentrant_bad == 0, "%d calls from release callbacks failed", threads_reentrant_bad);
  printf("  threads: %ld rows acknowledged by %d threads, closed after %d calls\n", acked, kThreads, kCloseAfter);
}

/* ---- first_offset: every append reports where its own rows went, exact under threads */
enum { kOffsetThreads = 4, kOffsetCalls = 60 };
struct offset_log {
  int t, failed;
  int64_t first[kOffsetCalls], n[kOffsetCalls], id[kOffsetCalls];
  char error[256];
};
static uint64_t offsets_handle;

/* Arrow batches and records of {id}, each call's ids unique; logs (first_offset, rows, first id). */
static void* offsets_worker(void* arg) {
  struct offset_log* log = arg;
  for (int k = 0; k < kOffsetCalls; k++) {
    PersistingError err = {0};
    int64_t id = (int64_t)log->t * 1000000 + k * 100, n = 1, first = -1;
    int rc;
    if (k % 3 == 2) {
      uint8_t record[16];
      rc = persisting_append_records(offsets_handle, record, threads_record(record, (int32_t)id), &first, &err);
    } else {
      struct ArrowSchema schema;
      struct ArrowArray array;
      n = 1 + (k * 5 + log->t) % 9;
      threads_make_schema(&schema);
      threads_make_array(&array, id, n);
      rc = persisting_append(offsets_handle, &schema, &array, &first, &err);
    }
    log->first[k] = first, log->n[k] = n, log->id[k] = id;
    if (rc != PERSISTING_OK && log->failed++ == 0)
      snprintf(log->error, sizeof log->error, "call %d: %d %s", k, rc, err.message ? err.message : "");
    persisting_error_release(&err);
  }
  return NULL;
}

static void test_append_first_offset(const char* dir) {
  char path[300];
  snprintf(path, sizeof path, "%s/bucket_first_offset", dir);
  PersistingError err = {0};
  CHECK(persisting_open(path, "{\"flush_threshold\": 30, \"enable_wal\": true}", &offsets_handle, &err) ==
            PERSISTING_OK, "open: %s", err.message);
  static struct offset_log logs[kOffsetThreads];
  pthread_t threads[kOffsetThreads];
  for (int t = 0; t < kOffsetThreads; t++) {
    logs[t].t = t;
    pthread_create(&threads[t], NULL, offsets_worker, &logs[t]);
  }
  for (int t = 0; t < kOffsetThreads; t++) pthread_join(threads[t], NULL);
  int64_t total = 0;
  for (int t = 0; t < kOffsetThreads; t++) {
    CHECK(logs[t].failed == 0, "thread %d: %d failed appends, first %s", t, logs[t].failed, logs[t].error);
    for (int k = 0; k < kOffsetCalls; k++) total += logs[t].n[k];
  }
  int64_t counted = -1;
  CHECK(persisting_count(offsets_handle, &counted, NULL, NULL, &err) == PERSISTING_OK && counted == total,
        "count %lld, the calls appended %lld", (long long)counted, (long long)total);
  /* the reported ranges tile [0, total): consecutive, none overlapping, none missing */
  int64_t* id_at = calloc((size_t)total, sizeof(int64_t));
  unsigned char* covered = calloc((size_t)total, 1);
  long outside = 0, overlapping = 0, uncovered = 0, wrong_rows = 0;
  for (int t = 0; t < kOffsetThreads; t++)
    for (int k = 0; k < kOffsetCalls; k++)
      for (int64_t i = 0, at = logs[t].first[k]; i < logs[t].n[k]; i++)
        if (at < 0 || at + i >= total) outside++;
        else overlapping += covered[at + i]++ > 0;
  for (int64_t i = 0; i < total; i++) uncovered += !covered[i];
  CHECK(outside == 0 && overlapping == 0 && uncovered == 0,
        "reported ranges: %ld rows outside [0, %lld), %ld overlapping, %ld offsets no call reported", outside,
        (long long)total, overlapping, uncovered);
  /* and each range holds exactly that call's ids */
  struct ArrowArrayStream stream;
  int64_t rows = 0;
  CHECK(persisting_read(offsets_handle, 0, -1, &stream, &err) == PERSISTING_OK, "read: %s", err.message);
  struct ArrowArray batch;
  while (stream.get_next(&stream, &batch) == 0 && batch.release != NULL) {
    const int64_t* ids = (const int64_t*)batch.children[0]->buffers[1] + batch.children[0]->offset + batch.offset;
    for (int64_t i = 0; i < batch.length && rows < total; i++) id_at[rows++] = ids[i];
    batch.release(&batch);
  }
  stream.release(&stream);
  for (int t = 0; t < kOffsetThreads; t++)
    for (int k = 0; k < kOffsetCalls; k++)
      for (int64_t i = 0, at = logs[t].first[k]; i < logs[t].n[k] && at >= 0 && at + i < rows; i++)
        wrong_rows += id_at[at + i] != logs[t].id[k] + i;
  CHECK(rows == total && wrong_rows == 0, "read %lld rows of %lld; %ld rows at a reported offset are another call's",
        (long long)rows, (long long)total, wrong_rows);
  free(id_at);
  free(covered);
  CHECK(persisting_close(offsets_handle, &err) == PERSISTING_OK, "close: %s", err.message);

  /* a stream reports its first row too; NULL is accepted; a refused call leaves the out-parameter alone */
  snprintf(path, sizeof path, "%s/bucket_first_offset_stream", dir);
  uint64_t h = open_bucket(path);
  int64_t first = -1;
  struct ArrowSchema schema;
  struct ArrowArray array;
  make_schema(&schema, NULL);
  make_array(&array, 0, 3);
  CHECK(persisting_append(h, &schema, &array, &first, &err) == PERSISTING_OK && first == 0, "batch at %lld, want 0",
        (long long)first);
  make_stream(&stream, 3, 10, 2, NULL);
  CHECK(persisting_append_stream(h, &stream, &first, &err) == PERSISTING_OK && first == 3, "stream at %lld, want 3",
        (long long)first);
  make_stream(&stream, 23, 5, 1, NULL);
  CHECK(persisting_append_stream(h, &stream, NULL, &err) == PERSISTING_OK, "a NULL first_offset: %s", err.message);
  first = -7;
  make_stream(&stream, 28, 5, 1, "u"); /* id as a string: refused */
  expect_error(persisting_append_stream(h, &stream, &first, &err), PERSISTING_ESCHEMA, &err, "a string id stream");
  CHECK(first == -7, "a refused append wrote first_offset %lld", (long long)first);
  make_stream(&stream, 28, 2, 1, NULL);
  CHECK(persisting_append_stream(h, &stream, &first, &err) == PERSISTING_OK && first == 28, "stream at %lld, want 28",
        (long long)first);
  CHECK(read_and_check(h, 0, -1, 0) == 30, "rows 0..29 in order");
  CHECK(persisting_close(h, &err) == PERSISTING_OK, "close: %s", err.message);
  persisting_error_release(&err);
  printf("  first_offset: %lld rows from %d threads, every reported range exact\n", (long long)total, kOffsetThreads);
}

/* A close whose flush fails (here: the dataset's data directory is a file) keeps a bucket without
 * the WAL open with its rows: the error says so, the handle still reads them, and a close once the
 * cause is gone stores them and frees the handle. */
static void test_failed_close_keeps_the_bucket(const char* dir) {
  char path[256], data[300], cmd[600];
  snprintf(path, sizeof path, "%s/bucket_close_fails", dir);
  snprintf(data, sizeof data, "%s/data.lance/data", path);
  uint64_t h = open_bucket(path);
  PersistingError err = {0};
  CHECK(append_rows(h, 0, 15, &err) == PERSISTING_OK, "append: %s", err.message);
  snprintf(cmd, sizeof cmd, "mkdir -p %s/data.lance && touch %s", path, data);
  CHECK(system(cmd) == 0, "%s", cmd);
  int rc = persisting_close(h, &err);
  CHECK(rc == PERSISTING_EIO && err.message && strstr(err.message, path) &&
            strstr(err.message, "stays open with its 15 unflushed rows"),
        "close that cannot flush: %d %s", rc, err.message ? err.message : "");
  persisting_error_release(&err);
  CHECK(read_and_check(h, 0, -1, 0) == 15, "the handle kept by the failed close reads every row");
  CHECK(unlink(data) == 0, "remove %s", data);
  CHECK(persisting_close(h, &err) == PERSISTING_OK, "close once the cause is gone: %s", err.message);
  expect_error(persisting_close(h, &err), PERSISTING_EINVALID_HANDLE, &err, "close after the successful close");
  h = open_bucket(path);
  CHECK(read_and_check(h, 0, -1, 0) == 15, "every row after the reopen");
  CHECK(persisting_close(h, &err) == PERSISTING_OK, "close: %s", err.message);
}

int main(void) {
  char dir[] = "/tmp/persisting-c-test-XXXXXX";
  if (mkdtemp(dir) == NULL) return 2;
  char path[256];
  snprintf(path, sizeof path, "%s/bucket_0", dir);
  printf("persisting %s at %s\n", persisting_version(), path);

  /* append 300 rows in three batches, flush 200 of them, keep 100 buffered */
  uint64_t h = open_bucket(path);
  PersistingError err = {0};
  CHECK(append_rows(h, 0, 100, &err) == PERSISTING_OK, "append 1: %s", err.message);
  CHECK(append_rows(h, 100, 100, &err) == PERSISTING_OK, "append 2: %s", err.message);
  CHECK(persisting_flush(h, &err) == PERSISTING_OK, "flush: %s", err.message);
  CHECK(append_rows(h, 200, 100, &err) == PERSISTING_OK, "append 3: %s", err.message);

  int64_t total = -1, persisted = -1, buffered = -1;
  CHECK(persisting_count(h, &total, &persisted, &buffered, &err) == PERSISTING_OK, "count");
  CHECK(total == 300 && persisted == 200 && buffered == 100, "counts %lld/%lld/%lld", (long long)total,
        (long long)persisted, (long long)buffered);

  /* a stream of three batches is one unit: all or nothing */
  struct ArrowArrayStream in;
  make_stream(&in, 300, 10, 3, "u"); /* id as a string: refused before any batch is read */
  expect_error(persisting_append_stream(h, &in, NULL, &err), PERSISTING_ESCHEMA, &err, "mismatching stream");
  CHECK(in.release == NULL, "a refused stream must still be taken");
  make_stream(&in, 300, 10, 3, NULL);
  CHECK(persisting_append_stream(h, &in, NULL, &err) == PERSISTING_OK, "append_stream: %s", err.message);
  CHECK(in.release == NULL, "append_stream did not take the stream");
  CHECK(persisting_count(h, &total, NULL, NULL, &err) == PERSISTING_OK && total == 330, "count after stream %lld",
        (long long)total);
  CHECK(read_and_check(h, 0, -1, 0) == 330, "read all");
  CHECK(read_and_check(h, 150, 100, 150) == 100, "read across flushed and buffered rows");
  CHECK(read_and_check(h, 320, 50, 320) == 10, "read past the end");
  CHECK(read_and_check(h, 5000, 10, 5000) == 0, "read far past the end");

  char* stats = NULL;
  CHECK(persisting_stats(h, &stats, &err) == PERSISTING_OK, "stats");
  CHECK(stats && strstr(stats, "\"total_count\":330") && strstr(stats, "\"bucket_id\":7"), "stats: %s", stats);
  printf("  stats: %s\n", stats);
  persisting_string_free(stats);

  /* versions, time travel, compaction: two flushes make versions 1 and 2 */
  char* json = NULL;
  CHECK(persisting_flush(h, &err) == PERSISTING_OK, "second flush: %s", err.message);
  CHECK(persisting_versions(h, &json, &err) == PERSISTING_OK, "versions: %s", err.message);
  CHECK(json && strstr(json, "\"version\":1") && strstr(json, "\"version\":2"), "versions: %s", json);
  persisting_string_free(json);
  CHECK(read_and_check_version(h, 1, 0) == 200, "version 1 holds the first flush");
  CHECK(persisting_compact(h, 0, &json, &err) == PERSISTING_OK, "compact: %s", err.message);
  CHECK(json && strstr(json, "\"fragments\":1"), "compact: %s", json);
  printf("  compact: %s\n", json);
  persisting_string_free(json);
  CHECK(read_and_check(h, 0, -1, 0) == 330, "read after compaction");
  expect_error(persisting_cleanup_old_versions(h, -1, &json, &err), PERSISTING_EINVALID_ARGUMENT, &err,
               "negative older_than");

  /* a BTREE index on id; a range lookup answered through it */
  CHECK(persisting_create_index(h, "id", "BTREE", &json, &err) == PERSISTING_OK, "create_index: %s", err.message);
  CHECK(json && strstr(json, "\"columns\":[\"id\"]"), "create_index: %s", json);
  persisting_string_free(json);
  CHECK(lookup_ids(h, "{\"op\": \"range\", \"lo\": 100, \"hi\": 110, \"lo_inclusive\": true}", 100) == 10,
        "range lookup");
  CHECK(lookup_ids(h, "{\"op\": \"eq\", \"value\": 7}", 7) == 1, "equality lookup");
  expect_error(persisting_lookup(h, "id", "{\"op\": \"like\"}", &in, &err), PERSISTING_EINVALID_ARGUMENT, &err,
               "unknown lookup op");
  expect_error(persisting_lookup(h, "id", "{\"op\": \"eq\", \"value\": \"seven\"}", &in, &err),
               PERSISTING_EINVALID_ARGUMENT, &err, "a string looked up in an int64 column");

  char* metrics = NULL;
  CHECK(persisting_metrics_text(&metrics, &err) == PERSISTING_OK, "metrics_text");
  CHECK(metrics && strstr(metrics, "persisting_records_total{bucket=\"7\""), "metrics: %s", metrics);
  CHECK(metrics && strstr(metrics, "# TYPE persisting_flush_duration_seconds histogram"), "metrics: %s", metrics);
  persisting_string_free(metrics);

  /* bad calls: each an error with a message, none a crash */
  struct ArrowSchema schema;
  struct ArrowArray array;
  make_schema(&schema, "u"); /* id declared as a string: does not match the bucket */
  make_array(&array, 300, 3);
  expect_error(persisting_append(h, &schema, &array, NULL, &err), PERSISTING_ESCHEMA, &err, "mismatching schema");
  CHECK(schema.release == NULL && array.release == NULL, "refused append must still take both structs");
  expect_error(persisting_append(h, NULL, NULL, NULL, &err), PERSISTING_EINVALID_ARGUMENT, &err, "NULL batch");
  expect_error(persisting_read(h, -1, 10, NULL, &err), PERSISTING_EINVALID_ARGUMENT, &err, "NULL stream");
  struct ArrowArrayStream s;
  expect_error(persisting_read(h, -1, 10, &s, &err), PERSISTING_EINVALID_ARGUMENT, &err, "negative offset");
  expect_error(persisting_open(NULL, NULL, NULL, &err), PERSISTING_EINVALID_ARGUMENT, &err, "NULL path");
  uint64_t h2 = 0;
  expect_error(persisting_open(path, "{\"no_such_option\": 1}", &h2, &err), PERSISTING_EINVALID_ARGUMENT, &err,
               "unknown option");
  expect_error(persisting_open(path, "{\"enable_wal\": true, \"wal_sync_interval\": -1}", &h2, &err),
               PERSISTING_EINVALID_ARGUMENT, &err, "negative wal_sync_interval");
  expect_error(persisting_open("/proc/version/x", NULL, &h2, &err), PERSISTING_EIO, &err, "path under a file");
  expect_error(persisting_open(path, NULL, &h2, &err), PERSISTING_EBUSY, &err, "second writer of an open bucket");
  CHECK(persisting_open(path, "{\"read_only\": true}", &h2, &err) == PERSISTING_OK, "read-only open: %s",
        err.message);
  CHECK(read_and_check(h2, 0, -1, 0) <= 330, "read-only handle reads");
  CHECK(persisting_close(h2, &err) == PERSISTING_OK, "close read-only: %s", err.message);
  CHECK(read_and_check(h, 0, -1, 0) == 330, "rows after the bad calls");

  /* close flushes; the handle is dead afterwards */
  CHECK(persisting_close(h, &err) == PERSISTING_OK, "close: %s", err.message);
  expect_error(persisting_flush(h, &err), PERSISTING_EINVALID_HANDLE, &err, "flush after close");
  expect_error(persisting_close(h, &err), PERSISTING_EINVALID_HANDLE, &err, "double close");
  expect_error(persisting_count(0, NULL, NULL, NULL, &err), PERSISTING_EINVALID_HANDLE, &err, "handle 0");
  make_schema(&schema, NULL);
  make_array(&array, 0, 1);
  expect_error(persisting_append(h, &schema, &array, NULL, &err), PERSISTING_EINVALID_HANDLE, &err, "append after close");
  CHECK(schema.release == NULL && array.release == NULL, "append to a closed handle must still take both structs");

  /* a new handle on the same path recovers all 300 rows */
  h = open_bucket(path);
  CHECK(persisting_count(h, &total, &persisted, &buffered, &err) == PERSISTING_OK, "count after reopen");
  CHECK(total == 330 && persisted == 330 && buffered == 0, "after reopen: %lld/%lld/%lld", (long long)total,
        (long long)persisted, (long long)buffered);
  CHECK(read_and_check(h, 0, -1, 0) == 330, "read after reopen");
  CHECK(persisting_close(h, &err) == PERSISTING_OK, "close 2");

  /* the eight batches handed over (six kept, two refused) were each released once */
  CHECK(released_arrays == 8 * (1 + NCOLS), "%d arrays released, want exactly 8 batches", released_arrays);

  test_append_records(dir);
  test_open_options(dir);
  test_index_counts(dir);
  test_foreign_arrow(dir);
  test_string_views(dir);
  test_reentrant_release(dir);
  test_threads_on_one_handle(dir);
  test_append_first_offset(dir);
  test_failed_close_keeps_the_bucket(dir);

  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  printf("capi: %d passed, %d failed\n", passes, failures);
  return failures ? 1 : 0;
}
