package engine

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance"
)

// pylanceWrite has pylance write five rows of testSchema (plus, with
// "vector": true, a fixed_size_list<float32, 2> column "vector"; with
// "tags": true, a list<string> column "tags" with a null and an empty list;
// with "point": true, a struct column "point") as the dataset of the bucket
// at dir, with the other options as write_dataset keyword arguments.
func pylanceWrite(t *testing.T, dir, options string) {
	t.Helper()
	const script = `
import json, sys, lance, pyarrow as pa
path, kw = sys.argv[1], json.loads(sys.argv[2])
n = 5
t = pa.table({"id": pa.array(range(n), pa.int64()), "score": [i / 2 for i in range(n)],
              "ok": [i % 2 == 0 for i in range(n)], "name": [f"n{i}" for i in range(n)]})
if kw.pop("vector", False):
    t = t.append_column("vector", pa.FixedSizeListArray.from_arrays(pa.array([float(i) for i in range(2 * n)], pa.float32()), 2))
if kw.pop("tags", False):
    t = t.append_column("tags", pa.array([None, [], ["a"], ["b", None], ["c"]], pa.list_(pa.string())))
if kw.pop("point", False):
    t = t.append_column("point", pa.array([{"a": i} for i in range(n)], pa.struct([("a", pa.int64())])))
lance.write_dataset(t, path, **kw)
`
	runPython(t, "pylance write "+options, script, filepath.Join(dir, DatasetDirName), options)
}

// TestUnappendableDatasetRefusesPuts: a bucket over a dataset pylance wrote
// that our writer can never append to (so every flush would fail) refuses
// appends up front with the reason, which stats() shows as read_only; it
// accepts nothing (the WAL stays empty, a reopen finds no extra row) and
// still reads what can be read. A plain dataset is the control: it appends.
func TestUnappendableDatasetRefusesPuts(t *testing.T) {
	tests := []struct {
		name, options string
		want          []string // in the refusal and in read_only; none: appendable
		readErr       string   // "" when the rows read
	}{
		{"appendable-2.0", `{"data_storage_version": "2.0"}`, nil, ""},
		{"stable-row-ids", `{"enable_stable_row_ids": true}`,
			[]string{"writer feature flag 2 (stable row ids)"}, ""},
		{"stable-row-ids-2.1", `{"enable_stable_row_ids": true, "data_storage_version": "2.1"}`,
			[]string{"writer feature flag 2 (stable row ids)"}, ""},
		{"vector-and-list-in-2.0", `{"data_storage_version": "2.0", "vector": true, "tags": true}`, nil, ""},
		{"struct-in-2.0", `{"data_storage_version": "2.0", "point": true}`,
			[]string{`field "point"`, "need file version 2.1 or later", "not 2.0"}, ""},
		{"legacy-0.1", `{"data_storage_version": "legacy"}`,
			[]string{"data storage version is 0.1"}, "persisting does not read data storage version 0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			pylanceWrite(t, dir, tt.options)
			opts := Options{Path: dir, FlushThreshold: 1, WAL: WALOptions{Enabled: true}}
			b, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { b.Close() }()
			// Append what the bucket reads (the dataset's own schema), or
			// testSchema's rows where nothing reads.
			_, recs, readErr := b.Read(0, -1, memory.DefaultAllocator)
			defer func() { releaseAll(recs) }()
			checkReadErr(t, readErr, tt.readErr, recs)
			if readErr != nil {
				recs = []arrow.Record{makeRows(t, memory.DefaultAllocator, 5, 5)}
			}
			err = b.AppendBatches(recs)
			s, serr := b.Stats()
			if serr != nil {
				t.Fatal(serr)
			}
			if len(tt.want) == 0 {
				if err != nil || s.ReadOnly != "" {
					t.Fatalf("control: append %v, read_only %q", err, s.ReadOnly)
				}
				if err := b.Flush(); err != nil {
					t.Fatal(err)
				}
				if got := pylanceIDs(t, filepath.Join(dir, DatasetDirName)); len(got) != 10 {
					t.Fatalf("control: pylance reads %d rows, want 10", len(got))
				}
				return
			}
			if !errors.Is(err, lance.ErrUnsupported) {
				t.Fatalf("append: err = %v, want ErrUnsupported", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) || !strings.Contains(s.ReadOnly, w) {
					t.Fatalf("append err %q and read_only %q must both say %q", err, s.ReadOnly, w)
				}
			}
			if s.BufferCount != 0 || s.FlushError != "" {
				t.Fatalf("after the refusal: %d rows buffered, flush error %q", s.BufferCount, s.FlushError)
			}
			if err := b.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			// Nothing was logged: a reopen replays no row, reads the same.
			if b, err = Open(opts); err != nil {
				t.Fatal(err)
			}
			if s, _ := b.Stats(); s.TotalCount != 5 || s.Version != 1 {
				t.Fatalf("reopened: %d rows at version %d, want 5 at 1", s.TotalCount, s.Version)
			}
			_, again, readErr := b.Read(0, -1, memory.DefaultAllocator)
			defer releaseAll(again)
			checkReadErr(t, readErr, tt.readErr, again)
		})
	}
}

// checkReadErr: a read fails saying want, or (want "") reads the five rows.
func checkReadErr(t *testing.T, err error, want string, recs []arrow.Record) {
	t.Helper()
	rows := int64(0)
	for _, r := range recs {
		rows += r.NumRows()
	}
	switch {
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Fatalf("read: err = %v, want it to say %q", err, want)
	case want == "" && (err != nil || rows != 5):
		t.Fatalf("read: %d rows, err %v; want 5 rows", rows, err)
	}
}
