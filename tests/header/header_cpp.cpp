// Compile check of include/persisting.h as C++ (tests/header/check.sh builds
// it as C++11, 14, 17 and 20 with -Wall -Wextra -Werror -pedantic-errors and
// more), and the test program's main.
//
// Uses every declaration of the header: each function's exact type, every
// macro, every struct member. Linking this TU with libpersisting.so proves the
// declarations have C linkage (a missing extern "C" would leave mangled names
// unresolved). At run time it calls the functions that need no bucket, then
// runs the C TU's checks (header_c.c) in the same process.
#include "persisting.h"
#include "persisting.h"  // the include guard makes a second include harmless

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>

extern "C" int persisting_header_check_c(int* passed);

namespace {

// ---- the structs are plain C data: trivially copyable, standard layout
template <typename T>
constexpr bool is_c_struct() {
  return std::is_standard_layout<T>::value && std::is_trivial<T>::value;
}
static_assert(is_c_struct<ArrowSchema>(), "ArrowSchema is C data");
static_assert(is_c_struct<ArrowArray>(), "ArrowArray is C data");
static_assert(is_c_struct<ArrowArrayStream>(), "ArrowArrayStream is C data");
static_assert(is_c_struct<PersistingError>(), "PersistingError is C data");
static_assert(std::is_same<PersistingError, struct PersistingError>::value, "typedef names the struct");

// ---- every member, with its type
static_assert(std::is_same<decltype(ArrowSchema::format), const char*>::value, "format");
static_assert(std::is_same<decltype(ArrowSchema::name), const char*>::value, "name");
static_assert(std::is_same<decltype(ArrowSchema::metadata), const char*>::value, "metadata");
static_assert(std::is_same<decltype(ArrowSchema::flags), int64_t>::value, "flags");
static_assert(std::is_same<decltype(ArrowSchema::n_children), int64_t>::value, "n_children");
static_assert(std::is_same<decltype(ArrowSchema::children), ArrowSchema**>::value, "children");
static_assert(std::is_same<decltype(ArrowSchema::dictionary), ArrowSchema*>::value, "dictionary");
static_assert(std::is_same<decltype(ArrowSchema::release), void (*)(ArrowSchema*)>::value, "release");
static_assert(std::is_same<decltype(ArrowSchema::private_data), void*>::value, "private_data");

static_assert(std::is_same<decltype(ArrowArray::length), int64_t>::value, "length");
static_assert(std::is_same<decltype(ArrowArray::null_count), int64_t>::value, "null_count");
static_assert(std::is_same<decltype(ArrowArray::offset), int64_t>::value, "offset");
static_assert(std::is_same<decltype(ArrowArray::n_buffers), int64_t>::value, "n_buffers");
static_assert(std::is_same<decltype(ArrowArray::n_children), int64_t>::value, "n_children");
static_assert(std::is_same<decltype(ArrowArray::buffers), const void**>::value, "buffers");
static_assert(std::is_same<decltype(ArrowArray::children), ArrowArray**>::value, "children");
static_assert(std::is_same<decltype(ArrowArray::dictionary), ArrowArray*>::value, "dictionary");
static_assert(std::is_same<decltype(ArrowArray::release), void (*)(ArrowArray*)>::value, "release");
static_assert(std::is_same<decltype(ArrowArray::private_data), void*>::value, "private_data");

static_assert(std::is_same<decltype(ArrowArrayStream::get_schema), int (*)(ArrowArrayStream*, ArrowSchema*)>::value,
              "get_schema");
static_assert(std::is_same<decltype(ArrowArrayStream::get_next), int (*)(ArrowArrayStream*, ArrowArray*)>::value,
              "get_next");
static_assert(std::is_same<decltype(ArrowArrayStream::get_last_error), const char* (*)(ArrowArrayStream*)>::value,
              "get_last_error");
static_assert(std::is_same<decltype(ArrowArrayStream::release), void (*)(ArrowArrayStream*)>::value, "release");
static_assert(std::is_same<decltype(ArrowArrayStream::private_data), void*>::value, "private_data");

static_assert(std::is_same<decltype(PersistingError::code), int>::value, "code");
static_assert(std::is_same<decltype(PersistingError::message), char*>::value, "message");

// ---- every function, with its exact type
static_assert(std::is_same<decltype(persisting_error_release), void(PersistingError*)>::value, "error_release");
static_assert(std::is_same<decltype(persisting_string_free), void(char*)>::value, "string_free");
static_assert(std::is_same<decltype(persisting_version), const char*()>::value, "version");
static_assert(std::is_same<decltype(persisting_open),
                           int(const char*, const char*, uint64_t*, PersistingError*)>::value,
              "open");
static_assert(std::is_same<decltype(persisting_close), int(uint64_t, PersistingError*)>::value, "close");
static_assert(std::is_same<decltype(persisting_append),
                           int(uint64_t, ArrowSchema*, ArrowArray*, int64_t*, PersistingError*)>::value,
              "append");
static_assert(std::is_same<decltype(persisting_append_stream),
                           int(uint64_t, ArrowArrayStream*, int64_t*, PersistingError*)>::value,
              "append_stream");
static_assert(std::is_same<decltype(persisting_append_records),
                           int(uint64_t, const uint8_t*, size_t, int64_t*, PersistingError*)>::value,
              "append_records");
static_assert(std::is_same<decltype(persisting_read),
                           int(uint64_t, int64_t, int64_t, ArrowArrayStream*, PersistingError*)>::value,
              "read");
static_assert(std::is_same<decltype(persisting_schema), int(uint64_t, ArrowSchema*, PersistingError*)>::value,
              "schema");
static_assert(std::is_same<decltype(persisting_flush), int(uint64_t, PersistingError*)>::value, "flush");
static_assert(std::is_same<decltype(persisting_count),
                           int(uint64_t, int64_t*, int64_t*, int64_t*, PersistingError*)>::value,
              "count");
static_assert(std::is_same<decltype(persisting_stats), int(uint64_t, char**, PersistingError*)>::value, "stats");
static_assert(std::is_same<decltype(persisting_compact), int(uint64_t, int64_t, char**, PersistingError*)>::value,
              "compact");
static_assert(std::is_same<decltype(persisting_cleanup_old_versions),
                           int(uint64_t, double, char**, PersistingError*)>::value,
              "cleanup_old_versions");
static_assert(std::is_same<decltype(persisting_versions), int(uint64_t, char**, PersistingError*)>::value,
              "versions");
static_assert(std::is_same<decltype(persisting_read_version),
                           int(uint64_t, uint64_t, int64_t, int64_t, ArrowArrayStream*, PersistingError*)>::value,
              "read_version");
static_assert(std::is_same<decltype(persisting_bucket_metrics), int(uint64_t, char**, PersistingError*)>::value,
              "bucket_metrics");
static_assert(std::is_same<decltype(persisting_create_index),
                           int(uint64_t, const char*, const char*, char**, PersistingError*)>::value,
              "create_index");
static_assert(std::is_same<decltype(persisting_indices), int(uint64_t, char**, PersistingError*)>::value,
              "indices");
static_assert(std::is_same<decltype(persisting_lookup),
                           int(uint64_t, const char*, const char*, ArrowArrayStream*, PersistingError*)>::value,
              "lookup");
static_assert(std::is_same<decltype(persisting_metrics_text), int(char**, PersistingError*)>::value,
              "metrics_text");
static_assert(std::is_same<decltype(persisting_consumption_take),
                           int(uint64_t, const char*, const char*, int64_t, char**, PersistingError*)>::value,
              "consumption_take");
static_assert(std::is_same<decltype(persisting_consumption_ready),
                           int(uint64_t, const char*, const char*, char**, PersistingError*)>::value,
              "consumption_ready");
static_assert(std::is_same<decltype(persisting_consumption_mark),
                           int(uint64_t, const char*, const int64_t*, int64_t, PersistingError*)>::value,
              "consumption_mark");
static_assert(std::is_same<decltype(persisting_consumption_reset), int(uint64_t, const char*, PersistingError*)>::value,
              "consumption_reset");
static_assert(std::is_same<decltype(persisting_clear), int(uint64_t, const int64_t*, int64_t, PersistingError*)>::value,
              "clear");
static_assert(std::is_same<decltype(persisting_live_indexes),
                           int(uint64_t, const int64_t*, int64_t, char**, PersistingError*)>::value,
              "live_indexes");
static_assert(std::is_same<decltype(persisting_check_fields), int(uint64_t, const char*, PersistingError*)>::value,
              "check_fields");
static_assert(std::is_same<decltype(persisting_inspect), int(const char*, const char*, char**, PersistingError*)>::value,
              "inspect");
static_assert(std::is_same<decltype(persisting_verify), int(const char*, char**, PersistingError*)>::value,
              "verify");

// ---- every macro, usable in constant expressions
static_assert(ARROW_FLAG_DICTIONARY_ORDERED == 1 && ARROW_FLAG_NULLABLE == 2 && ARROW_FLAG_MAP_KEYS_SORTED == 4,
              "Arrow flags");
constexpr int kCodes[] = {PERSISTING_OK,          PERSISTING_EINVALID_ARGUMENT, PERSISTING_EINVALID_HANDLE,
                          PERSISTING_ESCHEMA,     PERSISTING_EIO,               PERSISTING_ECORRUPT,
                          PERSISTING_EWAL,        PERSISTING_EINTERNAL,         PERSISTING_EUNSUPPORTED};
static_assert(sizeof(kCodes) / sizeof(kCodes[0]) == 9, "nine codes");
static_assert(kCodes[0] == 0 && kCodes[8] == 8, "codes are 0..8");

int passes = 0, failures = 0;

void check(bool cond, const std::string& what) {
  if (cond) {
    passes++;
  } else {
    failures++;
    std::fprintf(stderr, "FAIL (C++): %s\n", what.c_str());
  }
}

// An owning wrapper, the way a C++ client would hold an error.
struct Error {
  PersistingError raw{};  // value-initialised: the header's "zero-initialised"
  Error() = default;
  Error(const Error&) = delete;
  Error& operator=(const Error&) = delete;
  ~Error() { persisting_error_release(&raw); }
  PersistingError* get() { return &raw; }
};

void expect_error(int rc, int want, Error& err, const char* what) {
  check(rc == want && err.raw.code == want, std::string(what) + ": code");
  check(err.raw.message != nullptr && std::strlen(err.raw.message) > 0, std::string(what) + ": message");
  persisting_error_release(err.get());
  check(err.raw.code == 0 && err.raw.message == nullptr, std::string(what) + ": released");
}

}  // namespace

int main() {
  std::printf("persisting %s: header checks\n", persisting_version());
  const uint64_t dead = 0;
  Error err;

  ArrowSchema schema{};
  schema.format = "+s";
  schema.release = [](ArrowSchema* s) { s->release = nullptr; };
  ArrowArray array{};
  const void* buffers[1] = {nullptr};
  array.n_buffers = 1;
  array.buffers = buffers;
  array.release = [](ArrowArray* a) { a->release = nullptr; };
  expect_error(persisting_append(dead, &schema, &array, nullptr, err.get()), PERSISTING_EINVALID_HANDLE, err, "append");
  check(schema.release == nullptr && array.release == nullptr, "append takes both structs");

  ArrowArrayStream stream{};
  stream.get_schema = [](ArrowArrayStream*, ArrowSchema* out) {
    *out = ArrowSchema{};
    return 0;
  };
  stream.get_next = [](ArrowArrayStream*, ArrowArray* out) {
    *out = ArrowArray{};
    return 0;
  };
  stream.get_last_error = [](ArrowArrayStream*) -> const char* { return nullptr; };
  stream.release = [](ArrowArrayStream* s) { s->release = nullptr; };
  expect_error(persisting_append_stream(dead, &stream, nullptr, err.get()), PERSISTING_EINVALID_HANDLE, err,
               "append_stream");
  check(stream.release == nullptr, "append_stream takes the stream");
  const uint8_t record[] = {'{', '0'};  // marshal.dumps({}, 4)
  expect_error(persisting_append_records(dead, record, sizeof record, nullptr, err.get()), PERSISTING_EINVALID_HANDLE, err,
               "append_records");

  expect_error(persisting_read(dead, 0, -1, &stream, err.get()), PERSISTING_EINVALID_HANDLE, err, "read");
  expect_error(persisting_schema(dead, &schema, err.get()), PERSISTING_EINVALID_HANDLE, err, "schema");
  expect_error(persisting_flush(dead, err.get()), PERSISTING_EINVALID_HANDLE, err, "flush");
  expect_error(persisting_count(dead, nullptr, nullptr, nullptr, err.get()), PERSISTING_EINVALID_HANDLE, err,
               "count");
  char* json = nullptr;
  expect_error(persisting_stats(dead, &json, err.get()), PERSISTING_EINVALID_HANDLE, err, "stats");
  expect_error(persisting_compact(dead, 0, &json, err.get()), PERSISTING_EINVALID_HANDLE, err, "compact");
  expect_error(persisting_cleanup_old_versions(dead, 3600.0, &json, err.get()), PERSISTING_EINVALID_HANDLE, err,
               "cleanup_old_versions");
  expect_error(persisting_versions(dead, &json, err.get()), PERSISTING_EINVALID_HANDLE, err, "versions");
  expect_error(persisting_read_version(dead, 1, 0, -1, &stream, err.get()), PERSISTING_EINVALID_HANDLE, err,
               "read_version");
  expect_error(persisting_bucket_metrics(dead, &json, err.get()), PERSISTING_EINVALID_HANDLE, err,
               "bucket_metrics");
  expect_error(persisting_create_index(dead, "id", "BTREE", &json, err.get()), PERSISTING_EINVALID_HANDLE, err,
               "create_index");
  expect_error(persisting_indices(dead, &json, err.get()), PERSISTING_EINVALID_HANDLE, err, "indices");
  expect_error(persisting_lookup(dead, "id", "{\"op\": \"is_null\"}", &stream, err.get()),
               PERSISTING_EINVALID_HANDLE, err, "lookup");
  const int64_t one_index[] = {0};
  expect_error(persisting_consumption_take(dead, "t", nullptr, 1, &json, err.get()), PERSISTING_EINVALID_HANDLE, err,
               "consumption_take");
  expect_error(persisting_consumption_ready(dead, "t", nullptr, &json, err.get()), PERSISTING_EINVALID_HANDLE, err,
               "consumption_ready");
  expect_error(persisting_consumption_mark(dead, "t", one_index, 1, err.get()), PERSISTING_EINVALID_HANDLE, err,
               "consumption_mark");
  expect_error(persisting_consumption_reset(dead, "t", err.get()), PERSISTING_EINVALID_HANDLE, err,
               "consumption_reset");
  expect_error(persisting_clear(dead, one_index, 1, err.get()), PERSISTING_EINVALID_HANDLE, err, "clear");
  expect_error(persisting_live_indexes(dead, one_index, 1, &json, err.get()), PERSISTING_EINVALID_HANDLE, err,
               "live_indexes");
  expect_error(persisting_check_fields(dead, "[]", err.get()), PERSISTING_EINVALID_HANDLE, err, "check_fields");
  expect_error(persisting_close(dead, err.get()), PERSISTING_EINVALID_HANDLE, err, "close");
  uint64_t handle = 0;
  expect_error(persisting_open(nullptr, nullptr, &handle, err.get()), PERSISTING_EINVALID_ARGUMENT, err, "open");
  char* text = nullptr;
  check(persisting_metrics_text(&text, err.get()) == PERSISTING_OK && text != nullptr, "metrics_text");
  persisting_string_free(text);

  int c_passes = 0;
  int c_failures = persisting_header_check_c(&c_passes);
  std::printf("header: %d passed, %d failed\n", passes + c_passes, failures + c_failures);
  return failures + c_failures == 0 ? 0 : 1;
}
