package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// segmentFile is one segment file of the log directory.
type segmentFile struct {
	start uint64 // index of its first entry
	path  string
}

// segmentName is the file name tidwall/wal gives the segment whose first
// entry has the given index: 20 decimal digits, zero padded.
func segmentName(start uint64) string { return fmt.Sprintf("%020d", start) }

// Suffixes tidwall/wal uses while it truncates (.START, .END) and for the
// temporary file it writes them through (.TEMP).
const (
	startSuffix = ".START"
	endSuffix   = ".END"
	tempSuffix  = ".TEMP"
)

// listSegments lists the segment files of dir in index order, by the same
// rule tidwall/wal uses: a name of 20 digits (not all zero), optionally
// followed by .START or .END. pending holds the .START and .END files, which
// only exist after a truncation was interrupted; tidwall/wal finishes that
// truncation when it opens the log. temps holds leftover .TEMP files.
func listSegments(dir string) (segs []segmentFile, pending, temps []string, err error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, de := range des { // sorted by name, so by index
		name := de.Name()
		if len(name) < 20 {
			continue
		}
		start, err := strconv.ParseUint(name[:20], 10, 64)
		if err != nil || start == 0 {
			continue
		}
		rest := name[20:]
		if de.IsDir() && (rest == "" || rest == startSuffix || rest == endSuffix) {
			// tidwall/wal skips it, so the log would seem to miss that
			// segment and fail later with a message about something else.
			return nil, nil, nil, fmt.Errorf("%w: %s is a directory, not a log segment",
				ErrCorrupt, filepath.Join(dir, name))
		}
		if de.IsDir() {
			continue
		}
		switch {
		case rest == "":
			segs = append(segs, segmentFile{start: start, path: filepath.Join(dir, name)})
		case rest == startSuffix || rest == endSuffix:
			pending = append(pending, name)
			segs = append(segs, segmentFile{start: start, path: filepath.Join(dir, name)})
		case strings.HasSuffix(rest, tempSuffix):
			temps = append(temps, filepath.Join(dir, name))
		}
	}
	return segs, pending, temps, nil
}

// segmentScan is what scanSegment found in one segment file.
type segmentScan struct {
	entries uint64 // valid entries before the first damaged one (or all)
	end     int64  // offset just past the last valid entry
	bad     bool   // a damaged entry starts at end
	reason  string // what is wrong with it
	// validAfter says a valid entry starts somewhere after the damaged one,
	// so the damage is not a torn tail.
	validAfter bool
}

// scanSegment checks every entry of a segment file's contents in order and
// stops at the first damaged one. fn, if not nil, gets each valid entry's
// position in the segment (0 for the first) and payload (a sub-slice of
// data); an error from fn ends the scan and is returned.
func scanSegment(data []byte, fn func(n uint64, payload []byte) error) (segmentScan, error) {
	var s segmentScan
	for int(s.end) < len(data) {
		frame, size, err := nextRecord(data[s.end:])
		var payload []byte
		if err == nil {
			payload, err = decodeEntry(frame)
		}
		if err != nil {
			s.bad = true
			s.reason = err.Error()
			s.validAfter = validEntryAfter(data, int(s.end)+1)
			return s, nil
		}
		if fn != nil {
			if err := fn(s.entries, payload); err != nil {
				return s, err
			}
		}
		s.entries++
		s.end += int64(size)
	}
	return s, nil
}

// validEntryAfter reports whether a valid entry starts at any offset from
// from on. Damage followed by a valid entry is corruption in the middle of
// the log; damage with nothing valid after it is a torn tail. Any offset is
// tried because the damaged entry's length cannot be trusted. A payload that
// itself holds a valid entry can make a torn tail look like corruption in
// the middle, never the other way round: the error is on the safe side.
func validEntryAfter(data []byte, from int) bool {
	for p := from; p < len(data); p++ {
		if isValidRecord(data[p:]) {
			return true
		}
	}
	return false
}

// isValidRecord is nextRecord plus decodeEntry without building errors; the
// checksum is only computed once both length fields agree.
func isValidRecord(data []byte) bool {
	n, k := binary.Uvarint(data)
	if k <= 0 || n > uint64(len(data)-k) || n < headerSize {
		return false
	}
	frame := data[k : k+int(n)]
	if frame[0] != formatV1 || uint64(binary.LittleEndian.Uint32(frame[1:5])) != n-headerSize {
		return false
	}
	_, err := decodeEntry(frame)
	return err == nil
}

// syncDir fsyncs a directory so that files created, renamed or removed in
// it stay so after a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// segmentSizes returns the size of each segment file.
func segmentSizes(segs []segmentFile) ([]int64, error) {
	sizes := make([]int64, len(segs))
	for i, s := range segs {
		fi, err := os.Stat(s.path)
		if err != nil {
			return nil, err
		}
		sizes[i] = fi.Size()
	}
	return sizes, nil
}

var errNoSegments = errors.New("wal: no segment files")

// appendToSegments writes entries first, first+1, ... as tidwall/wal's
// writeBatch would, without its buffers: appended to the tail segment, which
// holds size bytes; a tail larger than segSize is fsynced and closed first
// and a new segment started, and so is every segment an entry makes at
// least segSize bytes long. The last segment written is not fsynced.
func appendToSegments(dir string, tail segmentFile, size, segSize int64, first uint64, entries [][][]byte) (err error) {
	f, err := os.OpenFile(tail.path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer func() {
		if f == nil {
			return
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	if end != size {
		return fmt.Errorf("tail segment %s holds %d bytes, the log counted %d", tail.path, end, size)
	}
	next := func(start uint64) error {
		if err := f.Sync(); err != nil {
			return err
		}
		err := f.Close()
		f = nil
		if err != nil {
			return err
		}
		f, err = os.OpenFile(filepath.Join(dir, segmentName(start)), os.O_CREATE|os.O_RDWR|os.O_TRUNC, segmentPerms)
		size = 0
		return err
	}
	if size > segSize {
		if err := next(first); err != nil {
			return err
		}
	}
	var prefix [binary.MaxVarintLen64 + headerSize]byte
	for i, parts := range entries {
		h := entryHeader(parts)
		n := binary.PutUvarint(prefix[:], uint64(headerSize)+uint64(binary.LittleEndian.Uint32(h[1:5])))
		n += copy(prefix[n:], h[:])
		if _, err := f.Write(prefix[:n]); err != nil {
			return err
		}
		for _, p := range parts {
			if _, err := f.Write(p); err != nil {
				return err
			}
		}
		size += recordSize(int(binary.LittleEndian.Uint32(h[1:5])))
		if size >= segSize {
			if err := next(first + uint64(i) + 1); err != nil {
				return err
			}
		}
	}
	return nil
}
