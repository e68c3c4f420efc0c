/* example.c - libpersisting.so from C, through include/persisting.h alone.
 *
 * Build and run (from the repository's root):
 *
 *   ./build.sh                                  # build/libpersisting.so
 *   cc -std=c99 -Wall -Wextra -Iinclude examples/c/example.c \
 *      -Lbuild -lpersisting -Wl,-rpath,"$PWD/build" -o build/example_c
 *   build/example_c [directory]                 # default: a new /tmp directory
 *
 * or simply examples/c/run.sh, which does the same.
 *
 * What it shows:
 *   1. building an Arrow record batch by hand (C Data Interface structs) and
 *      handing it over with persisting_append: the library takes ownership and
 *      calls our release callback when it no longer needs the buffers;
 *   2. reading a range back through the ArrowArrayStream that
 *      persisting_read fills, across flushed and still-buffered rows;
 *   3. stats as JSON;
 *   4. an error on purpose (a batch whose schema does not match), and its
 *      message.
 * Every value read back is checked; the last line says how many checks passed.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "persisting.h"

static int passed = 0, failed = 0;
#define CHECK(cond, ...)                         \
  do {                                           \
    if (cond) {                                  \
      passed++;                                  \
    } else {                                     \
      failed++;                                  \
      fprintf(stderr, "FAIL line %d: ", __LINE__); \
      fprintf(stderr, __VA_ARGS__);              \
      fprintf(stderr, "\n");                     \
    }                                            \
  } while (0)

/* ---- The data: weather readings. Row `id` is a pure function of id, so any
 * row read back can be checked. */

#define MAX_ROWS 64
static const char* const kCities[] = {"Lisboa", "Zürich", NULL /* unknown */, "Oslo"};

static double reading_temp(int64_t id) { return 10.0 + (double)id * 0.5; }
static int reading_temp_known(int64_t id) { return id % 4 != 3; }
static const char* reading_city(int64_t id) { return kCities[id % 4]; }

/* ---- A record batch built by hand:
 *   struct<id: int64 not null, temp: float64, city: utf8>
 * Everything it points to lives in one malloc'd block (private_data), freed
 * by the top-level release callback. */

struct batch {
  struct ArrowArray columns[3]; /* children of the struct array */
  struct ArrowArray* column_ptrs[3];
  const void* struct_buffers[1];
  const void* id_buffers[2];
  const void* temp_buffers[2];
  const void* city_buffers[3];
  int64_t ids[MAX_ROWS];
  double temps[MAX_ROWS];
  uint8_t temp_valid[MAX_ROWS / 8];
  uint8_t city_valid[MAX_ROWS / 8];
  int32_t city_offsets[MAX_ROWS + 1];
  char city_chars[MAX_ROWS * 16];
};

static void release_column(struct ArrowArray* a) { a->release = NULL; /* owned by the batch */ }

static void release_batch(struct ArrowArray* a) {
  for (int64_t i = 0; i < a->n_children; i++)
    if (a->children[i]->release) a->children[i]->release(a->children[i]);
  free(a->private_data);
  a->release = NULL;
}

static void set_bit(uint8_t* bits, int64_t i) { bits[i / 8] |= (uint8_t)(1u << (i % 8)); }

static void init_column(struct ArrowArray* c, int64_t n, const void** buffers, int64_t n_buffers) {
  memset(c, 0, sizeof *c);
  c->length = n;
  c->n_buffers = n_buffers;
  c->buffers = buffers;
  c->release = release_column;
}

/* Fills `out` with rows [first, first + n), n <= MAX_ROWS. */
static void make_batch(struct ArrowArray* out, int64_t first, int64_t n) {
  struct batch* b = calloc(1, sizeof *b);
  int32_t pos = 0;
  b->city_offsets[0] = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t id = first + i;
    b->ids[i] = id;
    if (reading_temp_known(id)) {
      b->temps[i] = reading_temp(id);
      set_bit(b->temp_valid, i);
    }
    const char* city = reading_city(id);
    if (city) {
      memcpy(b->city_chars + pos, city, strlen(city));
      pos += (int32_t)strlen(city);
      set_bit(b->city_valid, i);
    }
    b->city_offsets[i + 1] = pos;
  }

  /* buffers per the Arrow spec: validity bitmap (NULL = no nulls), then values */
  b->id_buffers[0] = NULL;
  b->id_buffers[1] = b->ids;
  init_column(&b->columns[0], n, b->id_buffers, 2);
  b->temp_buffers[0] = b->temp_valid;
  b->temp_buffers[1] = b->temps;
  init_column(&b->columns[1], n, b->temp_buffers, 2);
  b->columns[1].null_count = -1; /* "not computed": allowed by the spec */
  b->city_buffers[0] = b->city_valid;
  b->city_buffers[1] = b->city_offsets;
  b->city_buffers[2] = b->city_chars;
  init_column(&b->columns[2], n, b->city_buffers, 3);
  b->columns[2].null_count = -1;

  memset(out, 0, sizeof *out);
  for (int i = 0; i < 3; i++) b->column_ptrs[i] = &b->columns[i];
  b->struct_buffers[0] = NULL;
  out->length = n;
  out->n_buffers = 1;
  out->buffers = b->struct_buffers;
  out->n_children = 3;
  out->children = b->column_ptrs;
  out->release = release_batch;
  out->private_data = b;
}

/* The schema: static strings, so release only has to free the children array. */
static void release_field(struct ArrowSchema* s) { s->release = NULL; }

static void release_struct_schema(struct ArrowSchema* s) {
  for (int64_t i = 0; i < s->n_children; i++)
    if (s->children[i]->release) s->children[i]->release(s->children[i]);
  free(s->private_data);
  s->release = NULL;
}

static void make_schema(struct ArrowSchema* out, const char* id_format) {
  /* one block: the three fields, then the array of pointers to them */
  struct ArrowSchema* fields = calloc(1, 3 * sizeof(struct ArrowSchema) + 3 * sizeof(struct ArrowSchema*));
  struct ArrowSchema** children = (struct ArrowSchema**)(fields + 3);
  static const char* const names[3] = {"id", "temp", "city"};
  const char* formats[3] = {id_format, "g", "u"};
  for (int i = 0; i < 3; i++) {
    fields[i].format = formats[i];
    fields[i].name = names[i];
    fields[i].flags = i == 0 ? 0 : ARROW_FLAG_NULLABLE;
    fields[i].release = release_field;
    children[i] = &fields[i];
  }
  memset(out, 0, sizeof *out);
  out->format = "+s"; /* a struct: one field per column */
  out->name = "";
  out->n_children = 3;
  out->children = children;
  out->release = release_struct_schema;
  out->private_data = fields;
}

/* ---- Using the library */

static int get_bit(const void* bits, int64_t i) {
  return bits == NULL || ((((const uint8_t*)bits)[i / 8] >> (i % 8)) & 1);
}

/* Appends rows [first, first + n); returns the status. */
static int append_rows(uint64_t bucket, int64_t first, int64_t n, const char* id_format, PersistingError* err) {
  struct ArrowSchema schema;
  struct ArrowArray batch;
  make_schema(&schema, id_format);
  make_batch(&batch, first, n);
  int rc = persisting_append(bucket, &schema, &batch, NULL, err);
  /* success or not, both structs now belong to the library */
  CHECK(schema.release == NULL && batch.release == NULL, "append must take both structs");
  return rc;
}

/* Reads rows [offset, offset + limit), prints and checks them; returns how many. */
static int64_t read_rows(uint64_t bucket, int64_t offset, int64_t limit) {
  PersistingError err = {0};
  struct ArrowArrayStream stream;
  if (persisting_read(bucket, offset, limit, &stream, &err) != PERSISTING_OK) {
    CHECK(0, "read: %s", err.message);
    persisting_error_release(&err);
    return -1;
  }
  int64_t rows = 0;
  for (;;) {
    struct ArrowArray batch;
    if (stream.get_next(&stream, &batch) != 0) {
      CHECK(0, "get_next: %s", stream.get_last_error(&stream));
      break;
    }
    if (batch.release == NULL) break; /* end of stream */
    /* a column's row i is at index (batch offset + column offset + i) */
    const struct ArrowArray* id = batch.children[0];
    const struct ArrowArray* temp = batch.children[1];
    const struct ArrowArray* city = batch.children[2];
    for (int64_t i = 0; i < batch.length; i++) {
      int64_t want = offset + rows + i;
      int64_t ii = batch.offset + id->offset + i;
      int64_t it = batch.offset + temp->offset + i;
      int64_t ic = batch.offset + city->offset + i;
      int64_t got_id = ((const int64_t*)id->buffers[1])[ii];
      int temp_known = get_bit(temp->buffers[0], it);
      double got_temp = ((const double*)temp->buffers[1])[it];
      int city_known = get_bit(city->buffers[0], ic);
      const int32_t* offsets = city->buffers[1];
      const char* chars = city->buffers[2];
      int city_len = city_known ? (int)(offsets[ic + 1] - offsets[ic]) : 0;
      const char* city_start = city_known ? chars + offsets[ic] : "";

      char temp_text[32] = "null";
      if (temp_known) snprintf(temp_text, sizeof temp_text, "%.1f", got_temp);
      printf("  %3lld  %6s  %.*s\n", (long long)got_id, temp_text, city_known ? city_len : 4,
             city_known ? city_start : "null");
      CHECK(get_bit(id->buffers[0], ii) && got_id == want, "id %lld, want %lld", (long long)got_id,
            (long long)want);
      CHECK(temp_known == reading_temp_known(want), "temp validity at %lld", (long long)want);
      CHECK(!temp_known || got_temp == reading_temp(want), "temp at %lld: %g", (long long)want, got_temp);
      const char* want_city = reading_city(want);
      CHECK(city_known == (want_city != NULL), "city validity at %lld", (long long)want);
      CHECK(!city_known || ((size_t)city_len == strlen(want_city) && memcmp(city_start, want_city, (size_t)city_len) == 0),
            "city at %lld: %.*s", (long long)want, city_len, city_start);
    }
    rows += batch.length;
    batch.release(&batch); /* every batch the stream yields is ours to release */
  }
  stream.release(&stream);
  return rows;
}

int main(int argc, char** argv) {
  char tmp[] = "/tmp/persisting-example-c-XXXXXX";
  const char* dir = argc > 1 ? argv[1] : mkdtemp(tmp);
  if (dir == NULL) {
    perror("mkdtemp");
    return 2;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/bucket_0", dir);
  printf("persisting %s, bucket at %s\n", persisting_version(), path);

  PersistingError err = {0}; /* zeroed before first use, released after each failure */
  uint64_t bucket = 0;
  if (persisting_open(path, "{\"bucket_id\": 1, \"flush_threshold\": 1000}", &bucket, &err) != PERSISTING_OK) {
    fprintf(stderr, "open: %s\n", err.message);
    persisting_error_release(&err);
    return 1;
  }
  int64_t before = 0;
  CHECK(persisting_count(bucket, &before, NULL, NULL, &err) == PERSISTING_OK, "count: %s", err.message);

  /* 12 rows: 6 flushed to a Lance version, 6 still buffered in memory */
  CHECK(append_rows(bucket, before, 6, "l", &err) == PERSISTING_OK, "append: %s", err.message);
  CHECK(persisting_flush(bucket, &err) == PERSISTING_OK, "flush: %s", err.message);
  CHECK(append_rows(bucket, before + 6, 6, "l", &err) == PERSISTING_OK, "append: %s", err.message);

  printf("rows %lld to %lld (flushed and buffered):\n   id    temp  city\n", (long long)before + 3,
         (long long)before + 8);
  CHECK(read_rows(bucket, before + 3, 6) == 6, "read 6 rows");

  char* stats = NULL;
  if (persisting_stats(bucket, &stats, &err) == PERSISTING_OK) {
    printf("stats: %s\n", stats);
    CHECK(strstr(stats, "\"buffer_count\":6") != NULL, "stats: %s", stats);
    persisting_string_free(stats);
  } else {
    CHECK(0, "stats: %s", err.message);
    persisting_error_release(&err);
  }

  /* An error on purpose: "id" declared as a string ("u") instead of int64 ("l"). */
  int rc = append_rows(bucket, 100, 2, "u", &err);
  printf("appending a mismatching batch: error %d: %s\n", rc, err.message ? err.message : "(none)");
  CHECK(rc == PERSISTING_ESCHEMA && err.code == PERSISTING_ESCHEMA && err.message != NULL, "want ESCHEMA");
  persisting_error_release(&err); /* frees the message; err can be used again */

  int64_t total = 0, persisted = 0, buffered = 0;
  CHECK(persisting_count(bucket, &total, &persisted, &buffered, &err) == PERSISTING_OK, "count");
  CHECK(total == before + 12 && persisted == before + 6 && buffered == 6, "counts %lld/%lld/%lld",
        (long long)total, (long long)persisted, (long long)buffered);

  CHECK(persisting_close(bucket, &err) == PERSISTING_OK, "close: %s", err.message); /* flushes the rest */
  persisting_error_release(&err);

  if (argc <= 1) { /* our own temporary directory */
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  }
  printf("example-c: %d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
