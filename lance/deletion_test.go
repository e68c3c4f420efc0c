package lance

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/klauspost/compress/zstd"
)

// arrowDeletionBytes encodes offsets the way Lance writes .arrow deletion
// files: an IPC file with one non-null UInt32 column "row_id", zstd body.
func arrowDeletionBytes(t testing.TB, offsets []uint32, zstd bool) []byte {
	t.Helper()
	sch := arrow.NewSchema([]arrow.Field{{Name: "row_id", Type: arrow.PrimitiveTypes.Uint32}}, nil)
	b := array.NewUint32Builder(memory.DefaultAllocator)
	b.AppendValues(offsets, nil)
	col := b.NewArray()
	b.Release()
	rec := array.NewRecord(sch, []arrow.Array{col}, int64(len(offsets)))
	col.Release()
	defer rec.Release()
	opts := []ipc.Option{ipc.WithSchema(sch)}
	if zstd {
		opts = append(opts, ipc.WithZstd())
	}
	out, err := os.CreateTemp(t.TempDir(), "del")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	w, err := ipc.NewFileWriter(out, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out.Name())
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func bitmapDeletionBytes(t testing.TB, offsets []uint32) []byte {
	t.Helper()
	rb := roaring.BitmapOf(offsets...)
	rb.RunOptimize()
	var buf bytes.Buffer
	if _, err := rb.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// addDeletionFile attaches a deletion file holding offsets to fragment idx of
// the latest manifest (tests only: the commit protocol is bypassed).
func addDeletionFile(t *testing.T, root string, idx int, fileType uint32, offsets []uint32, recordCount bool) {
	t.Helper()
	var data []byte
	if fileType == DeletionArrow {
		data = arrowDeletionBytes(t, offsets, true)
	} else {
		data = bitmapDeletionBytes(t, offsets)
	}
	rewriteLatest(t, root, func(m *Manifest) {
		f := &m.Fragments[idx]
		f.DeletionFile = &DeletionFile{FileType: fileType, ReadVersion: m.Version, ID: uint64(1000 + idx)}
		if recordCount {
			f.DeletionFile.NumDeletedRows = uint64(len(offsets))
		}
		name, err := deletionFileName(f.ID, f.DeletionFile)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(root, deletionsDir), 0o755)
		if err := os.WriteFile(filepath.Join(root, deletionsDir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	})
}

// TestReadWithDeletions: every (offset, limit) window over fragments with
// deletion files returns exactly the surviving rows, for both file types,
// with and without the count recorded in the manifest.
func TestReadWithDeletions(t *testing.T) {
	sizes := []int64{10, 1, 20, 3}
	patterns := []struct {
		name string
		del  [][]uint32 // per fragment
	}{
		{"none", [][]uint32{nil, nil, nil, nil}},
		{"first rows", [][]uint32{{0}, nil, {0, 1, 2}, nil}},
		{"last rows", [][]uint32{{9}, nil, {17, 18, 19}, {2}}},
		{"every other", [][]uint32{{0, 2, 4, 6, 8}, nil, {1, 3, 5, 7, 9, 11, 13, 15, 17, 19}, nil}},
		{"middle run and whole fragment", [][]uint32{{3, 4, 5, 6}, {0}, {10, 11, 12, 13, 14}, {0, 1, 2}}},
		{"all but one", [][]uint32{{0, 1, 2, 3, 4, 5, 6, 8, 9}, nil, nil, {0, 2}}},
	}
	for _, p := range patterns {
		for _, ft := range []uint32{DeletionArrow, DeletionBitmap} {
			for _, counted := range []bool{true, false} {
				name := p.name + map[uint32]string{0: "/arrow", 1: "/bitmap"}[ft] + map[bool]string{true: "/counted", false: "/uncounted"}[counted]
				t.Run(name, func(t *testing.T) {
					root := filepath.Join(t.TempDir(), "ds")
					writeFragments(t, root, sizes)
					var live []int64
					var start int64
					for i, n := range sizes {
						if p.del[i] != nil {
							addDeletionFile(t, root, i, ft, p.del[i], counted)
						}
						for r := int64(0); r < n; r++ {
							if !slices.Contains(p.del[i], uint32(r)) {
								live = append(live, start+r)
							}
						}
						start += n
					}
					ds, err := Open(root)
					if err != nil {
						t.Fatal(err)
					}
					if ds.CountRows() != int64(len(live)) {
						t.Fatalf("CountRows %d, want %d", ds.CountRows(), len(live))
					}
					alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
					defer alloc.AssertSize(t, 0)
					n := int64(len(live))
					for off := int64(0); off <= n; off++ {
						for _, lim := range []int64{-1, 0, 1, 2, 5, n} {
							recs, err := ds.Read(off, lim, alloc)
							if err != nil {
								t.Fatalf("Read(%d, %d): %v", off, lim, err)
							}
							end := n
							if lim >= 0 {
								end = min(n, off+lim)
							}
							checkRowList(t, recs, live[off:max(off, end)])
							releaseAll(recs)
						}
					}
				})
			}
		}
	}
}

func TestLiveToPhysical(t *testing.T) {
	for _, tt := range []struct {
		dv   []uint32
		want []int64 // physical offset of live rows 0, 1, ...
	}{
		{nil, []int64{0, 1, 2}},
		{[]uint32{0}, []int64{1, 2, 3}},
		{[]uint32{0, 1, 2}, []int64{3, 4}},
		{[]uint32{1, 3}, []int64{0, 2, 4, 5}},
		{[]uint32{5}, []int64{0, 1, 2, 3, 4, 6, 7}},
	} {
		for k, w := range tt.want {
			if got := liveToPhysical(tt.dv, int64(k)); got != w {
				t.Errorf("dv %v: live row %d -> %d, want %d", tt.dv, k, got, w)
			}
		}
	}
}

func TestDecodeDeletionFiles(t *testing.T) {
	big := make([]uint32, 0, 7000)
	for i := uint32(0); i < 7000; i++ {
		big = append(big, i*3)
	}
	for _, tt := range []struct {
		name    string
		data    []byte
		bitmap  bool
		rows    uint64
		want    []uint32
		wantErr string
	}{
		{"arrow zstd", arrowDeletionBytes(t, []uint32{7, 1, 3}, true), false, 10, []uint32{1, 3, 7}, ""},
		{"arrow plain", arrowDeletionBytes(t, []uint32{0, 9}, false), false, 10, []uint32{0, 9}, ""},
		{"arrow empty", arrowDeletionBytes(t, nil, true), false, 10, nil, ""},
		{"arrow duplicate", arrowDeletionBytes(t, []uint32{2, 2}, false), false, 10, []uint32{2}, ""},
		{"arrow past end", arrowDeletionBytes(t, []uint32{10}, true), false, 10, nil, "past"},
		{"arrow more than rows", arrowDeletionBytes(t, []uint32{0, 1, 2}, true), false, 2, nil, "more deleted rows"},
		{"arrow truncated", arrowDeletionBytes(t, []uint32{1}, true)[:40], false, 10, nil, ""},
		{"arrow not arrow", []byte("hello world, not an arrow file"), false, 10, nil, ""},
		{"bitmap", bitmapDeletionBytes(t, big), true, 21000, big, ""},
		{"bitmap run", bitmapDeletionBytes(t, []uint32{4, 5, 6, 7, 8, 9}), true, 10, []uint32{4, 5, 6, 7, 8, 9}, ""},
		{"bitmap past end", bitmapDeletionBytes(t, []uint32{4, 100}), true, 100, nil, "past"},
		{"bitmap truncated", bitmapDeletionBytes(t, big)[:100], true, 21000, nil, ""},
		{"bitmap trailing bytes", append(bitmapDeletionBytes(t, []uint32{1}), 0), true, 10, nil, "trailing"},
		{"bitmap garbage", []byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3}, true, 10, nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []uint32
			var err error
			if tt.bitmap {
				got, err = decodeBitmapDeletions(tt.data, tt.rows)
			} else {
				got, err = decodeArrowDeletions(tt.data, tt.rows)
			}
			wantErr := tt.wantErr != "" || tt.want == nil && !strings.Contains(tt.name, "empty")
			if wantErr {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// FuzzDecodeDeletionFile: both deletion file decoders return sorted offsets
// below the row count, or an error; never a panic or an unbounded
// allocation.
func FuzzDecodeDeletionFile(f *testing.F) {
	f.Add(arrowDeletionBytes(f, []uint32{1, 5, 9}, true), false, uint32(10))
	f.Add(arrowDeletionBytes(f, []uint32{0, 2}, false), false, uint32(3))
	f.Add(bitmapDeletionBytes(f, []uint32{1, 2, 3, 100, 70000}), true, uint32(80000))
	run := make([]uint32, 6000)
	for i := range run {
		run[i] = uint32(i + 10)
	}
	f.Add(bitmapDeletionBytes(f, run), true, uint32(7000))
	f.Fuzz(func(t *testing.T, data []byte, bitmap bool, rows uint32) {
		var dv []uint32
		var err error
		if bitmap {
			dv, err = decodeBitmapDeletions(data, uint64(rows))
		} else {
			dv, err = decodeArrowDeletions(data, uint64(rows))
		}
		if err != nil {
			return
		}
		for i, x := range dv {
			if uint64(x) >= uint64(rows) || (i > 0 && dv[i-1] >= x) {
				t.Fatalf("decoded %v for %d rows", dv[:min(len(dv), 20)], rows)
			}
		}
	})
}

// TestInteropDeletions: pylance deletes rows of a 2.0 dataset (Arrow form
// for few rows, bitmap form above 5000 in a fragment); our reads equal its
// to_table() at every step, deleted rows never come back after appends from
// either side, and the deletion files survive our appends.
func TestInteropDeletions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	runPylance(t, "write", path, "create", testRowsJSON(0, 100), `{"data_storage_version": "2.0"}`)
	runPylance(t, "write", path, "append", testRowsJSON(100, 12000))
	runPylance(t, "write", path, "append", testRowsJSON(12100, 50))

	compare := func(step string) *Dataset {
		t.Helper()
		ds, err := Open(path)
		if err != nil {
			t.Fatal(step, err)
		}
		tbl := pylanceRead(t, path)
		if ds.Version() != tbl.Version || ds.CountRows() != tbl.CountRows {
			t.Fatalf("%s: version %d rows %d, pylance %d %d", step, ds.Version(), ds.CountRows(), tbl.Version, tbl.CountRows)
		}
		alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer alloc.AssertSize(t, 0)
		n := ds.CountRows()
		for _, r := range [][2]int64{{0, -1}, {1, 3}, {95, 10}, {n / 2, 777}, {n - 3, 10}, {n - 1, 1}} {
			recs, err := ds.Read(r[0], r[1], alloc)
			if err != nil {
				t.Fatalf("%s: Read(%d, %d): %v", step, r[0], r[1], err)
			}
			checkSameAsPylance(t, recs, tbl, r[0], r[1])
			releaseAll(recs)
		}
		return ds
	}

	// Rows with negative ids: 1 in 4 of every fragment (3000 in the big one:
	// Arrow files everywhere).
	runPylance(t, "delete", path, "id < 0")
	ds := compare("delete id < 0")
	kinds := deletionKinds(ds)
	if kinds[DeletionArrow] != 3 || kinds[DeletionBitmap] != 0 {
		t.Fatalf("deletion file kinds %v, want 3 arrow files", kinds)
	}
	// score > 3000 deletes ~4500 more rows of the big fragment: its deletion
	// vector grows past 5000 and becomes a bitmap (the small ones stay Arrow).
	runPylance(t, "delete", path, "score > 3000")
	ds = compare("delete score > 3000")
	kinds = deletionKinds(ds)
	if kinds[DeletionBitmap] != 1 || kinds[DeletionArrow] != 2 {
		t.Fatalf("deletion file kinds %v, want 1 bitmap and 2 arrow files", kinds)
	}

	// Go appends: the deletion files are carried over, pylance agrees.
	rec := makeRecord(memory.DefaultAllocator, 20000, 30)
	ds, err := Write(path, []arrow.Record{rec}, WriteOptions{})
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	if ds.manifest.ReaderFlags&FlagDeletionFiles == 0 || len(deletionKinds(ds)) == 0 {
		t.Fatal("Go append dropped the deletion files or their flag")
	}
	compare("Go append")
	runPylance(t, "write", path, "append", testRowsJSON(30000, 5))
	ds = compare("pylance append")
	// No deleted row came back.
	deleted := map[int64]bool{}
	for i := int64(0); i < 12150; i++ {
		r := expectedRow(i)
		if r.id != nil && (*r.id < 0 || r.score != nil && *r.score > 3000) {
			deleted[*r.id] = true
		}
	}
	recs, err := ds.Read(0, -1, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		ids := r.Column(0).(*array.Int64)
		for j := 0; j < ids.Len(); j++ {
			if ids.IsValid(j) && deleted[ids.Value(j)] {
				t.Fatalf("deleted row with id %d is back", ids.Value(j))
			}
		}
	}
	releaseAll(recs)

	// Deleting every row of the last fragment (rows 30000..30004 have
	// negative ids or ids above 3e10) removes it; reads still agree.
	frags := ds.NumFragments()
	runPylance(t, "delete", path, "id < 0 OR id > 29000000000")
	ds = compare("delete a whole fragment")
	if ds.NumFragments() != frags-1 {
		t.Fatalf("%d fragments, want %d", ds.NumFragments(), frags-1)
	}
}

func deletionKinds(ds *Dataset) map[uint32]int {
	out := map[uint32]int{}
	for _, f := range ds.manifest.Fragments {
		if f.DeletionFile != nil {
			out[f.DeletionFile.FileType]++
		}
	}
	return out
}

// TestDeletionZstdWindows: a deletion file's zstd frame may ask for a window
// far larger than its body, as pylance 0.20 writes them (arrow-rs streams a
// level-3 frame without its content size: a 2 MiB window for a few hundred
// bytes). Windows up to zstdMaxWindow are read; a larger one beside a small
// body is refused.
func TestDeletionZstdWindows(t *testing.T) {
	body := make([]byte, 4*300)
	for i := range 300 {
		binary.LittleEndian.PutUint32(body[4*i:], uint32(3*i))
	}
	for _, tt := range []struct {
		window  int
		wantErr bool
	}{{1 << 21, false}, {zstdMaxWindow, false}, {2 * zstdMaxWindow, true}} {
		t.Run(fmt.Sprint(tt.window), func(t *testing.T) {
			var frame bytes.Buffer
			enc, err := zstd.NewWriter(&frame, zstd.WithWindowSize(tt.window), zstd.WithEncoderConcurrency(1))
			if err != nil {
				t.Fatal(err)
			}
			enc.Write(body)
			if err := enc.Flush(); err != nil { // a streamed block: the header cannot know the size
				t.Fatal(err)
			}
			if err := enc.Close(); err != nil {
				t.Fatal(err)
			}
			// The premise: no content size, not single-segment, so the
			// decoder must honour the window the header names.
			if fhd := frame.Bytes()[4]; fhd&0xe0 != 0 {
				t.Fatalf("frame header descriptor %#x names its content size", fhd)
			}
			buf := binary.LittleEndian.AppendUint64(nil, uint64(len(body)))
			got, err := bodyBuffer(append(buf, frame.Bytes()...), 1, len(body))
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "window") {
					t.Fatalf("err = %v, want a window error", err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("err = %v, body equal: %v", err, bytes.Equal(got, body))
			}
		})
	}
}
