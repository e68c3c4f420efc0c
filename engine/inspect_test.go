package engine

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/internal/miniotest"
	"github.com/persisting/persisting/lance"
	"github.com/persisting/persisting/lance/objstore"
)

// walBucket leaves a bucket at a fresh path with two committed versions
// (10 and 5 rows, one WAL entry each) and one more entry (3 rows) only in the
// WAL; the bucket stays open (closing would flush it) until the test ends,
// without an auto flush (which would flush it too, however late).
func walBucket(t *testing.T) (string, *Bucket) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bucket")
	b, err := Open(Options{Path: path, FlushThreshold: 1000, WAL: WALOptions{Enabled: true},
		Background: BackgroundOptions{MaxFlushDelay: -1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	appendRows(t, b, 0, 10)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	appendRows(t, b, 10, 5)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	appendRows(t, b, 15, 3)
	return path, b
}

func TestInspectDescribesDatasetAndWAL(t *testing.T) {
	path, _ := walBucket(t)
	ins, err := Inspect(path, InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := ins.Dataset
	if d == nil {
		t.Fatal("no dataset")
	}
	if d.Version != 2 || d.Rows != 15 || len(d.Fragments) != 2 || d.Fragments[0].Rows != 10 || d.Fragments[1].Rows != 5 {
		t.Fatalf("version %d, rows %d, fragments %+v", d.Version, d.Rows, d.Fragments)
	}
	if d.Retained.Count != 2 || d.Retained.Oldest != 1 || d.Retained.Newest != 2 || len(d.Versions) != 2 {
		t.Fatalf("retained %+v, versions %+v", d.Retained, d.Versions)
	}
	var names []string
	for _, f := range d.Schema {
		names = append(names, f.Name+":"+f.Type)
	}
	if got := strings.Join(names, ","); got != "id:int64,score:float64,ok:bool,name:utf8" {
		t.Fatalf("schema %s", got)
	}
	if d.Bytes <= 0 || d.DiskBytes < d.Bytes || d.Fragments[0].Files[0].Bytes <= 0 {
		t.Fatalf("bytes %d, disk %d, fragment 0 %+v", d.Bytes, d.DiskBytes, d.Fragments[0])
	}
	w := ins.WAL
	if w == nil || d.WALWatermark != 2 || w.Watermark != 2 || w.LastIndex != 3 || w.Pending != 1 || len(w.Damage) != 0 || w.Bytes <= 0 {
		t.Fatalf("watermark %d, wal %+v", d.WALWatermark, w)
	}

	limited, err := Inspect(path, InspectOptions{VersionsLimit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if v := limited.Dataset.Versions; len(v) != 1 || v[0].Version != 2 || limited.Dataset.Retained.Count != 2 {
		t.Fatalf("versions_limit 1: %+v, retained %+v", v, limited.Dataset.Retained)
	}
}

func TestInspectRefusesMissingPathAndDescribesEmptyBucket(t *testing.T) {
	if _, err := Inspect(filepath.Join(t.TempDir(), "nope"), InspectOptions{}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("missing path: %v", err)
	}
	ins, err := Inspect(t.TempDir(), InspectOptions{})
	if err != nil || ins.Dataset != nil || ins.WAL != nil {
		t.Fatalf("empty directory: %+v, %v", ins, err)
	}
}

// firstFile is the path of the first file (by name) in dir.
func firstFile(t *testing.T, dir string) string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil || len(des) == 0 {
		t.Fatalf("%s: %v (%d entries)", dir, err, len(des))
	}
	return filepath.Join(dir, des[0].Name())
}

// lastWALSegment is the path of the WAL's last segment file (20 digits;
// the directory also holds the high-water mark).
func lastWALSegment(t *testing.T, walDir string) string {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(walDir, strings.Repeat("[0-9]", 20)))
	if err != nil || len(segs) == 0 {
		t.Fatalf("%s: no WAL segment (%v)", walDir, err)
	}
	return segs[len(segs)-1]
}

func lastFile(t *testing.T, dir string) string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil || len(des) == 0 {
		t.Fatalf("%s: %v (%d entries)", dir, err, len(des))
	}
	return filepath.Join(dir, des[len(des)-1].Name())
}

func TestVerifyFindsDamage(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, path string) (file string)
		offset func(t *testing.T, file string) int64 // expected offset (nil: any)
		text   string
		only   bool // no other problem may be reported
	}{
		{name: "intact"},
		{
			// The WAL cannot be compared with a dataset whose latest version
			// does not open: no "entries are missing" for the entries the
			// unreadable manifest holds.
			name: "latest manifest cut",
			damage: func(t *testing.T, path string) string {
				f := firstFile(t, filepath.Join(path, DatasetDirName, "_versions")) // V2 names: the latest sorts first
				st, _ := os.Stat(f)
				if err := os.Truncate(f, st.Size()/2); err != nil {
					t.Fatal(err)
				}
				return f
			},
			text: "corrupt dataset",
			only: true,
		},
		{
			name: "data file footer flipped",
			damage: func(t *testing.T, path string) string {
				f := firstFile(t, filepath.Join(path, DatasetDirName, "data"))
				flipByte(t, f, -1) // the last byte: the magic
				return f
			},
			offset: func(t *testing.T, f string) int64 { st, _ := os.Stat(f); return st.Size() - 40 }, // the footer
			text:   "footer or metadata",
		},
		{
			name: "data file truncated",
			damage: func(t *testing.T, path string) string {
				f := firstFile(t, filepath.Join(path, DatasetDirName, "data"))
				st, _ := os.Stat(f)
				if err := os.Truncate(f, st.Size()-100); err != nil {
					t.Fatal(err)
				}
				return f
			},
			offset: func(t *testing.T, f string) int64 { st, _ := os.Stat(f); return st.Size() },
			text:   "manifest records",
		},
		{
			name: "transaction file removed",
			damage: func(t *testing.T, path string) string {
				f := firstFile(t, filepath.Join(path, DatasetDirName, "_transactions"))
				if err := os.Remove(f); err != nil {
					t.Fatal(err)
				}
				return f
			},
			text: "transaction file",
		},
		{
			name: "WAL directory replaced by a file", // an open fails on it
			damage: func(t *testing.T, path string) string {
				f := filepath.Join(path, WALDirName)
				if err := os.RemoveAll(f); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(f, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				return f
			},
			text: "not a directory",
		},
		{
			name: "WAL segment truncated inside its last entry",
			damage: func(t *testing.T, path string) string {
				f := lastWALSegment(t, filepath.Join(path, WALDirName))
				st, _ := os.Stat(f)
				if err := os.Truncate(f, st.Size()-3); err != nil {
					t.Fatal(err)
				}
				return f
			},
			text: "torn tail",
		},
		{
			name: "WAL entry checksum",
			damage: func(t *testing.T, path string) string {
				f := lastWALSegment(t, filepath.Join(path, WALDirName))
				flipByte(t, f, 20) // inside the first entry's payload
				return f
			},
			offset: func(*testing.T, string) int64 { return 0 },
			text:   "checksum mismatch",
		},
		{
			name: "WAL last segment emptied", // the next open warns once, then nothing tells
			damage: func(t *testing.T, path string) string {
				f := lastWALSegment(t, filepath.Join(path, WALDirName))
				if err := os.Truncate(f, 0); err != nil {
					t.Fatal(err)
				}
				return f
			},
			offset: func(*testing.T, string) int64 { return 0 },
			text:   "in neither the log nor the dataset",
		},
		{
			name: "consumption log's last entry flipped", // an open would cut it, forgetting its marks
			damage: func(t *testing.T, path string) string {
				f := filepath.Join(path, ConsumptionLogName)
				flipByte(t, f, -1)
				return f
			},
			text: "entry 2: torn or corrupt",
		},
		{
			name: "consumption log zeroed",
			damage: func(t *testing.T, path string) string {
				f := filepath.Join(path, ConsumptionLogName)
				st, _ := os.Stat(f)
				if err := os.WriteFile(f, make([]byte, st.Size()), 0o644); err != nil {
					t.Fatal(err)
				}
				return f
			},
			offset: func(*testing.T, string) int64 { return 0 },
			text:   "entry 1: torn or corrupt",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path, b := walBucket(t)
			appendRows(t, b, 18, 2)                           // a second entry after the watermark, so a damaged first one is not a tail
			for _, consumed := range [][]int64{{0, 1}, {2}} { // two consumption log entries
				if err := b.MarkConsumed("t", consumed); err != nil {
					t.Fatal(err)
				}
			}
			var file string
			if tc.damage != nil {
				file = tc.damage(t, path)
			}
			alloc := memory.NewCheckedAllocator(memory.DefaultAllocator)
			rep, err := Verify(path, alloc)
			if err != nil {
				t.Fatal(err)
			}
			alloc.AssertSize(t, 0)
			if tc.damage == nil {
				if !rep.OK || len(rep.Problems) != 0 || rep.Dataset.DataFiles != 2 || rep.Dataset.Pages == 0 || rep.WAL.Entries != 2 {
					t.Fatalf("intact bucket: %+v, dataset %+v, wal %+v", rep, rep.Dataset, rep.WAL)
				}
				return
			}
			if rep.OK || len(rep.Problems) == 0 {
				t.Fatalf("damage not found: %+v", rep)
			}
			p := rep.Problems[0]
			if p.File != file || !strings.Contains(p.Message, tc.text) {
				t.Fatalf("problem %+v, want file %s and %q", p, file, tc.text)
			}
			if tc.only && len(rep.Problems) != 1 {
				t.Fatalf("problems %+v, want only the first", rep.Problems)
			}
			if tc.offset != nil && p.Offset != tc.offset(t, file) {
				t.Fatalf("offset %d, want %d", p.Offset, tc.offset(t, file))
			}
		})
	}
}

func flipByte(t *testing.T, path string, at int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if at < 0 {
		at += int64(len(data))
	}
	data[at] ^= 0xff
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadOnlyOpenReadsAndRefusesWrites(t *testing.T) {
	path, _ := walBucket(t)
	walSizes := func() map[string]int64 {
		out := map[string]int64{}
		des, _ := os.ReadDir(filepath.Join(path, WALDirName))
		for _, de := range des {
			info, _ := de.Info()
			out[de.Name()] = info.Size()
		}
		return out
	}
	before := walSizes()
	ro, err := Open(Options{Path: path, ReadOnly: true, WAL: WALOptions{Enabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	if got := readIDs(t, ro, 0, -1); !equalInts(got, seq(0, 15)) {
		t.Fatalf("read-only bucket reads %v, want the 15 committed rows", got)
	}
	writes := map[string]func() error{
		"append": func() error {
			rec := makeRows(t, memory.DefaultAllocator, 0, 1)
			defer rec.Release()
			return ro.Append(rec)
		},
		"compact": func() error { _, err := ro.Compact(0); return err },
		"cleanup": func() error { _, err := ro.CleanupOldVersions(0); return err },
		"index":   func() error { _, err := ro.CreateIndex("id", "BTREE"); return err },
	}
	for name, write := range writes {
		if err := write(); !errors.Is(err, ErrReadOnly) {
			t.Errorf("%s on a read-only bucket: %v, want ErrReadOnly", name, err)
		}
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	after := walSizes()
	if len(after) != len(before) {
		t.Fatalf("WAL files changed: %v -> %v", before, after)
	}
	for name, size := range before {
		if after[name] != size {
			t.Fatalf("WAL files changed: %v -> %v", before, after)
		}
	}

	missing := filepath.Join(t.TempDir(), "missing")
	if _, err := Open(Options{Path: missing, ReadOnly: true}); err == nil {
		t.Fatal("read-only open of a missing path succeeded")
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("read-only open created %s", missing)
	}
}

// Inspect and Verify read an s3:// bucket through the object store: the
// same description as a local one (no WAL: it lives on the writer's disk),
// and damage reported with the object's URL.
func TestInspectAndVerifyOnS3(t *testing.T) {
	srv := miniotest.Start(t, "inspect-test")
	path := "s3://inspect-test/queue/bucket_0"
	b, err := Open(Options{Path: path, StorageOptions: srv.Options(), FlushThreshold: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int64{10, 5} {
		appendRows(t, b, 0, n)
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	for _, at := range []string{path, path + "/data.lance"} { // a bucket, and its dataset
		ins, err := Inspect(at, InspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		d := ins.Dataset
		if d == nil || d.Path != path+"/data.lance" || d.Version != 2 || d.Rows != 15 || len(d.Fragments) != 2 || ins.WAL != nil {
			t.Fatalf("%s: %+v", at, ins)
		}
		if d.Fragments[0].Bytes <= 0 || d.DiskBytes <= d.Bytes {
			t.Fatalf("%s: bytes %d, disk %d, fragment %+v", at, d.Bytes, d.DiskBytes, d.Fragments[0])
		}
	}
	rep, err := Verify(path, nil)
	if err != nil || !rep.OK || rep.Dataset.DataFiles != 2 || rep.Dataset.Pages == 0 {
		t.Fatalf("verify intact: %+v, %v", rep, err)
	}
	victim := path + "/data.lance/data/" + firstDataFile(t, path)
	if err := objstore.Remove(victim); err != nil {
		t.Fatal(err)
	}
	rep, err = Verify(path, nil)
	if err != nil || rep.OK || len(rep.Problems) != 1 || rep.Problems[0].File != victim {
		t.Fatalf("verify with %s removed: %+v, %v", victim, rep, err)
	}
	if err := objstore.Configure("s3://no-such-bucket", srv.Options()); err != nil {
		t.Fatal(err)
	}
	if _, err := Inspect("s3://no-such-bucket/q", InspectOptions{}); err == nil || !strings.Contains(err.Error(), "NoSuchBucket") {
		t.Fatalf("a missing S3 bucket: %v", err)
	}
}

func firstDataFile(t *testing.T, path string) string {
	t.Helper()
	ds, err := lance.Open(path + "/data.lance")
	if err != nil {
		t.Fatal(err)
	}
	return ds.Fragments()[0].Files[0].Path
}
