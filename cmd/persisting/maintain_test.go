package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance"
)

// queueOfTwo writes a queue directory whose two buckets hold two
// one-row fragments each (two versions).
func queueOfTwo(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	schema := arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	for _, bucket := range []string{"bucket_0", "bucket_1"} {
		for n := int64(0); n < 2; n++ {
			b := array.NewInt64Builder(memory.DefaultAllocator)
			b.Append(n)
			col := b.NewArray()
			rec := array.NewRecord(schema, []arrow.Array{col}, 1)
			if _, err := lance.Write(filepath.Join(root, bucket, datasetDir), []arrow.Record{rec}, lance.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			rec.Release()
			col.Release()
			b.Release()
		}
	}
	return root
}

func versionOf(t *testing.T, bucket string) uint64 {
	t.Helper()
	ds, err := lance.Open(filepath.Join(bucket, datasetDir))
	if err != nil {
		t.Fatal(err)
	}
	return ds.Version()
}

// An interrupt stops compact and cleanup before the next bucket (the one in
// hand is finished and closed first): status 130, the buckets not reached
// named, and left as they were.
func TestMaintenanceStopsBetweenBucketsWhenInterrupted(t *testing.T) {
	for _, cmd := range []struct {
		name string
		run  func(*env, string) (int, error)
	}{{"compact", runCompact}, {"cleanup", runCleanup}} {
		t.Run(cmd.name, func(t *testing.T) {
			root := queueOfTwo(t)
			interrupted := make(chan struct{})
			close(interrupted)
			var stdout, stderr bytes.Buffer
			e := &env{stdout: &stdout, stderr: &stderr, command: cmd.name, interrupted: interrupted,
				s: settings{olderThan: 0}}
			status, err := cmd.run(e, root)
			if err != nil || status != exitInterrupted {
				t.Fatalf("status %d, %v", status, err)
			}
			want := "persisting " + cmd.name + ": interrupted; 2 buckets not done, from " + filepath.Join(root, "bucket_0")
			if !strings.Contains(stderr.String(), want) || stdout.Len() != 0 {
				t.Fatalf("stdout %q, stderr %q", stdout.String(), stderr.String())
			}
			for _, b := range []string{"bucket_0", "bucket_1"} {
				if v := versionOf(t, filepath.Join(root, b)); v != 2 {
					t.Errorf("%s at version %d after an interrupted %s", b, v, cmd.name)
				}
			}
		})
	}
}

func TestCompactReportsEachBucket(t *testing.T) {
	root := queueOfTwo(t)
	var stdout, stderr bytes.Buffer
	e := &env{stdout: &stdout, stderr: &stderr, command: "compact", interrupted: make(chan struct{})}
	if status, err := runCompact(e, root); err != nil || status != exitOK {
		t.Fatalf("status %d, %v; stderr %q", status, err, stderr.String())
	}
	want := filepath.Join(root, "bucket_0") + ": 2 -> 1 fragment, version 2 -> 3\n" +
		filepath.Join(root, "bucket_1") + ": 2 -> 1 fragment, version 2 -> 3\n"
	if stdout.String() != want || stderr.Len() != 0 {
		t.Fatalf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}
