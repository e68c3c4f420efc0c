package main

// command is one subcommand: its manual and its options.
type command struct {
	name, summary, description, examples string
	flags                                []*flagSpec
	s                                    *settings // the flags write here
	run                                  func(e *env, path string) (int, error)
}

const exitCodes = `exit status:
  0  success (verify: no problem found)
  1  verify found problems (each printed with its file and byte offset)
  2  usage error: bad arguments or storage options, or PATH holds no bucket
  3  the command failed (an I/O, access or engine error, printed on stderr;
     the other buckets of a queue directory are still done)
  130  interrupted (Ctrl-C) while a command ran; tail --follow ends with 0`

const pathsHelp = `PATH is one bucket directory (it holds data.lance/ and, with the WAL, wal/),
a Lance dataset directory (one with _versions/, e.g. written by pylance), or a
queue directory whose bucket_N/ subdirectories are buckets (pulsing stores the
buckets of a queue so); inspect, verify, compact and cleanup then act on every
bucket in it, tail needs one bucket.

PATH is a local directory, a file:// URL or an s3://bucket/prefix URL, as the
backends' storage_path. For s3:// the endpoint and credentials come from
--storage-options / --storage-option (pylance's storage_options keys:
aws_endpoint, aws_region, aws_access_key_id, aws_secret_access_key,
aws_session_token, allow_http, ...) on top of the AWS_* environment variables.
An s3:// bucket's write-ahead log lives on the writer's local disk (wal_path),
so inspect and verify see its dataset only.`

func buildCommands() []*command {
	s := &settings{limit: -1, poll: 1, batch: 1000, olderThan: 7 * 86400}
	jsonFlag := func(help string) *flagSpec {
		return &flagSpec{long: "--json", help: help, kind: flagBool, set: func(string) error { s.json = true; return nil }}
	}
	progress := &flagSpec{long: "--progress", kind: flagBoolOrNot,
		help: "show (or hide) the progress bar; default: shown when stderr is a terminal",
		set:  func(v string) error { b := v == "true"; s.progress = &b; return nil }}
	storage := s.storage.flags()

	inspect := &command{name: "inspect", s: s, run: runInspect,
		summary: "Describe buckets: versions, fragments, rows, bytes, schema, indices, WAL.",
		description: `Prints, for each bucket, the newest dataset version and when it was committed, the
range of versions still kept (time travel reaches them), rows, fragments and their
files with sizes, the schema, the scalar indices, and the write-ahead log: its
segments, the entries they hold, the watermark (the last entry the dataset
contains) and how many entries the next open will replay. Reads only.`,
		examples: `  persisting inspect /data/events/bucket_0
  persisting inspect /data/events --json | jq '.[].dataset.rows'
  persisting inspect /data/events/bucket_0 --versions 5
  persisting inspect s3://queues/events --storage-option aws_endpoint=http://127.0.0.1:9000`,
		flags: append([]*flagSpec{
			jsonFlag("print one JSON document (an object for a bucket, a list for a queue directory)"),
			{long: "--versions", metavar: "N", kind: flagValue, help: "list only the newest N versions (default: all with --json, else 10)",
				set: func(v string) (err error) { s.versions, err = parsePositiveInt(v); return }},
			{long: "--all-fragments", kind: flagBool, help: "list every fragment (default: the first and last 5)",
				set: func(string) error { s.all = true; return nil }},
		}, storage...)}

	verify := &command{name: "verify", s: s, run: runVerify,
		summary: "Check every data page and every WAL entry; exit 1 on damage.",
		description: `Reads every page of every column of every data file that any kept version uses,
every deletion file, checks that manifests decode and transaction and index files
exist, and checks the CRC of every write-ahead log entry. Each problem is printed
with its file and a byte offset: of the damaged page, WAL entry or file metadata,
or where a file ends too early. Nothing is changed.
Lance data files carry no checksums: damage to a file's structure (footer,
metadata, page layout, compressed pages, sizes) is found, a flipped bit inside a
plain value is not. A torn WAL tail (a write cut by a crash, never acknowledged)
is reported too; the next open of the bucket cuts it off.`,
		examples: `  persisting verify /data/events/bucket_0
  persisting verify /data/events --quiet || alert 'queue damaged'
  persisting verify /data/events --json > report.json`,
		flags: append([]*flagSpec{
			jsonFlag("print the full report as JSON"),
			{long: "--quiet", short: "-q", kind: flagBool, help: "print only the status and the problems",
				set: func(string) error { s.quiet = true; return nil }},
		}, storage...)}

	tail := &command{name: "tail", s: s, run: runTail,
		summary: "Print a bucket's records as JSON lines, like a console consumer.",
		description: `Prints the committed records of one bucket, one JSON object per line, from an
offset on. The bucket is opened read-only: nothing is replayed or written, and
records still only in the writer's memory or WAL are not shown until a flush
commits them. With --follow, polls for newly committed versions and prints their
records until interrupted (Ctrl-C or SIGTERM end it with status 0). Binary
values are printed as base64 text, times in ISO 8601, decimals as text, NaN and
infinities as strings.`,
		examples: `  persisting tail /data/events/bucket_0
  persisting tail /data/events/bucket_0 --from 1000 --limit 10
  persisting tail /data/events/bucket_0 --from -5 --follow --poll 0.5
  persisting tail /data/events/bucket_0 --offsets | jq -c '.offset'`,
		flags: append([]*flagSpec{
			{long: "--from", metavar: "OFFSET", kind: flagValue,
				help: "first offset to print; negative counts back from the end (default 0)",
				set:  func(v string) (err error) { s.from, err = parseInt(v); return }},
			{long: "--limit", metavar: "N", kind: flagValue, help: "stop after N records",
				set: func(v string) (err error) { s.limit, err = parseNonNegativeInt(v); return }},
			{long: "--follow", short: "-f", kind: flagBool, help: "keep printing newly committed records",
				set: func(string) error { s.follow = true; return nil }},
			{long: "--poll", metavar: "SECONDS", kind: flagValue,
				help: "with --follow: how often to look for new versions (default 1)",
				set:  func(v string) (err error) { s.poll, err = parsePositiveSeconds(v); return }},
			{long: "--offsets", kind: flagBool, help: `print {"offset": N, "record": {...}} per line`,
				set: func(string) error { s.offsets = true; return nil }},
			{long: "--batch", metavar: "N", kind: flagValue, help: "records read per call (default 1000; fewer when records are large)",
				set: func(v string) (err error) { s.batch, err = parsePositiveInt(v); return }},
		}, storage...)}

	compact := &command{name: "compact", s: s, run: runCompact,
		summary: "Merge small fragments into large ones (a new version).",
		description: `Rewrites each bucket's small adjacent fragments into fragments of up to
--target-rows rows, as one new dataset version; row order and offsets stay, older
versions stay readable until cleanup removes them. Opens the bucket as its writer
(rows its WAL still holds are committed first): stop the queue first; a bucket
open for writing elsewhere is refused as busy (status 3).`,
		examples: `  persisting compact /data/events/bucket_0
  persisting compact /data/events --target-rows 100000`,
		flags: append([]*flagSpec{
			{long: "--target-rows", metavar: "N", kind: flagValue,
				help: "rows per compacted fragment (default 0: Lance's default, 1Mi)",
				set:  func(v string) (err error) { s.targetRows, err = parseNonNegativeInt(v); return }},
			jsonFlag("print one JSON object per bucket"),
			progress,
		}, storage...)}

	cleanup := &command{name: "cleanup", s: s, run: runCleanup,
		summary: "Remove old dataset versions and the files only they use.",
		description: `Removes the versions committed longer ago than --older-than (never the newest,
never a tagged one) and the data, deletion and transaction files no kept version
uses; time travel to them ends. Opens the bucket as its writer (rows its WAL still
holds are committed first): stop the queue first; a bucket open for writing
elsewhere is refused as busy (status 3).`,
		examples: `  persisting cleanup /data/events/bucket_0 --older-than 7d
  persisting cleanup /data/events --older-than 0   # keep only the newest version`,
		flags: append([]*flagSpec{
			{long: "--older-than", metavar: "AGE", kind: flagValue,
				help: "age of the versions to remove: seconds, or with a unit s, m, h, d, w (default 7d)",
				set:  func(v string) (err error) { s.olderThan, err = parseAge(v); return }},
			jsonFlag("print one JSON object per bucket"),
			progress,
		}, storage...)}
	return []*command{inspect, verify, tail, compact, cleanup}
}

func commandNames(cs []*command) string {
	out := ""
	for i, c := range cs {
		if i > 0 {
			out += ", "
		}
		out += c.name
	}
	return out
}
