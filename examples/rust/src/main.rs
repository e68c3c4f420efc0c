//! Example and check of the Rust client (src/lib.rs): appends record batches
//! (int64/float64/bool/utf8, with nulls) one by one and as a stream, flushes in
//! between, reads ranges across flushed and buffered rows through an
//! ArrowArrayStreamReader and checks every value, then checks the error paths.
//! Exits non-zero on any mismatch.
//!
//! Also: versions, time travel to the first flush, compaction, cleanup.
//!
//!   ./build.sh && cd examples/rust && cargo run
use std::process::ExitCode;
use std::sync::Arc;

use arrow::array::{
    Array, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch, RecordBatchIterator,
    RecordBatchReader, StringArray,
};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::ffi_stream::ArrowArrayStreamReader;
use persisting_example::{metrics_text, sys, version, Bucket};

// ---- the data: row `id` of the bucket is a pure function of id

fn score(id: i64) -> Option<f64> {
    (id % 7 != 3).then_some(id as f64 * 0.25)
}
fn ok(id: i64) -> Option<bool> {
    (id % 11 != 5).then_some(id % 3 == 0)
}
fn name(id: i64) -> Option<String> {
    (id % 5 != 0).then(|| format!("név-{id}"))
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("score", DataType::Float64, true),
        Field::new("ok", DataType::Boolean, true),
        Field::new("name", DataType::Utf8, true),
    ]))
}

/// Rows [first, first + n).
fn make_batch(first: i64, n: usize) -> RecordBatch {
    let ids: Vec<i64> = (first..first + n as i64).collect();
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from(ids.clone())),
            Arc::new(ids.iter().map(|&i| score(i)).collect::<Float64Array>()),
            Arc::new(ids.iter().map(|&i| ok(i)).collect::<BooleanArray>()),
            Arc::new(ids.iter().map(|&i| name(i)).collect::<StringArray>()),
        ],
    )
    .expect("a valid batch")
}

// ---- checks

#[derive(Default)]
struct Checks {
    passed: usize,
    failed: usize,
}

impl Checks {
    fn check(&mut self, cond: bool, what: impl FnOnce() -> String) {
        if cond {
            self.passed += 1;
        } else {
            self.failed += 1;
            eprintln!("FAIL: {}", what());
        }
    }

    /// Reads [offset, offset + limit) and checks every value; `want` rows expected.
    fn read_range(&mut self, bucket: &Bucket, offset: i64, limit: i64, want: i64) {
        self.check_rows(bucket.read(offset, limit), offset, limit, want);
    }

    /// Checks every row that `read` (a read of [offset, offset + limit)) yields.
    fn check_rows(
        &mut self,
        read: persisting_example::Result<ArrowArrayStreamReader>,
        offset: i64,
        limit: i64,
        want: i64,
    ) {
        let reader = match read {
            Ok(r) => r,
            Err(e) => return self.check(false, || format!("read({offset}, {limit}): {e}")),
        };
        let got_schema = reader.schema();
        self.check(same_columns(&got_schema, &schema()), || {
            format!("read schema {got_schema:?}")
        });
        let mut row = offset;
        for batch in reader {
            let batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    return self.check(false, || format!("read({offset}, {limit}) batch: {e}"))
                }
            };
            let ids = batch.column(0).as_primitive::<Int64Type>();
            let scores = batch.column(1).as_primitive::<Float64Type>();
            let oks = batch.column(2).as_boolean();
            let names = batch.column(3).as_string::<i32>();
            for i in 0..batch.num_rows() {
                let id = row + i as i64;
                let got_id = ids.is_valid(i).then(|| ids.value(i));
                self.check(got_id == Some(id), || format!("id at row {id}: {got_id:?}"));
                let got = scores.is_valid(i).then(|| scores.value(i));
                self.check(got == score(id), || {
                    format!("score at row {id}: {got:?}, want {:?}", score(id))
                });
                let got = oks.is_valid(i).then(|| oks.value(i));
                self.check(got == ok(id), || {
                    format!("ok at row {id}: {got:?}, want {:?}", ok(id))
                });
                let got = names.is_valid(i).then(|| names.value(i).to_string());
                self.check(got == name(id), || {
                    format!("name at row {id}: {got:?}, want {:?}", name(id))
                });
            }
            row += batch.num_rows() as i64;
        }
        self.check(row - offset == want, || {
            format!(
                "read({offset}, {limit}) gave {} rows, want {want}",
                row - offset
            )
        });
    }

    /// Expects `result` to be an error with `code` and a message.
    fn expect_error<T>(&mut self, result: persisting_example::Result<T>, code: i32, what: &str) {
        match result {
            Ok(_) => self.check(false, || format!("{what}: succeeded, want error {code}")),
            Err(e) => {
                println!("  {what} -> error {}: {}", e.code, e.message);
                self.check(e.code == code, || {
                    format!("{what}: code {}, want {code}", e.code)
                });
                self.check(!e.message.is_empty(), || format!("{what}: no message"));
            }
        }
    }

    fn expect_counts(
        &mut self,
        bucket: &Bucket,
        total: i64,
        persisted: i64,
        buffered: i64,
        when: &str,
    ) {
        match bucket.count() {
            Ok(c) => self.check(
                c.total == total && c.persisted == persisted && c.buffered == buffered,
                || format!("{when}: counts {c:?}, want {total}/{persisted}/{buffered}"),
            ),
            Err(e) => self.check(false, || format!("{when}: count: {e}")),
        }
    }
}

/// The unsigned integer after `"key":` in a flat JSON object (enough for stats).
fn json_u64(json: &str, key: &str) -> Option<u64> {
    let at = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let digits: String = json[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

fn same_columns(a: &Schema, b: &Schema) -> bool {
    a.fields().len() == b.fields().len()
        && a.fields()
            .iter()
            .zip(b.fields())
            .all(|(x, y)| x.name() == y.name() && x.data_type() == y.data_type())
}

fn run(c: &mut Checks, path: &str) -> persisting_example::Result<()> {
    let options = r#"{"bucket_id": 42, "flush_threshold": 100000, "enable_metrics": true}"#;
    let bucket = Bucket::open(path, Some(options))?;

    // rows 0..200, flushed: a new Lance version
    let first = bucket.append(&make_batch(0, 200))?;
    c.check(first == 0, || format!("first append at offset {first}, want 0"));
    bucket.flush()?;
    let first_version = json_u64(&bucket.stats_json()?, "version");
    c.check(first_version.is_some(), || "stats without a version".into());
    let first_version = first_version.unwrap_or(0);
    // rows 200..300, buffered: a slice of a larger batch, so every column has an offset
    let first = bucket.append(&make_batch(150, 250).slice(50, 100))?;
    c.check(first == 200, || format!("second append at offset {first}, want 200"));
    // rows 300..400, buffered: two batches appended as one unit through a stream
    let batches = vec![Ok(make_batch(300, 40)), Ok(make_batch(340, 60))];
    let first = bucket.append_stream(Box::new(RecordBatchIterator::new(batches, schema())))?;
    c.check(first == 300, || format!("the stream at offset {first}, want 300"));
    c.expect_counts(&bucket, 400, 200, 200, "after the appends");

    c.read_range(&bucket, 150, 200, 200); // across flushed and buffered rows
    c.read_range(&bucket, 0, -1, 400);
    c.read_range(&bucket, 390, 50, 10);
    c.read_range(&bucket, 1000, 10, 0);

    let got = bucket.schema()?;
    c.check(same_columns(&got, &schema()), || {
        format!("bucket schema {got:?}")
    });

    let stats = bucket.stats_json()?;
    println!("  stats: {stats}");
    c.check(
        stats.contains("\"total_count\":400") && stats.contains("\"bucket_id\":42"),
        || format!("stats: {stats}"),
    );

    let metrics = metrics_text()?;
    c.check(
        metrics.contains("persisting_records_total{bucket=\"42\"") && metrics.contains("} 400\n"),
        || format!("metrics: {metrics}"),
    );

    // ---- error paths: each an error with a code and a message, nothing kept
    let wrong = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false), // id as a string
        Field::new("score", DataType::Float64, true),
        Field::new("ok", DataType::Boolean, true),
        Field::new("name", DataType::Utf8, true),
    ]));
    let bad = RecordBatch::try_new(
        wrong.clone(),
        vec![
            Arc::new(StringArray::from(vec!["x"])),
            Arc::new(Float64Array::from(vec![1.0])),
            Arc::new(BooleanArray::from(vec![true])),
            Arc::new(StringArray::from(vec!["y"])),
        ],
    )
    .expect("a valid batch");
    c.expect_error(
        bucket.append(&bad),
        sys::PERSISTING_ESCHEMA,
        "append with a mismatching schema",
    );
    let stream = RecordBatchIterator::new(vec![Ok(bad.clone())], wrong);
    c.expect_error(
        bucket.append_stream(Box::new(stream)),
        sys::PERSISTING_ESCHEMA,
        "append_stream with a mismatching schema",
    );
    // a stream that fails after its first batch: the whole unit is refused
    let failing = vec![
        Ok(make_batch(400, 10)),
        Err(ArrowError::ComputeError("the producer gave up".into())),
    ];
    match bucket.append_stream(Box::new(RecordBatchIterator::new(failing, schema()))) {
        Ok(_) => c.check(false, || "a failing stream was accepted".into()),
        Err(e) => println!(
            "  append_stream of a failing stream -> error {}: {}",
            e.code, e.message
        ),
    }
    c.expect_error(
        bucket.read(-1, 10),
        sys::PERSISTING_EINVALID_ARGUMENT,
        "read at a negative offset",
    );
    c.expect_error(
        Bucket::open(path, Some(r#"{"no_such_option": 1}"#)),
        sys::PERSISTING_EINVALID_ARGUMENT,
        "unknown option",
    );
    c.expect_counts(&bucket, 400, 200, 200, "after the refused appends");
    c.read_range(&bucket, 0, -1, 400);

    // ---- close flushes; the raw handle is dead afterwards (the sys layer, by hand)
    let raw = bucket.handle();
    bucket.close()?;
    let mut err = sys::PersistingError::default();
    let rc = unsafe { sys::persisting_flush(raw, &mut err) };
    c.check(
        rc == sys::PERSISTING_EINVALID_HANDLE && err.code == rc && !err.message.is_null(),
        || format!("flush after close: {rc}"),
    );
    unsafe { sys::persisting_error_release(&mut err) };
    c.check(err.message.is_null() && err.code == 0, || {
        "error_release zeroes the error".into()
    });

    // ---- a new handle on the same path recovers everything, all of it persisted
    let bucket = Bucket::open(path, Some(options))?;
    c.expect_counts(&bucket, 400, 400, 0, "after reopening");
    c.read_range(&bucket, 0, -1, 400);
    c.read_range(&bucket, 199, 2, 2);

    // ---- versions: the first flush is still readable as it was (time travel)
    let versions = bucket.versions_json()?;
    println!("  versions: {versions}");
    let listed = versions.matches("\"version\":").count();
    c.check(listed >= 2, || format!("versions: {versions}"));
    c.check_rows(bucket.read_version(first_version, 0, -1), 0, -1, 200);
    c.check_rows(bucket.read_version(first_version, 150, 100), 150, 100, 50);
    // the header names no code for a missing version: any error with a message
    match bucket.read_version(first_version + 1000, 0, -1) {
        Ok(_) => c.check(false, || {
            "read_version of a missing version succeeded".into()
        }),
        Err(e) => {
            println!(
                "  read_version of a missing version -> error {}: {}",
                e.code, e.message
            );
            c.check(!e.message.is_empty(), || "read_version: no message".into());
        }
    }
    // compaction rewrites fragments as a new version, rows and order unchanged
    let compacted = bucket.compact(0)?;
    println!("  compact: {compacted}");
    c.read_range(&bucket, 0, -1, 400);
    // nothing is an hour old yet: cleanup keeps every version
    let cleaned = bucket.cleanup_old_versions(3600.0)?;
    println!("  cleanup_old_versions: {cleaned}");
    c.check_rows(bucket.read_version(first_version, 0, -1), 0, -1, 200);
    let metrics = bucket.metrics_json()?;
    c.check(
        metrics.starts_with('{') && metrics.contains("persisting_"),
        || format!("bucket metrics: {metrics}"),
    );
    bucket.close()
}

fn main() -> ExitCode {
    let dir = std::env::temp_dir().join(format!("persisting-rust-example-{}", std::process::id()));
    let path = dir.join("bucket_0");
    let path = path.to_str().expect("a UTF-8 temporary path");
    println!("persisting {} at {path}", version());

    let mut c = Checks::default();
    if let Err(e) = run(&mut c, path) {
        c.check(false, || format!("unexpected {e}"));
    }
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        eprintln!("could not remove {}: {e}", dir.display());
    }
    println!("example-rust: {} passed, {} failed", c.passed, c.failed);
    if c.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
