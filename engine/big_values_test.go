package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/persisting/persisting/wal"
)

// extent is what a column's 32-bit offsets address: the bytes of a string
// or binary column, the items of a list column.
func extent(a arrow.Array) int64 {
	switch c := a.(type) {
	case *array.String:
		o := c.ValueOffsets()
		return int64(o[len(o)-1] - o[0])
	case *array.Binary:
		o := c.ValueOffsets()
		return int64(o[len(o)-1] - o[0])
	case *array.List:
		start, _ := c.ValueOffsets(0)
		_, end := c.ValueOffsets(c.Len() - 1)
		return end - start
	}
	panic(fmt.Sprintf("extent of %s", a.DataType()))
}

// TestAppendRecordsSealsTheTailBeforeItsOffsetsOverflow: rows put as records
// gather in column builders whose string, binary and list columns have
// 32-bit offsets; before their encoded size would pass tailBytesLimit
// (2^31 - 1) the tail goes to the buffer as a record of its own. Without
// that, 2.2 GB of 1 MB values put between two flushes wrapped the offsets
// and every flush failed ("slice bounds out of range"). Here the limit is
// lowered to a few values' size; the values read back exactly, before and
// after a flush, and replayed from the WAL.
func TestAppendRecordsSealsTheTailBeforeItsOffsetsOverflow(t *testing.T) {
	defer func(old int64) { tailBytesLimit = old }(tailBytesLimit)
	tailBytesLimit = 3000
	const n = 12 // payloads
	cases := []struct {
		name    string
		payload func(t *testing.T, i int) []byte
	}{
		{"string", func(t *testing.T, i int) []byte {
			return pyMarshal(t, pyDict{{"id", i}, {"v", strings.Repeat(string(rune('a'+i)), 1000)}})
		}},
		{"binary", func(t *testing.T, i int) []byte {
			return pyMarshal(t, pyDict{{"id", i}, {"v", bytes.Repeat([]byte{byte(i)}, 1000)}})
		}},
		{"list", func(t *testing.T, i int) []byte {
			l := make([]any, 100)
			for k := range l {
				l[k] = i*1000 + k
			}
			return pyMarshal(t, pyDict{{"id", i}, {"v", l}})
		}},
		// put_batch([{"id": 2i, "v": v}, {"id": 2i+1, "v": v}]): marshal
		// writes v once and refers back to it; the tail holds it twice.
		{"binary shared by a batch", func(t *testing.T, i int) []byte {
			return sharedValueBatch(2*i, bytes.Repeat([]byte{byte(i)}, 1000))
		}},
	}
	for _, c := range cases {
		for _, wal := range []WALOptions{{}, {Enabled: true, SyncInterval: time.Second}} {
			t.Run(c.name+"/"+fmtWAL(wal), func(t *testing.T) {
				dir := t.TempDir()
				open := func() *Bucket {
					b, err := Open(Options{Path: dir, FlushThreshold: 1 << 20, WAL: wal, Logger: t.Logf,
						Background: BackgroundOptions{MaxFlushDelay: -1}})
					if err != nil {
						t.Fatal(err)
					}
					return b
				}
				var want bytes.Buffer
				b := open()
				rows := 0
				for i := 0; i < n; i++ {
					k, err := b.AppendRecords(c.payload(t, i))
					if err != nil {
						t.Fatal(err)
					}
					rows += k
				}
				b.mu.Lock()
				b.sealRows()
				var extents []int64
				for _, r := range b.buf.records {
					extents = append(extents, extent(r.Column(1)))
				}
				b.mu.Unlock()
				if len(extents) < 2 {
					t.Fatalf("one record of %v bytes or items holds every row", extents)
				}
				for _, e := range extents {
					if e > tailBytesLimit {
						t.Fatalf("a buffered record's column addresses %d > %d (records: %v)", e, tailBytesLimit, extents)
					}
				}
				check := func(when string) {
					t.Helper()
					if got := rowsJSON(t, b, 0); got != want.String() {
						t.Fatalf("%s: rows differ:\n%.300s\nwant\n%.300s", when, got, want.String())
					}
				}
				want.WriteString(rowsJSON(t, b, 0))
				if strings.Count(want.String(), "\n") != rows {
					t.Fatalf("read %d rows, want %d", strings.Count(want.String(), "\n"), rows)
				}
				if wal.Enabled {
					crash(t, b)
					b = open()
					check("replayed")
				}
				if err := b.Flush(); err != nil {
					t.Fatal(err)
				}
				check("flushed")
				if err := b.Close(); err != nil {
					t.Fatal(err)
				}
				b = open()
				defer b.Close()
				check("reopened")
			})
		}
	}
}

// TestAppendRecordsRefusesMoreThanOneCallTakes: records past
// MaxRecordsBytes - in their encoding, or once the references marshal writes
// for a value put more than once are expanded - are refused naming the
// limit, before any of them is copied, and the bucket goes on.
func TestAppendRecordsRefusesMoreThanOneCallTakes(t *testing.T) {
	// [v] * 3000 of a 1 MB v: 3 GB of records in 1 MB of encoding.
	shared := binary.LittleEndian.AppendUint32([]byte{'['}, 3000)
	shared = append(binary.LittleEndian.AppendUint32(append(shared, 's'|0x80), 1<<20), make([]byte, 1<<20)...)
	for k := 1; k < 3000; k++ {
		shared = binary.LittleEndian.AppendUint32(append(shared, 'r'), 0)
	}
	cases := []struct {
		name, why string
		data      []byte
	}{
		// Only the length is looked at: bytes never touched cost no memory.
		{"encoding", "bytes of records in one call, more than the 2147483647 (2 GiB - 1)", make([]byte, MaxRecordsBytes+1)},
		{"expanded", "hold more than the 2147483647 bytes (2 GiB - 1) one call takes (their 1063581 bytes of encoding refer back", shared},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := openBucket(t, t.TempDir(), 100)
			defer b.Close()
			appendRecords(t, b, pyDict{{"id", 0}})
			_, err := b.AppendRecords(c.data)
			if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), c.why) {
				t.Fatalf("err = %v", err)
			}
			appendRecords(t, b, pyDict{{"id", 1}})
			if got := rowsJSON(t, b, 0); got != "{\"id\":0}\n{\"id\":1}\n" {
				t.Fatalf("rows %q", got)
			}
		})
	}
}

// sharedValueBatch is the record encoding of [{"id": id, "v": v}, {"id": id+1,
// "v": v}] as Python's marshal writes it: v once, then a reference to it.
func sharedValueBatch(id int, v []byte) []byte {
	u32 := func(out []byte, n int) []byte { return binary.LittleEndian.AppendUint32(out, uint32(n)) }
	key := func(out []byte, k string) []byte { return append(append(out, 'z', byte(len(k))), k...) }
	out := u32([]byte{'['}, 2)
	out = u32(append(key(append(out, '{'), "id"), 'i'), id)
	out = append(u32(append(key(out, "v"), 's'|0x80), len(v)), v...) // numbered: reference 0
	out = append(out, '0', '{')
	out = u32(append(key(out, "id"), 'i'), id+1)
	out = u32(append(key(out, "v"), 'r'), 0)
	return append(out, '0')
}

// TestEveryAcceptedCallFitsAWALEntry: the WAL logs a call's records as one
// entry (a kind byte and the records), so its payload limit must take the
// largest call the engine accepts. It took 1 GiB: a put of a 1.5 GB value
// was stored without the WAL and refused with it ("more than
// MaxPayloadSize").
func TestEveryAcceptedCallFitsAWALEntry(t *testing.T) {
	if entry := int64(MaxRecordsBytes) + 1; entry > wal.MaxPayloadSize {
		t.Fatalf("a call of %d bytes of records makes a WAL entry of %d bytes; the WAL takes %d", MaxRecordsBytes, entry, int64(wal.MaxPayloadSize))
	}
}
