package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

// ConsumptionLogName is the file in the bucket directory that keeps, per
// training task, which indexes were handed out or marked consumed, and which
// indexes were cleared (docs/training.md describes the format).
const ConsumptionLogName = "consumption.log"

// One entry of the consumption log: what changed, never the whole state, so
// an entry costs O(indexes it names).
const (
	opMark  byte = 1 // task's consumed set |= bitmap
	opReset byte = 2 // task's consumed set = {} (bitmap empty)
	opClear byte = 3 // cleared set |= bitmap (task empty)

	// opWide, or'ed into the op, says the bitmap is in the 64-bit portable
	// format: written only when it holds an index >= 2^32, so a log of a
	// bucket below 2^32 stays readable by versions before 64-bit indexes.
	opWide byte = 0x80
)

// consumptionEntryHeader is the size of an entry's frame: length and CRC.
const consumptionEntryHeader = 8

// maxConsumptionEntry bounds an entry's payload; a larger length is a torn or
// corrupt frame, not an allocation to attempt.
const maxConsumptionEntry = 1 << 30

var consumptionCRC = crc32.MakeTable(crc32.Castagnoli)

// consumptionEntry is one decoded entry.
type consumptionEntry struct {
	op      byte
	task    string
	indexes *offsetSet
}

// encodeConsumptionEntry frames an entry as
//
//	u32 LE payload length | u32 LE CRC-32C of payload | payload
//	payload = u8 op | u16 LE task length | task (UTF-8) | roaring bitmap (portable format)
//
// The bitmap is in the 32-bit portable format while its indexes are below
// 2^32; otherwise op has opWide set and the bitmap is in the 64-bit
// portable format (offset_set.go).
func encodeConsumptionEntry(e consumptionEntry) ([]byte, error) {
	if len(e.task) > 0xFFFF {
		return nil, fmt.Errorf("%w: task name is %d bytes, at most 65535", ErrInvalidArgument, len(e.task))
	}
	bm := e.indexes
	if bm == nil {
		bm = newOffsetSet()
	}
	var payload bytes.Buffer
	if bm.fits32() {
		payload.WriteByte(e.op)
	} else {
		payload.WriteByte(e.op | opWide)
	}
	var n [2]byte
	binary.LittleEndian.PutUint16(n[:], uint16(len(e.task)))
	payload.Write(n[:])
	payload.WriteString(e.task)
	if err := bm.writeTo(&payload); err != nil {
		return nil, err
	}
	out := make([]byte, consumptionEntryHeader, consumptionEntryHeader+payload.Len())
	binary.LittleEndian.PutUint32(out[0:4], uint32(payload.Len()))
	binary.LittleEndian.PutUint32(out[4:8], crc32.Checksum(payload.Bytes(), consumptionCRC))
	return append(out, payload.Bytes()...), nil
}

// readConsumptionLog decodes every whole entry of data; good is the length
// of the prefix they fill. A torn or corrupt frame ends the log there (a
// crash during a write leaves at most the last entry torn).
func readConsumptionLog(data []byte) (entries []consumptionEntry, good int) {
	for len(data)-good >= consumptionEntryHeader {
		size := binary.LittleEndian.Uint32(data[good : good+4])
		sum := binary.LittleEndian.Uint32(data[good+4 : good+8])
		start := good + consumptionEntryHeader
		if size > maxConsumptionEntry || int(size) > len(data)-start || size < 3 {
			return entries, good
		}
		payload := data[start : start+int(size)]
		if crc32.Checksum(payload, consumptionCRC) != sum {
			return entries, good
		}
		e, err := decodeConsumptionPayload(payload)
		if err != nil {
			return entries, good
		}
		entries = append(entries, e)
		good = start + int(size)
	}
	return entries, good
}

func decodeConsumptionPayload(p []byte) (e consumptionEntry, err error) {
	defer func() {
		if r := recover(); r != nil { // a checksummed but malformed bitmap
			err = fmt.Errorf("%w: consumption entry: %v", ErrCorrupt, r)
		}
	}()
	e.op = p[0] &^ opWide
	if e.op < opMark || e.op > opClear {
		return e, fmt.Errorf("%w: consumption entry op %d", ErrCorrupt, e.op)
	}
	tlen := int(binary.LittleEndian.Uint16(p[1:3]))
	if 3+tlen > len(p) {
		return e, fmt.Errorf("%w: consumption entry task length", ErrCorrupt)
	}
	e.task = string(p[3 : 3+tlen])
	if e.indexes, err = readOffsetSet(p[3+tlen:], p[0]&opWide != 0); err != nil {
		return e, fmt.Errorf("%w: consumption entry bitmap: %v", ErrCorrupt, err)
	}
	return e, nil
}

// consumptionFile is the open log: entries are appended with one write each
// (a process killed after the write keeps it: the kernel has it) and fsynced
// when the bucket asks (sync).
type consumptionFile struct {
	path      string
	f         *os.File
	size      int64 // bytes of whole entries in the file (f's length once open)
	torn      bool  // a failed append left bytes past size that could not be cut yet
	dirty     bool  // written since the last fsync
	appended  int   // entries in the file: what an open replays
	compacted int   // entries the last rewrite wrote: the state's size then
}

// openConsumptionFile reads the log at dir, cuts a torn tail, and opens it
// for appending. A log with many entries is rewritten first as one entry per
// task plus one for the cleared set (same state, shorter replay).
func openConsumptionFile(dir string, logf func(string, ...any), readOnly bool) (*consumptionFile, []consumptionEntry, error) {
	path := filepath.Join(dir, ConsumptionLogName)
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("engine: read %s: %w", path, err)
	}
	entries, good := readConsumptionLog(data)
	if good < len(data) && readOnly {
		// Another process owns the log (and may be writing its last entry).
		return &consumptionFile{path: path}, entries, nil
	}
	if good < len(data) {
		logf("persisting: %s: cut a torn or corrupt tail of %d bytes at offset %d", path, len(data)-good, good)
		if err := os.Truncate(path, int64(good)); err != nil {
			return nil, nil, fmt.Errorf("engine: truncate %s: %w", path, err)
		}
	}
	// The file is created by the first entry: reads alone leave no trace.
	return &consumptionFile{path: path, appended: len(entries)}, entries, nil
}

// append writes e; sync also fsyncs it before returning. An entry that
// fails (a full disk writes part of it) is cut off again, so the next one
// follows the last whole entry: a torn frame left in the middle would make
// the next open cut every later entry with it.
func (c *consumptionFile) append(e consumptionEntry, sync bool) error {
	frame, err := encodeConsumptionEntry(e)
	if err != nil {
		return err
	}
	if c.f == nil {
		f, err := os.OpenFile(c.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("engine: consumption log: %w", err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return fmt.Errorf("engine: consumption log: %w", err)
		}
		c.f, c.size, c.torn = f, st.Size(), false
		if d, err := os.Open(filepath.Dir(c.path)); err == nil { // the new name, durable with its first fsync
			defer d.Close()
			defer d.Sync()
		}
	}
	if c.torn {
		if err := c.f.Truncate(c.size); err != nil {
			return fmt.Errorf("engine: consumption log: cut the partial entry a failed write left: %w", err)
		}
		c.torn = false
	}
	if _, err := c.f.Write(frame); err != nil {
		return c.unwrite(err)
	}
	if sync {
		c.dirty = true
		if err := c.sync(); err != nil {
			return c.unwrite(err)
		}
	}
	c.size += int64(len(frame))
	c.dirty = c.dirty || !sync
	c.appended++
	return nil
}

// unwrite cuts the file back to its whole entries after a failed append.
// If even that fails, the next append tries again before writing.
func (c *consumptionFile) unwrite(cause error) error {
	err := fmt.Errorf("engine: consumption log: %w", cause)
	if terr := c.f.Truncate(c.size); terr != nil {
		c.torn = true
		return fmt.Errorf("%w (cutting the partial entry off failed too: %v)", err, terr)
	}
	return err
}

func (c *consumptionFile) sync() error {
	if !c.dirty || c.f == nil {
		return nil
	}
	if err := c.f.Sync(); err != nil {
		return fmt.Errorf("engine: fsync %s: %w", c.path, err)
	}
	c.dirty = false
	return nil
}

// rewrite replaces the log by entries (written to a temporary file, fsynced,
// renamed over the log, directory fsynced), then appends to the new file.
func (c *consumptionFile) rewrite(entries []consumptionEntry) error {
	tmp := c.path + ".tmp"
	all, err := encodeConsumptionEntries(entries)
	if err != nil {
		return err
	}
	if err := writeFileSynced(tmp, all); err != nil {
		_ = os.Remove(tmp) // a partial copy (disk full): the log is intact
		return err
	}
	if err := os.Rename(tmp, c.path); err != nil {
		return fmt.Errorf("engine: replace %s: %w", c.path, err)
	}
	if d, err := os.Open(filepath.Dir(c.path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	f, err := os.OpenFile(c.path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("engine: open %s: %w", c.path, err)
	}
	if c.f != nil {
		c.f.Close()
	}
	c.f, c.size, c.dirty, c.appended, c.compacted = f, int64(len(all)), false, len(entries), len(entries)
	return nil
}

// long says whether the log holds more entries than a compacted one needs
// to: an open would replay more than consumptionLogCompactEntries, and more
// than twice the entries of the last rewrite. A state of thousands of tasks
// is itself longer than the threshold: rewriting it at every change cost the
// whole state per change; twice its size makes each change pay for about
// one entry of rewriting.
func (c *consumptionFile) long() bool {
	return c.appended > consumptionLogCompactEntries && c.appended > 2*c.compacted
}

// compact rewrites a long log as the state: a bucket open for months keeps
// a log the size of its state, not of its history.
func (c *consumptionFile) compact(state func() []consumptionEntry) error {
	if !c.long() {
		return nil
	}
	return c.rewrite(state())
}

func writeFileSynced(path string, data []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("engine: create %s: %w", path, err)
	}
	_, err = io.Copy(f, bytes.NewReader(data))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("engine: write %s: %w", path, err)
	}
	return nil
}

// flushed: the bucket flushed, so the entries become as durable as its data.
func (c *consumptionFile) flushed(func() []consumptionEntry) error { return c.sync() }

func (c *consumptionFile) where() string { return c.path }

func (c *consumptionFile) close(func() []consumptionEntry) error {
	if c.f == nil {
		return nil
	}
	err := c.sync()
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// encodeConsumptionEntries frames entries one after another: the body of a
// rewritten log file and of a snapshot object alike.
func encodeConsumptionEntries(entries []consumptionEntry) ([]byte, error) {
	var all bytes.Buffer
	for _, e := range entries {
		frame, err := encodeConsumptionEntry(e)
		if err != nil {
			return nil, err
		}
		all.Write(frame)
	}
	return all.Bytes(), nil
}
