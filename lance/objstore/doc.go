// Package objstore is where the lance package reads and writes bytes: a
// local directory tree or an S3-compatible object store.
//
// Paths are strings. A path that starts with "s3://bucket/key" names an
// object; any other path is a local file. Resolve maps a path to its Store
// and the key within it. Build paths with JoinURL, not filepath.Join: the
// latter folds "s3://" to "s3:/", which Resolve still reads but messages
// would then print.
//
// An S3 store's endpoint and credentials come from Configure (the storage
// options a caller opened its dataset with, in pylance's vocabulary) and
// otherwise from the standard AWS environment variables; see Config.
//
// What each store guarantees:
//
//   - PutIfAbsent creates an object only if no object has its key (S3: a
//     PUT with "If-None-Match: *", answered 412 when the key exists, as
//     Lance's ConditionalPutCommitHandler commits; local: link(2)). It is
//     the one operation a commit relies on.
//   - Create streams a new object: one PUT when it stays under the part
//     size, a multipart upload otherwise; nothing is visible before Close.
//   - List walks the keys under a directory in lexical order and stops when
//     the callback says so: a V2-named _versions/ yields its newest version
//     first, so finding the latest version costs one LIST request.
//   - OpenRange reads an object by ranges: the tail of the object is fetched
//     once on open (Lance files keep their metadata there), and a Prefetch of
//     many ranges becomes a few coalesced GETs.
//
// The S3 client is a minimal SigV4 client on net/http rather than a
// library: the AWS SDK for Go v2 does support If-None-Match on PutObject
// (since 2024), but brings a dozen modules for the handful of calls used
// here, and a conditional PUT answered 412 after a retry must be told
// apart from a lost race, which needs control of the retry loop (see
// S3.PutIfAbsent). The signature is checked against the examples of the
// S3 documentation (s3_sign_test.go).
//
// Errors name the URL and the operation; ErrNotExist and ErrExist can be
// tested with errors.Is. Requests that failed in a way S3 allows to retry
// (5xx, 429/SlowDown, timeouts, broken connections) are retried with
// jittered exponential backoff; 403 and 404 are not.
package objstore
