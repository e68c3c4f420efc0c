//! A Rust client of libpersisting.so (include/persisting.h), in two layers:
//!
//! - [`sys`]: the C functions, declared by hand, with arrow-rs's `#[repr(C)]`
//!   C Data Interface structs standing in for the header's `struct ArrowSchema`,
//!   `struct ArrowArray` and `struct ArrowArrayStream`;
//! - [`Bucket`]: a safe wrapper that moves `RecordBatch`es in and gives an
//!   `ArrowArrayStreamReader` back, with errors as [`Error`] values.
//!
//! Ownership follows the header: an append moves the exported structs into the
//! library (their `release` is NULL on return, so their `Drop` does nothing),
//! and the library calls the batch's release callback once it no longer needs
//! the buffers, possibly from another thread. arrow-rs buffers are reference
//! counted and `Send`, so that is safe, and no column is copied.
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{Int64Array, RecordBatch};
//! use arrow::datatypes::{DataType, Field, Schema};
//! use persisting_example::Bucket;
//!
//! let dir = std::env::temp_dir().join(format!("persisting-doc-{}", std::process::id()));
//! let bucket = Bucket::open(dir.join("bucket_0").to_str().unwrap(), Some(r#"{"flush_threshold": 1000}"#))?;
//! let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
//! let batch = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1, 2, 3]))]).unwrap();
//! assert_eq!(bucket.append(&batch)?, 0); // the offset of its first row
//! let rows: usize = bucket.read(0, -1)?.map(|b| b.unwrap().num_rows()).sum();
//! assert_eq!(rows, 3);
//! bucket.close()?; // flushes; dropping the bucket closes it too
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), persisting_example::Error>(())
//! ```

use std::ffi::{CStr, CString};
use std::fmt;
use std::os::raw::c_char;

use arrow::array::{Array, RecordBatch, RecordBatchReader, StructArray};
use arrow::datatypes::Schema;
use arrow::ffi::{FFI_ArrowArray, FFI_ArrowSchema};
use arrow::ffi_stream::{ArrowArrayStreamReader, FFI_ArrowArrayStream};

/// The C API, as include/persisting.h declares it.
#[allow(non_camel_case_types)]
pub mod sys {
    use arrow::ffi::{FFI_ArrowArray, FFI_ArrowSchema};
    use arrow::ffi_stream::FFI_ArrowArrayStream;
    use std::os::raw::{c_char, c_int};

    pub const PERSISTING_OK: c_int = 0;
    pub const PERSISTING_EINVALID_ARGUMENT: c_int = 1;
    pub const PERSISTING_EINVALID_HANDLE: c_int = 2;
    pub const PERSISTING_ESCHEMA: c_int = 3;
    pub const PERSISTING_EIO: c_int = 4;
    pub const PERSISTING_ECORRUPT: c_int = 5;
    pub const PERSISTING_EWAL: c_int = 6;
    pub const PERSISTING_EINTERNAL: c_int = 7;
    pub const PERSISTING_EUNSUPPORTED: c_int = 8;
    pub const PERSISTING_ETYPE: c_int = 9;
    pub const PERSISTING_ENOT_FLUSHED: c_int = 10;
    pub const PERSISTING_EBUSY: c_int = 11;

    /// `PersistingError`: zero it before first use (`Default`), release it
    /// with `persisting_error_release` once a call filled it.
    #[repr(C)]
    #[derive(Debug)]
    pub struct PersistingError {
        pub code: c_int,
        pub message: *mut c_char,
    }

    impl Default for PersistingError {
        fn default() -> Self {
            PersistingError {
                code: 0,
                message: std::ptr::null_mut(),
            }
        }
    }

    extern "C" {
        pub fn persisting_error_release(error: *mut PersistingError);
        pub fn persisting_string_free(s: *mut c_char);
        pub fn persisting_version() -> *const c_char;
        pub fn persisting_open(
            path: *const c_char,
            options_json: *const c_char,
            out_handle: *mut u64,
            error: *mut PersistingError,
        ) -> c_int;
        pub fn persisting_close(handle: u64, error: *mut PersistingError) -> c_int;
        pub fn persisting_append(
            handle: u64,
            schema: *mut FFI_ArrowSchema,
            array: *mut FFI_ArrowArray,
            first_offset: *mut i64,
            error: *mut PersistingError,
        ) -> c_int;
        pub fn persisting_append_stream(
            handle: u64,
            stream: *mut FFI_ArrowArrayStream,
            first_offset: *mut i64,
            error: *mut PersistingError,
        ) -> c_int;
        pub fn persisting_append_records(
            handle: u64,
            data: *const u8,
            length: usize,
            first_offset: *mut i64,
            error: *mut PersistingError,
        ) -> c_int;
        pub fn persisting_read(
            handle: u64,
            offset: i64,
            limit: i64,
            out: *mut FFI_ArrowArrayStream,
            error: *mut PersistingError,
        ) -> c_int;
        pub fn persisting_schema(
            handle: u64,
            out: *mut FFI_ArrowSchema,
            error: *mut PersistingError,
        ) -> c_int;
        pub fn persisting_flush(handle: u64, error: *mut PersistingError) -> c_int;
        pub fn persisting_count(
            handle: u64,
            total: *mut i64,
            persisted: *mut i64,
            buffered: *mut i64,
            error: *mut PersistingError,
        ) -> c_int;
        pub fn persisting_stats(
            handle: u64,
            out_json: *mut *mut c_char,
            error: *mut PersistingError,
        ) -> c_int;
        pub fn persisting_compact(
            handle: u64,
            target_rows: i64,
            out_json: *mut *mut c_char,
            error: *mut PersistingError,
        ) -> c_int;
        pub fn persisting_cleanup_old_versions(
            handle: u64,
            older_than_seconds: f64,
            out_json: *mut *mut c_char,
            error: *mut PersistingError,
        ) -> c_int;
        pub fn persisting_versions(
            handle: u64,
            out_json: *mut *mut c_char,
            error: *mut PersistingError,
        ) -> c_int;
        pub fn persisting_read_version(
            handle: u64,
            version: u64,
            offset: i64,
            limit: i64,
            out: *mut FFI_ArrowArrayStream,
            error: *mut PersistingError,
        ) -> c_int;
        pub fn persisting_bucket_metrics(
            handle: u64,
            out_json: *mut *mut c_char,
            error: *mut PersistingError,
        ) -> c_int;
        pub fn persisting_create_index(
            handle: u64,
            column: *const c_char,
            kind: *const c_char,
            out_json: *mut *mut c_char,
            error: *mut PersistingError,
        ) -> c_int;
        pub fn persisting_indices(
            handle: u64,
            out_json: *mut *mut c_char,
            error: *mut PersistingError,
        ) -> c_int;
        pub fn persisting_lookup(
            handle: u64,
            column: *const c_char,
            cond_json: *const c_char,
            out: *mut FFI_ArrowArrayStream,
            error: *mut PersistingError,
        ) -> c_int;
        pub fn persisting_metrics_text(
            out_text: *mut *mut c_char,
            error: *mut PersistingError,
        ) -> c_int;
        pub fn persisting_consumption_take(
            handle: u64,
            task: *const c_char,
            fields_json: *const c_char,
            batch_size: i64,
            out_json: *mut *mut c_char,
            error: *mut PersistingError,
        ) -> c_int;
        pub fn persisting_consumption_ready(
            handle: u64,
            task: *const c_char,
            fields_json: *const c_char,
            out_json: *mut *mut c_char,
            error: *mut PersistingError,
        ) -> c_int;
        pub fn persisting_consumption_mark(
            handle: u64,
            task: *const c_char,
            indexes: *const i64,
            count: i64,
            error: *mut PersistingError,
        ) -> c_int;
        pub fn persisting_consumption_reset(
            handle: u64,
            task: *const c_char,
            error: *mut PersistingError,
        ) -> c_int;
        pub fn persisting_clear(
            handle: u64,
            indexes: *const i64,
            count: i64,
            error: *mut PersistingError,
        ) -> c_int;
        pub fn persisting_live_indexes(
            handle: u64,
            indexes: *const i64,
            count: i64,
            out_json: *mut *mut c_char,
            error: *mut PersistingError,
        ) -> c_int;
        pub fn persisting_check_fields(
            handle: u64,
            fields_json: *const c_char,
            error: *mut PersistingError,
        ) -> c_int;
        pub fn persisting_inspect(
            path: *const c_char,
            options_json: *const c_char,
            out_json: *mut *mut c_char,
            error: *mut PersistingError,
        ) -> c_int;
        pub fn persisting_verify(
            path: *const c_char,
            out_json: *mut *mut c_char,
            error: *mut PersistingError,
        ) -> c_int;
    }
}

/// A failed call: one of the `sys::PERSISTING_E*` codes and the library's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub code: i32,
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "persisting error {}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// Runs one C call with a fresh error struct and turns its status into a Result.
fn call(f: impl FnOnce(*mut sys::PersistingError) -> i32) -> Result<()> {
    let mut err = sys::PersistingError::default();
    let rc = f(&mut err);
    if rc == sys::PERSISTING_OK {
        return Ok(());
    }
    let message = if err.message.is_null() {
        String::new()
    } else {
        // SAFETY: a filled error holds a NUL-terminated string owned by it.
        unsafe { CStr::from_ptr(err.message) }
            .to_string_lossy()
            .into_owned()
    };
    // SAFETY: err was zeroed, then filled by the library: release it once.
    unsafe { sys::persisting_error_release(&mut err) };
    Err(Error { code: rc, message })
}

/// Takes a string that the library allocated and frees it.
fn take_string(s: *mut c_char) -> String {
    if s.is_null() {
        return String::new();
    }
    // SAFETY: a NUL-terminated string returned by the library, freed once here.
    let out = unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned();
    unsafe { sys::persisting_string_free(s) };
    out
}

fn c_string(s: &str, what: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error {
        code: sys::PERSISTING_EINVALID_ARGUMENT,
        message: format!("{what} contains a NUL byte"),
    })
}

/// The library's version string.
pub fn version() -> String {
    // SAFETY: a static NUL-terminated string, not to be freed.
    unsafe { CStr::from_ptr(sys::persisting_version()) }
        .to_string_lossy()
        .into_owned()
}

/// Prometheus text of every bucket opened with `enable_metrics`.
pub fn metrics_text() -> Result<String> {
    let mut out: *mut c_char = std::ptr::null_mut();
    call(|err| unsafe { sys::persisting_metrics_text(&mut out, err) })?;
    Ok(take_string(out))
}

/// Row counts of a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub total: i64,
    pub persisted: i64,
    pub buffered: i64,
}

/// An open bucket. Every call is safe from several threads at once, so a
/// `Bucket` can be shared (`&Bucket` is enough for everything but `close`).
/// Dropping it closes it, ignoring a failed final flush: call [`Bucket::close`]
/// to see that error.
#[derive(Debug)]
pub struct Bucket {
    handle: u64,
}

impl Bucket {
    /// Opens (or creates) the bucket at `path`; `options_json` as in the header,
    /// e.g. `{"bucket_id": 3, "flush_threshold": 1000}`.
    pub fn open(path: &str, options_json: Option<&str>) -> Result<Bucket> {
        let path = c_string(path, "path")?;
        let options = options_json.map(|o| c_string(o, "options")).transpose()?;
        let options_ptr = options.as_ref().map_or(std::ptr::null(), |o| o.as_ptr());
        let mut handle = 0u64;
        call(|err| unsafe { sys::persisting_open(path.as_ptr(), options_ptr, &mut handle, err) })?;
        Ok(Bucket { handle })
    }

    /// The raw handle, for calls through [`sys`].
    pub fn handle(&self) -> u64 {
        self.handle
    }

    /// Appends one record batch, without copying its buffers; returns the
    /// offset of its first row (exact while other threads append too).
    pub fn append(&self, batch: &RecordBatch) -> Result<i64> {
        let mut schema = export_schema(batch.schema().as_ref())?;
        let mut array = FFI_ArrowArray::new(&StructArray::from(batch.clone()).into_data());
        let mut first = 0i64;
        // Both structs are moved into the library, success or not.
        call(|err| unsafe { sys::persisting_append(self.handle, &mut schema, &mut array, &mut first, err) })?;
        Ok(first)
    }

    /// Appends every batch of `reader` as one unit: all of them or none;
    /// returns the offset of the first row, as [`Bucket::append`].
    pub fn append_stream(&self, reader: Box<dyn RecordBatchReader + Send>) -> Result<i64> {
        let mut stream = FFI_ArrowArrayStream::new(reader);
        let mut first = 0i64;
        // The stream is moved into the library, success or not.
        call(|err| unsafe { sys::persisting_append_stream(self.handle, &mut stream, &mut first, err) })?;
        Ok(first)
    }

    /// Reads `limit` rows from row `offset` (limit < 0: to the end), across
    /// flushed and buffered rows, as a snapshot.
    pub fn read(&self, offset: i64, limit: i64) -> Result<ArrowArrayStreamReader> {
        let mut stream = FFI_ArrowArrayStream::empty();
        call(|err| unsafe { sys::persisting_read(self.handle, offset, limit, &mut stream, err) })?;
        import_stream(stream)
    }

    /// Like [`Bucket::read`], on committed Lance version `version` (time
    /// travel): buffered rows belong to no version.
    pub fn read_version(
        &self,
        version: u64,
        offset: i64,
        limit: i64,
    ) -> Result<ArrowArrayStreamReader> {
        let mut stream = FFI_ArrowArrayStream::empty();
        call(|err| unsafe {
            sys::persisting_read_version(self.handle, version, offset, limit, &mut stream, err)
        })?;
        import_stream(stream)
    }

    /// The committed versions, a JSON array of {"version", "timestamp"}, oldest first.
    pub fn versions_json(&self) -> Result<String> {
        self.json_call(|h, out, err| unsafe { sys::persisting_versions(h, out, err) })
    }

    /// Merges small fragments into ones of up to `target_rows` rows (0: Lance's
    /// default) as a new version; JSON with version_before, version,
    /// fragments_before, fragments.
    pub fn compact(&self, target_rows: i64) -> Result<String> {
        self.json_call(|h, out, err| unsafe { sys::persisting_compact(h, target_rows, out, err) })
    }

    /// Removes versions older than `older_than_seconds` (never the newest nor a
    /// tagged one) and the files only they use; JSON counting what went.
    pub fn cleanup_old_versions(&self, older_than_seconds: f64) -> Result<String> {
        self.json_call(|h, out, err| unsafe {
            sys::persisting_cleanup_old_versions(h, older_than_seconds, out, err)
        })
    }

    /// This bucket's metric values as a JSON object ({} without enable_metrics).
    pub fn metrics_json(&self) -> Result<String> {
        self.json_call(|h, out, err| unsafe { sys::persisting_bucket_metrics(h, out, err) })
    }

    /// A call that fills a string the caller frees.
    fn json_call(
        &self,
        f: impl FnOnce(u64, *mut *mut c_char, *mut sys::PersistingError) -> i32,
    ) -> Result<String> {
        let mut out: *mut c_char = std::ptr::null_mut();
        call(|err| f(self.handle, &mut out, err))?;
        Ok(take_string(out))
    }

    /// The bucket's schema (an error with code 3 before the first append).
    pub fn schema(&self) -> Result<Schema> {
        let mut out = FFI_ArrowSchema::empty();
        call(|err| unsafe { sys::persisting_schema(self.handle, &mut out, err) })?;
        Schema::try_from(&out).map_err(|e| Error {
            code: sys::PERSISTING_EINTERNAL,
            message: format!("importing the schema: {e}"),
        })
    }

    /// Writes the buffered rows as a new Lance version.
    pub fn flush(&self) -> Result<()> {
        call(|err| unsafe { sys::persisting_flush(self.handle, err) })
    }

    pub fn count(&self) -> Result<Counts> {
        let mut c = Counts {
            total: 0,
            persisted: 0,
            buffered: 0,
        };
        call(|err| unsafe {
            sys::persisting_count(
                self.handle,
                &mut c.total,
                &mut c.persisted,
                &mut c.buffered,
                err,
            )
        })?;
        Ok(c)
    }

    /// Stats as a JSON object (bucket_id, total_count, persisted_count, ...).
    pub fn stats_json(&self) -> Result<String> {
        self.json_call(|h, out, err| unsafe { sys::persisting_stats(h, out, err) })
    }

    /// Flushes and closes. If the flush fails, the error is returned; with
    /// the WAL the rows are in its log and the bucket is closed all the same.
    /// Without it the library keeps the bucket open with its rows, which this
    /// call gives up to the end of the process: use `try_close` to keep the
    /// bucket and close it again once the cause (a full disk) is gone.
    pub fn close(mut self) -> Result<()> {
        let result = self.try_close();
        self.handle = 0; // Drop does not try again
        result
    }

    /// Flushes and closes, keeping `self` usable when the library keeps the
    /// bucket open (its flush failed and no WAL holds the rows): call it again
    /// later. After it succeeded (or freed the handle) every call fails with
    /// `PERSISTING_EINVALID_HANDLE`.
    pub fn try_close(&mut self) -> Result<()> {
        let result = call(|err| unsafe { sys::persisting_close(self.handle, err) });
        if result.is_ok() || self.count().is_err() {
            self.handle = 0;
        }
        result
    }
}

impl Drop for Bucket {
    fn drop(&mut self) {
        if self.handle != 0 {
            let _ = call(|err| unsafe { sys::persisting_close(self.handle, err) });
        }
    }
}

/// Wraps a stream that the library filled (and the caller now owns).
fn import_stream(stream: FFI_ArrowArrayStream) -> Result<ArrowArrayStreamReader> {
    ArrowArrayStreamReader::try_new(stream).map_err(|e| Error {
        code: sys::PERSISTING_EINTERNAL,
        message: format!("importing the read stream: {e}"),
    })
}

/// A record batch's schema as the struct-typed ArrowSchema the library expects.
fn export_schema(schema: &Schema) -> Result<FFI_ArrowSchema> {
    FFI_ArrowSchema::try_from(schema).map_err(|e| Error {
        code: sys::PERSISTING_EINVALID_ARGUMENT,
        message: format!("exporting the schema: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field};
    use std::sync::Arc;

    /// A fresh bucket path under the temporary directory (removed by `Cleanup`).
    struct Cleanup(std::path::PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    fn bucket_path(test: &str) -> (String, Cleanup) {
        let dir = std::env::temp_dir().join(format!("persisting-rust-{}-{test}", std::process::id()));
        let path = dir.join("bucket_0").to_str().expect("a UTF-8 path").to_string();
        (path, Cleanup(dir))
    }

    fn ids(first: i64, n: i64) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from_iter_values(first..first + n))])
            .expect("a valid batch")
    }

    /// Dropping a bucket closes it: the buffered rows are flushed and the
    /// writer lock is free for the next open. The refused open carries the
    /// engine's code and message.
    #[test]
    fn drop_flushes_and_releases_the_writer_lock() {
        let (path, _cleanup) = bucket_path("drop");
        let bucket = Bucket::open(&path, None).unwrap();
        bucket.append(&ids(0, 3)).unwrap();
        let busy = Bucket::open(&path, None).unwrap_err();
        assert_eq!(busy.code, sys::PERSISTING_EBUSY, "{busy}");
        assert!(busy.message.contains("already open for writing"), "{busy}");
        drop(bucket);
        let bucket = Bucket::open(&path, None).unwrap();
        let counts = bucket.count().unwrap();
        assert_eq!((counts.total, counts.persisted), (3, 3));
    }

    /// A close whose flush fails (the dataset's data directory is a file)
    /// keeps a bucket without the WAL open: `try_close` returns the error and
    /// the bucket still counts its rows; once the cause is gone it closes.
    #[test]
    fn try_close_keeps_the_bucket_when_the_flush_fails() {
        let (path, _cleanup) = bucket_path("try_close");
        let mut bucket = Bucket::open(&path, None).unwrap();
        bucket.append(&ids(0, 5)).unwrap();
        let blocker = std::path::Path::new(&path).join("data.lance").join("data");
        std::fs::create_dir_all(blocker.parent().unwrap()).unwrap();
        std::fs::write(&blocker, b"").unwrap();
        let err = bucket.try_close().unwrap_err();
        assert_eq!(err.code, sys::PERSISTING_EIO, "{err}");
        assert!(err.message.contains("stays open with its 5 unflushed rows"), "{err}");
        assert_eq!(bucket.count().unwrap().total, 5);
        std::fs::remove_file(&blocker).unwrap();
        bucket.try_close().unwrap();
        assert_eq!(bucket.count().unwrap_err().code, sys::PERSISTING_EINVALID_HANDLE);
        let bucket = Bucket::open(&path, None).unwrap();
        assert_eq!(bucket.count().unwrap().persisted, 5);
    }

    /// `Bucket` is Send + Sync: threads append through one `&Bucket`, and it
    /// can be closed on another thread; every row lands once.
    #[test]
    fn one_bucket_shared_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Bucket>();
        let (path, _cleanup) = bucket_path("threads");
        let bucket = Bucket::open(&path, Some(r#"{"flush_threshold": 50}"#)).unwrap();
        std::thread::scope(|s| {
            for t in 0..4i64 {
                let bucket = &bucket;
                s.spawn(move || {
                    for k in 0..25 {
                        bucket.append(&ids(t * 1000 + k * 10, 10)).unwrap();
                    }
                });
            }
        });
        std::thread::spawn(move || bucket.close()).join().unwrap().unwrap();
        let bucket = Bucket::open(&path, None).unwrap();
        let mut seen: Vec<i64> = Vec::new();
        for batch in bucket.read(0, -1).unwrap() {
            let batch = batch.unwrap();
            let col = batch.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
            seen.extend(col.values().iter());
        }
        seen.sort_unstable();
        let want: Vec<i64> = (0..4).flat_map(|t| t * 1000..t * 1000 + 250).collect();
        assert_eq!(seen, want);
    }

    /// A rejected call's error is the engine's: its code and its message.
    #[test]
    fn errors_carry_the_engine_message() {
        let (path, _cleanup) = bucket_path("errors");
        let err = Bucket::open(&path, Some(r#"{"flush_threshold": "ten"}"#)).unwrap_err();
        assert_eq!(err.code, sys::PERSISTING_ETYPE, "{err}");
        assert!(err.message.contains("flush_threshold must be an int"), "{err}");
        let err = Bucket::open("bucket\0path", None).unwrap_err();
        assert_eq!(err.code, sys::PERSISTING_EINVALID_ARGUMENT, "{err}");
    }
}
