package wal

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"golang.org/x/sys/unix"
)

// StagingName is the staging file of a log under SyncInterval: entries are
// appended by copying them into its memory-mapped pages (no system call)
// and moved to the segments in one write at each sync tick (see the
// package comment). The name is shorter than 20 characters, so tidwall/wal
// and listSegments never take it for a segment.
const StagingName = "staged-entries"

// StagingSize is the size of the staging file. Entries that do not fit in
// what is left of it move the staged ones to the segments first; an entry
// bigger than it is written to the segments directly.
const StagingSize = 1 << 20

// Staging file layout: a header, then staged records from stagingStart on.
//
//	header:  [8]byte magic "PSTSTAGE", uint64le epoch
//	record:  uint32le n (frame length), uint32le CRC-32C of (epoch, index,
//	         n, frame), uint64le epoch, uint64le index, [n]byte frame (the
//	         entry as a segment holds it after its uvarint prefix)
//
// Only records of the header's epoch with consecutive indexes count; the
// epoch is a new random value at every reset, so bytes left from earlier
// epochs never replay.
const (
	stagingMagic    = "PSTSTAGE"
	stagingStart    = 64
	stagedHeaderLen = 24
)

// staging is the mapped staging file of a Log. Callers hold Log.mu.
type staging struct {
	path  string
	mem   []byte
	epoch uint64
	pos   int    // where the next record goes
	first uint64 // index of the first staged entry
	sizes []int  // payload sizes of the staged entries
	bytes int64  // what they will take in a segment
}

// stagedRecord is one valid record read from a staging file.
type stagedRecord struct {
	index uint64
	frame []byte
}

// readStaging reads the staging file in dir, if there is one, and returns
// its records that continue the log after last (index last+1, last+2, ...),
// in order. Records at or below last were moved to the segments before a
// crash and are skipped. Reading stops at the first record that is not of
// the header's epoch (the end of what was staged) and, with a warning to
// logf, at one that fails its check (a copy cut short by a crash: never
// acknowledged) or does not continue the log.
func readStaging(dir string, last uint64, logf func(string, ...any)) ([]stagedRecord, error) {
	path := filepath.Join(dir, StagingName)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("wal: read %s: %w", path, err)
	}
	if len(data) < stagingStart || string(data[:8]) != stagingMagic {
		// No magic at all: created, never reset (a crash inside Open).
		if strings.Trim(string(data[:min(8, len(data))]), "\x00") != "" {
			logf("wal: ignoring %s: no staging header (%d bytes)", path, len(data))
		}
		return nil, nil
	}
	epoch := binary.LittleEndian.Uint64(data[8:16])
	var recs []stagedRecord
	for off := stagingStart; off+stagedHeaderLen <= len(data); {
		h := data[off : off+stagedHeaderLen]
		if binary.LittleEndian.Uint64(h[8:16]) != epoch {
			break // the end of what this epoch staged
		}
		n := int(binary.LittleEndian.Uint32(h[0:4]))
		index := binary.LittleEndian.Uint64(h[16:24])
		var reason string
		var frame []byte
		switch {
		case n > len(data)-off-stagedHeaderLen:
			reason = fmt.Sprintf("record of %d bytes runs past the end of the file", n)
		default:
			frame = data[off+stagedHeaderLen : off+stagedHeaderLen+n]
			if stagedCRC(h, frame) != binary.LittleEndian.Uint32(h[4:8]) {
				reason = "checksum mismatch"
			} else if _, err := decodeEntry(frame); err != nil {
				reason = err.Error()
			} else if index > last+1 {
				reason = fmt.Sprintf("index %d does not follow the log's last entry %d", index, last)
			}
		}
		if reason != "" {
			logf("wal: %s: dropping the staged entry at offset %d and what follows it (%s): an append cut short by a crash, never acknowledged",
				path, off, reason)
			break
		}
		off += stagedHeaderLen + n
		if index <= last {
			continue // moved to the segments before the crash
		}
		recs = append(recs, stagedRecord{index: index, frame: frame})
		last = index
	}
	return recs, nil
}

// stagedCRC is the checksum of a staged record with header h (its length,
// epoch and index filled in) and frame: over the epoch, the index, the
// length and the frame, read from the record itself (a buffer of its own
// would be allocated: crc32 lets its argument escape).
func stagedCRC(h, frame []byte) uint32 {
	crc := crc32.Update(0, castagnoli, h[8:24])
	crc = crc32.Update(crc, castagnoli, h[0:4])
	return crc32.Update(crc, castagnoli, frame)
}

// mapStaging creates (or resizes) the staging file in dir, allocates its
// blocks, so that a full disk fails here and not as a fault on a later
// copy, and maps it. The caller resets it before staging anything.
func mapStaging(dir string) (*staging, error) {
	path := filepath.Join(dir, StagingName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, segmentPerms)
	if err != nil {
		return nil, fmt.Errorf("wal: staging file: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(StagingSize); err != nil {
		return nil, fmt.Errorf("wal: staging file %s: %w", path, err)
	}
	if err := unix.Fallocate(int(f.Fd()), 0, 0, StagingSize); err != nil {
		if !errors.Is(err, unix.EOPNOTSUPP) {
			return nil, fmt.Errorf("wal: allocating staging file %s: %w", path, err)
		}
		// No fallocate on this file system: write the blocks instead.
		if _, err := f.WriteAt(make([]byte, StagingSize), 0); err != nil {
			return nil, fmt.Errorf("wal: allocating staging file %s: %w", path, err)
		}
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, StagingSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("wal: mapping staging file %s: %w", path, err)
	}
	return &staging{path: path, mem: mem}, nil
}

// reset forgets the staged records: a new epoch in the header, writing
// from the start again.
func (s *staging) reset() error {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		if e := binary.LittleEndian.Uint64(b[:]); e != s.epoch && e != 0 {
			return guardFault(s.path, func() {
				copy(s.mem[:8], stagingMagic)
				binary.LittleEndian.PutUint64(s.mem[8:16], e)
				s.epoch, s.pos, s.first, s.sizes, s.bytes = e, stagingStart, 0, s.sizes[:0], 0
			})
		}
	}
}

// room says whether entries framing to the given record sizes fit after
// the staged ones.
func (s *staging) room(need int) bool { return s.pos+need <= len(s.mem) }

// stagedLen is what an entry of n payload bytes takes in the staging file.
func stagedLen(n int) int { return stagedHeaderLen + headerSize + n }

// put copies the entries, indexes first, first+1, ..., after the staged
// ones; the caller checked they fit. The checksum is written last of each
// record, so a copy cut short leaves a record that fails its check (or,
// before its epoch was written, one of an older epoch: the end).
func (s *staging) put(first uint64, entries [][][]byte, sizes []int) error {
	return guardFault(s.path, func() {
		pos := s.pos
		for i, parts := range entries {
			rec := s.mem[pos : pos+stagedLen(sizes[i])]
			frame := rec[stagedHeaderLen:]
			h := entryHeader(parts)
			k := copy(frame, h[:])
			for _, p := range parts {
				k += copy(frame[k:], p)
			}
			index := first + uint64(i)
			binary.LittleEndian.PutUint32(rec[0:4], uint32(len(frame)))
			binary.LittleEndian.PutUint64(rec[16:24], index)
			binary.LittleEndian.PutUint64(rec[8:16], s.epoch)
			binary.LittleEndian.PutUint32(rec[4:8], stagedCRC(rec, frame))
			pos += len(rec)
		}
		if len(s.sizes) == 0 {
			s.first = first
		}
		s.pos = pos
		for _, n := range sizes {
			s.sizes = append(s.sizes, n)
			s.bytes += recordSize(n)
		}
	})
}

// frames calls fn with the index and frame of each staged entry, in order.
func (s *staging) frames(fn func(index uint64, frame []byte)) error {
	return guardFault(s.path, func() {
		off := stagingStart
		for i, n := range s.sizes {
			rec := s.mem[off : off+stagedLen(n)]
			fn(s.first+uint64(i), rec[stagedHeaderLen:])
			off += len(rec)
		}
	})
}

// unmap releases the mapping; the staged records stay in the file.
func (s *staging) unmap() error {
	mem := s.mem
	s.mem = nil
	return unix.Munmap(mem)
}

// guardFault runs fn, which touches the mapping, and turns a memory fault
// (the file shrunk or its blocks unavailable) into an error instead of a
// crash of the process.
func guardFault(path string, fn func()) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if v := recover(); v != nil {
			err = fmt.Errorf("wal: staging file %s: %v", path, v)
		}
	}()
	fn()
	return nil
}

// openStaging moves the entries a crash left in the staging file to the
// segments (Open fsyncs them next, then resets the file, or removes it
// under SyncEveryWrite) and, if mapped, maps the file. Called by Open
// before the log is shared.
func (l *Log) openStaging(mapped bool) error {
	recs, err := readStaging(l.dir, l.last.Load(), l.opts.Logger)
	if err != nil {
		return err
	}
	if len(recs) > 0 {
		first, last := recs[0].index, recs[len(recs)-1].index
		sizes := make([]int, len(recs))
		for i, r := range recs {
			sizes[i] = len(r.frame) - headerSize
			l.batch.Write(r.index, r.frame)
		}
		if err := l.writeBatch(first, last, sizes); err != nil {
			return fmt.Errorf("wal: open: moving staged entries %d..%d to the segments: %w", first, last, err)
		}
		l.opts.Logger("wal: %s: recovered staged entries %d..%d", filepath.Join(l.dir, StagingName), first, last)
	}
	if mapped {
		l.stage, err = mapStaging(l.dir)
	}
	return err
}

// stageEntries copies the entries into the staging file, moving the
// staged ones to the segments first if they do not fit after them. It
// returns false, having moved the staged ones, when the entries are bigger
// than the staging file: the caller writes them to the segments. If the
// staged entries cannot be moved, nothing is staged and the error says
// why. Callers hold mu.
func (l *Log) stageEntries(first uint64, entries [][][]byte, sizes []int) (staged bool, err error) {
	need := 0
	for _, n := range sizes {
		need += stagedLen(n)
	}
	if stagingStart+need > StagingSize || !l.stage.room(need) {
		if err := l.transfer(); err != nil {
			return false, err
		}
		if stagingStart+need > StagingSize {
			return false, nil
		}
	}
	if err := l.stage.put(first, entries, sizes); err != nil {
		return false, err
	}
	l.last.Store(first + uint64(len(entries)) - 1)
	l.storeSize()
	return true, nil
}

// transfer moves the staged entries to the segments with one write and
// resets the staging file. On error they stay staged (a failed write is
// undone, as for Append) and the error says why. Callers hold mu.
func (l *Log) transfer() error {
	s := l.stage
	if s == nil || len(s.sizes) == 0 {
		return nil
	}
	if l.tw == nil {
		return l.broken
	}
	if h := l.opts.hooks; h != nil && h.transfer != nil {
		if err := h.transfer(); err != nil {
			return fmt.Errorf("wal: moving staged entries to the segments: %w", err)
		}
	}
	first, last := s.first, s.first+uint64(len(s.sizes))-1
	if err := s.frames(func(i uint64, frame []byte) { l.batch.Write(i, frame) }); err != nil {
		l.batch.Clear()
		return err
	}
	if err := l.writeBatch(first, last, s.sizes); err != nil {
		return fmt.Errorf("wal: moving staged entries to the segments: %w", err)
	}
	err := s.reset()
	l.storeSize()
	return err
}

// writeBatch writes l.batch, entries first..last of the given payload
// sizes, to tidwall/wal and accounts for it. Callers hold mu.
func (l *Log) writeBatch(first, last uint64, sizes []int) error {
	startsSegment := l.tailSize == 0 || l.tailSize > l.opts.SegmentSize
	err := l.tw.WriteBatch(&l.batch)
	l.batch.Clear()
	return l.settleWrite(first, last, sizes, startsSegment, err)
}
