package file

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/persisting/persisting/lance/objstore"
	"github.com/persisting/persisting/lance/schema"
)

// StreamWriter writes one Lance data file from records handed to it one at
// a time: each column's page goes to the file as soon as it fills, so what
// the writer holds is about one page per column whatever the file's size
// (a compaction's output fragment need not fit in memory).
//
// A record's buffers must stay unchanged until Close: a column may point
// into them until its page is written. Records from a Go allocator may be
// released as soon as Write returns (the garbage collector keeps what a
// page still points to).
type StreamWriter struct {
	path    string
	fields  []schema.Field
	opts    WriteOptions
	v       Version
	cols    []columnWriter
	ids     []int32
	f       *os.File
	wb      *writebackFile
	upload  objstore.Upload // object stores: nothing is visible before it closes
	w       *fileWriter
	numRows int64
	md      map[string][]byte
	hasMD   bool
	done    bool
}

// CreateStream creates the file at path (exclusively; on an object store,
// an upload) for records of fields. Close completes it; Abort removes it.
func CreateStream(path string, fields []schema.Field, opts WriteOptions) (*StreamWriter, error) {
	v, err := opts.Version.normalize()
	if err != nil {
		return nil, err
	}
	comp, err := ParseCompression(opts.Compression)
	if err != nil {
		return nil, err
	}
	cols, ids, err := newTopWriters(fields, v, comp, opts)
	if err != nil {
		return nil, err
	}
	return createStream(path, fields, opts, v, cols, ids)
}

func createStream(path string, fields []schema.Field, opts WriteOptions, v Version, cols []columnWriter, ids []int32) (*StreamWriter, error) {
	sw := &StreamWriter{path: path, fields: fields, opts: opts, v: v, cols: cols, ids: ids}
	if opts.SchemaMetadata != nil {
		sw.md, sw.hasMD = opts.SchemaMetadata, true
	}
	if objstore.IsRemote(path) {
		u, err := createRemote(path)
		if err != nil {
			return nil, err
		}
		sw.upload = u
		sw.w = newFileWriter(u)
		return sw, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lance file: %w", err)
	}
	sw.f = f
	// Whoever fsyncs the file (Close or, with NoSync, the caller) finds
	// most of it on disk already.
	sw.wb = newWritebackFile(f)
	sw.w = newFileWriter(sw.wb)
	return sw, nil
}

// Write appends the rows of rec (its schema matching the fields). After an
// error the writer can only be aborted, but for ErrDictionaryFull: then
// nothing of rec was written and the file can still be closed.
func (sw *StreamWriter) Write(rec arrow.Record) error {
	if sw.done {
		return fmt.Errorf("lance file: write to a closed stream writer")
	}
	if err := checkRecord(rec, sw.fields, sw.cols); err != nil {
		return fmt.Errorf("lance file: %w", err)
	}
	if err := admitDictionaries(sw.cols, rec); err != nil {
		return err
	}
	return sw.write(rec)
}

// write appends a checked record.
func (sw *StreamWriter) write(rec arrow.Record) error {
	if !sw.hasMD {
		sw.md, sw.hasMD = schema.MetadataFromArrow(rec.Schema()), true
	}
	if err := appendColumns(sw.w, sw.cols, rec, sw.fields); err != nil {
		return err
	}
	sw.numRows += rec.NumRows()
	if sw.w.err != nil {
		return fmt.Errorf("lance file: writing %s: %w", sw.path, sw.w.err)
	}
	return nil
}

// Rows is the number of rows written so far.
func (sw *StreamWriter) Rows() int64 { return sw.numRows }

// Abort gives up the file: it is removed (an upload is abandoned). Calling
// it after Close, or twice, does nothing.
func (sw *StreamWriter) Abort() {
	if sw.done {
		return
	}
	sw.done = true
	sw.w.release()
	if sw.upload != nil {
		sw.upload.Abort()
		return
	}
	sw.wb.stop()
	sw.f.Close()
	os.Remove(sw.path)
}

// Close writes the remaining pages, the metadata and the footer, and makes
// the file durable (unless NoSync). On error the file is removed.
func (sw *StreamWriter) Close() (WriteResult, error) {
	if sw.done {
		return WriteResult{}, fmt.Errorf("lance file: close of a closed stream writer")
	}
	res, err := sw.finish()
	if err != nil {
		sw.Abort()
		return WriteResult{}, err
	}
	return res, nil
}

func (sw *StreamWriter) finish() (WriteResult, error) {
	w := sw.w
	if err := closeColumns(w, sw.cols, sw.fields); err != nil {
		return WriteResult{}, err
	}
	// Global buffer 0: the FileDescriptor, right after the (64-aligned) data.
	gboPos := w.pos
	desc := marshalDescriptor(sw.fields, sw.md, uint64(sw.numRows))
	w.write(desc)

	colMetaStart := w.pos
	cmo := make([]byte, 0, 16*len(sw.ids))
	numCols := 0
	for _, c := range sw.cols {
		for _, pages := range c.columns() {
			m := marshalColumnMetadata(pages)
			cmo = binary.LittleEndian.AppendUint64(cmo, w.pos)
			cmo = binary.LittleEndian.AppendUint64(cmo, uint64(len(m)))
			w.write(m)
			numCols++
		}
	}
	if numCols != len(sw.ids) {
		return WriteResult{}, fmt.Errorf("lance file: internal error: %d columns for %d field ids", numCols, len(sw.ids))
	}
	major, minor := uint16(sw.v.Major), uint16(sw.v.Minor)
	if sw.v == V2_0 {
		major, minor = footerMajor20, footerMinor20
	}
	cmoPos := w.pos
	w.write(cmo)
	gboTablePos := w.pos
	var gbo []byte
	gbo = binary.LittleEndian.AppendUint64(gbo, gboPos)
	gbo = binary.LittleEndian.AppendUint64(gbo, uint64(len(desc)))
	w.write(gbo)
	w.write(footer{
		columnMetaStart:  colMetaStart,
		cmoTableStart:    cmoPos,
		gboTableStart:    gboTablePos,
		numGlobalBuffers: 1,
		numColumns:       uint32(numCols),
		major:            major,
		minor:            minor,
	}.append(nil))
	if w.err == nil {
		w.flushBuf()
	}
	if sw.wb != nil {
		sw.wb.stop()
	}
	if w.err != nil {
		return WriteResult{}, fmt.Errorf("lance file: writing %s: %w", sw.path, w.err)
	}
	if sw.upload != nil {
		if err := sw.upload.Close(); err != nil {
			return WriteResult{}, fmt.Errorf("lance file: upload %s: %w", sw.path, err)
		}
	} else {
		if !sw.opts.NoSync {
			if err := sw.f.Sync(); err != nil {
				return WriteResult{}, fmt.Errorf("lance file: %w", err)
			}
		}
		if err := sw.f.Close(); err != nil {
			return WriteResult{}, fmt.Errorf("lance file: %w", err)
		}
		if !sw.opts.NoSync {
			syncDir(filepath.Dir(sw.path))
		}
	}
	sw.done = true
	sw.w.release()
	res := WriteResult{NumRows: sw.numRows, FileSize: int64(w.pos), MajorVersion: sw.v.Major, MinorVersion: sw.v.Minor, Fields: sw.ids}
	res.ColumnIndices = make([]int32, len(sw.ids))
	for i := range res.ColumnIndices {
		res.ColumnIndices[i] = int32(i)
	}
	return res, nil
}
