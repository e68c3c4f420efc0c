package file

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"

	"github.com/persisting/persisting/lance/schema"
)

// WriteResult describes a written data file in the terms the manifest's
// DataFile message needs.
type WriteResult struct {
	NumRows                    int64
	FileSize                   int64
	MajorVersion, MinorVersion uint32 // DataFile.file_major_version / file_minor_version
	// Fields is DataFile.fields: the ids of the fields with a column of
	// their own, in column order. A 2.0 file lists every (top-level) field;
	// a 2.1+ file only leaves (a struct or list has no column; a
	// fixed_size_list is a leaf).
	Fields []int32
	// ColumnIndices is DataFile.column_indices, parallel to Fields.
	ColumnIndices []int32
}

// WriteOptions tunes WriteFileWithOptions. Zero values mean the defaults.
type WriteOptions struct {
	// MaxPageBytes caps the value bytes buffered per column before a page is
	// written (default DefaultMaxPageBytes, Lance's own default). A single
	// string larger than this still gets one page.
	MaxPageBytes int64
	// MaxPageRows caps the rows per page (default: no cap).
	MaxPageRows int64
	// SchemaMetadata is stored in the file's schema. Nil means the metadata of
	// the first record's schema.
	SchemaMetadata map[string][]byte
	// Version is the file version to write: V2_0 (also the zero value),
	// V2_1 or V2_2. Structs need 2.1 or later, maps 2.2 (see
	// CheckWritableVersion).
	Version Version
	// Compression is the general-purpose codec for data buffers: "" (none),
	// "zstd" or "lz4" (see ParseCompression). A field whose metadata sets
	// "lance-encoding:compression" uses that instead, as pylance does. File
	// version 2.0 compresses only the bytes of string and binary pages (as
	// pylance does); 2.1+ compresses mini-block value buffers and full-zip
	// string values when that makes them smaller.
	Compression string
	// NoSync leaves durability to the caller: the file is written and
	// closed but neither it nor its directory entry is fsynced (a dataset
	// commit fsyncs them alongside its own files).
	NoSync bool
}

// DefaultMaxPageBytes is the default page size: small enough that a range
// read touches little data, large enough that per-page overhead is negligible.
const DefaultMaxPageBytes = 8 << 20

// Padding byte Lance uses after page buffers ('H'); the value is irrelevant,
// matching it keeps our files byte-identical to pylance's for the same data.
const padByte = 0x48

const pageAlign = 64

// WriteFile writes recs (all with the same arrow schema, matching fields) as
// one complete Lance 2.0 data file at path. The file is created exclusively,
// fsynced before returning, and removed again if anything fails.
func WriteFile(path string, fields []schema.Field, recs []arrow.Record) (WriteResult, error) {
	return WriteFileWithOptions(path, fields, recs, WriteOptions{})
}

// WriteFileWithOptions is WriteFile with tuning options. Every record is
// checked before the file is created; a StreamWriter writes records as they
// come instead.
func WriteFileWithOptions(path string, fields []schema.Field, recs []arrow.Record, opts WriteOptions) (WriteResult, error) {
	v, err := opts.Version.normalize()
	if err != nil {
		return WriteResult{}, err
	}
	comp, err := ParseCompression(opts.Compression)
	if err != nil {
		return WriteResult{}, err
	}
	cols, ids, err := newTopWriters(fields, v, comp, opts)
	if err != nil {
		return WriteResult{}, err
	}
	var numRows int64
	for ri, rec := range recs {
		if err := checkRecord(rec, fields, cols); err != nil {
			return WriteResult{}, fmt.Errorf("lance file: record %d: %w", ri, err)
		}
		numRows += rec.NumRows()
	}
	for _, c := range cols {
		if h, ok := c.(interface{ sizeHint(rows int64) }); ok {
			h.sizeHint(numRows)
		}
	}
	sw, err := createStream(path, fields, opts, v, cols, ids)
	if err != nil {
		return WriteResult{}, err
	}
	for _, rec := range recs {
		if err := sw.write(rec); err != nil {
			sw.Abort()
			return WriteResult{}, err
		}
	}
	return sw.Close()
}

// syncDir makes the new directory entry durable; best effort because not
// every platform can fsync a directory.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// fileWriter writes a file sequentially through a buffer that encoders may
// also build pieces in directly (openPiece/closePiece), saving a copy.
type fileWriter struct {
	dst io.Writer
	buf []byte // written bytes not yet passed to dst
	pos uint64 // bytes written, buffered ones included
	err error  // the first error of dst; later writes are dropped
}

// writeBlock is the size of the writes to the file.
const writeBlock = 1 << 20

// writeBufs reuses the write buffers of WriteFile calls: a fresh buffer per
// file costs page faults in user space and kernel both.
var writeBufs sync.Pool // of *[]byte

func newFileWriter(dst io.Writer) *fileWriter {
	w := &fileWriter{dst: dst}
	if b, ok := writeBufs.Get().(*[]byte); ok {
		w.buf = (*b)[:0]
	} else {
		w.buf = make([]byte, 0, writeBlock)
	}
	return w
}

// release gives the buffer back; the writer must not be used afterwards.
func (w *fileWriter) release() {
	if b := w.buf[:0]; cap(b) <= 4*writeBlock { // not one grown by a huge piece
		writeBufs.Put(&b)
	}
	w.buf = nil
}

func (w *fileWriter) write(b []byte) {
	w.pos += uint64(len(b))
	if len(w.buf)+len(b) > cap(w.buf) {
		w.flushBuf()
	}
	if len(b) >= cap(w.buf) {
		if w.err == nil {
			_, w.err = w.dst.Write(b)
		}
		return
	}
	w.buf = append(w.buf, b...)
}

// openPiece returns the buffer, to append the next bytes of the file to;
// closePiece(b) with the result takes them as written.
func (w *fileWriter) openPiece() []byte { return w.buf }

func (w *fileWriter) closePiece(b []byte) {
	w.pos += uint64(len(b) - len(w.buf))
	w.buf = b
	if len(w.buf) >= writeBlock {
		w.flushBuf()
	}
}

// flushBuf passes the buffered bytes to the file.
func (w *fileWriter) flushBuf() {
	if len(w.buf) > 0 && w.err == nil {
		_, w.err = w.dst.Write(w.buf)
	}
	w.buf = w.buf[:0]
}

// writeBuffer writes one page buffer followed by padding to 64 bytes (2.1+
// readers assert alignment; 2.0 writers pad too) and returns its position.
func (w *fileWriter) writeBuffer(b []byte) uint64 {
	pos := w.pos
	w.write(b)
	w.padBuffer()
	return pos
}

// padBuffer ends a page buffer written in pieces (see writeBuffer).
func (w *fileWriter) padBuffer() {
	if pad := (pageAlign - w.pos%pageAlign) % pageAlign; pad != 0 {
		var p [pageAlign]byte
		for i := range p[:pad] {
			p[i] = padByte
		}
		w.write(p[:pad])
	}
}

func checkRecord(rec arrow.Record, allFields []schema.Field, cols []columnWriter) error {
	var fields []schema.Field
	for _, f := range allFields {
		if f.ParentID == -1 {
			fields = append(fields, f)
		}
	}
	if int(rec.NumCols()) != len(fields) {
		return fmt.Errorf("%d columns, want %d", rec.NumCols(), len(fields))
	}
	for i, f := range fields {
		col := rec.Column(i)
		if name := rec.Schema().Field(i).Name; name != f.Name {
			return fmt.Errorf("column %d is %q, want %q", i, name, f.Name)
		}
		if !schema.TypeEqual(mapStorage(col.DataType()), mapStorage(cols[i].dataType())) {
			return fmt.Errorf("column %q has type %s, field says %s", f.Name, col.DataType(), f.LogicalType)
		}
		if !f.Nullable && col.NullN() > 0 {
			return fmt.Errorf("column %q is not nullable but has %d nulls", f.Name, col.NullN())
		}
	}
	return nil
}

// columnWriter writes one top-level field: one column (2.0), or one per
// leaf (2.1+).
type columnWriter interface {
	dataType() arrow.DataType
	append(w *fileWriter, arr arrow.Array) error
	flush(w *fileWriter) error // write the pending pages, if any
	columns() [][]pageOut      // the pages of each file column
}

// newTopWriters returns a writer per top-level field and the ids of the
// fields that get a column (DataFile.fields), in column order.
func newTopWriters(fields []schema.Field, v Version, comp string, opts WriteOptions) ([]columnWriter, []int32, error) {
	if err := checkLayoutMetadata(fields); err != nil {
		return nil, nil, err
	}
	if !v.structural() {
		return newWriters20(fields, opts, comp)
	}
	roots, err := buildTree(fields)
	if err != nil {
		return nil, nil, fmt.Errorf("lance file: %w", err)
	}
	leaves, err := newLeafWriters(roots, v, opts, comp)
	if err != nil {
		return nil, nil, err
	}
	cols := make([]columnWriter, len(roots))
	var ids []int32
	for i, r := range roots {
		cols[i] = &fieldWriter21{dt: r.dt, leaves: leaves[i]}
		for _, l := range leaves[i] {
			ids = append(ids, l.nodes[len(l.nodes)-1].field.ID)
		}
	}
	return cols, ids, nil
}

// fieldWriter21 writes a top-level field of a 2.1+ file: each leaf below
// it shreds the field's arrays on its own.
type fieldWriter21 struct {
	dt     arrow.DataType
	leaves []*leafWriter
}

func (f *fieldWriter21) dataType() arrow.DataType { return f.dt }

func (f *fieldWriter21) append(w *fileWriter, arr arrow.Array) error {
	if containsMap(arr.DataType()) {
		arr = mapsAsLists(arr)
		defer arr.Release()
	}
	for _, l := range f.leaves {
		if err := l.append(w, arr); err != nil {
			return err
		}
	}
	return nil
}

func (f *fieldWriter21) flush(w *fileWriter) error {
	for _, l := range f.leaves {
		if err := l.flush(w); err != nil {
			return err
		}
	}
	return nil
}

// appendColumns appends rec's columns to their writers. In a 2.1+ file
// each column runs on a goroutine (at most GOMAXPROCS at a time): it
// shreds its arrays and encodes every page that fills on its own, and
// waits only to write the page until the columns before it are done with
// rec, so the pages reach the file in the order one goroutine would write
// them.
func appendColumns(w *fileWriter, cols []columnWriter, rec arrow.Record, fields []schema.Field) error {
	procs := runtime.GOMAXPROCS(0)
	parallel := len(cols) > 1 && procs > 1
	for _, c := range cols {
		_, ok := c.(*fieldWriter21)
		parallel = parallel && ok
	}
	if !parallel {
		for i, c := range cols {
			if err := c.append(w, rec.Column(i)); err != nil {
				return fmt.Errorf("lance file: column %q: %w", fields[i].Name, err)
			}
		}
		return nil
	}
	// turns[k] is closed once columns [0, k) are done with rec.
	turns := make([]chan struct{}, len(cols)+1)
	for i := range turns {
		turns[i] = make(chan struct{})
	}
	close(turns[0])
	errs := make([]error, len(cols))
	var wg sync.WaitGroup
	for i, c := range cols {
		f := c.(*fieldWriter21)
		for _, l := range f.leaves {
			l.turn = turns[i]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil { // a panic here would end the process
					errs[i] = fmt.Errorf("internal error: %v", r)
				}
				<-turns[i]
				close(turns[i+1])
			}()
			if i >= procs {
				<-turns[i-procs+1] // column i-procs is done
			}
			errs[i] = f.append(w, rec.Column(i))
		}()
	}
	wg.Wait()
	for i, c := range cols {
		for _, l := range c.(*fieldWriter21).leaves {
			l.turn = nil
		}
		if errs[i] != nil {
			return fmt.Errorf("lance file: column %q: %w", fields[i].Name, errs[i])
		}
	}
	return nil
}

func (f *fieldWriter21) columns() [][]pageOut {
	out := make([][]pageOut, len(f.leaves))
	for i, l := range f.leaves {
		out[i] = l.out
	}
	return out
}

// newFlatWriter20 returns the 2.0 writer of a flat field of type dt, or
// nil when 2.0 has no writer for dt.
func newFlatWriter20(f schema.Field, dt arrow.DataType, opts WriteOptions, comp string) (columnWriter, error) {
	maxBytes, maxRows := pageLimits20(opts)
	switch dt.ID() {
	case arrow.DICTIONARY:
		return newDictWriter20(dt.(*arrow.DictionaryType), maxRows)
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64, arrow.DATE32, arrow.DATE64,
		arrow.TIMESTAMP, arrow.TIME32, arrow.TIME64, arrow.DURATION,
		arrow.FIXED_SIZE_BINARY, arrow.DECIMAL128, arrow.DECIMAL256:
		width := int64(fixedValueBits(dt) / 8)
		if width == 0 {
			return nil, nil
		}
		return &fixedWriter{dt: dt, bits: width * 8, maxRows: min(max(maxBytes/width, 1), maxRows)}, nil
	case arrow.BOOL:
		return &fixedWriter{dt: dt, bits: 1, maxRows: min(max(maxBytes*8, 8), maxRows)}, nil
	case arrow.NULL:
		return &nullWriter{}, nil
	case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY:
		fc := comp
		if c, ok := f.Metadata[CompressionMetadataKey]; ok {
			var err error
			if fc, err = ParseCompression(string(c)); err != nil {
				return nil, err
			}
		}
		return &binaryWriter{dt: dt, maxBytes: maxBytes, maxRows: maxRows, comp: fc}, nil
	}
	return nil, nil
}

// pageLimits20 is the bytes and rows a 2.0 page holds at most.
func pageLimits20(opts WriteOptions) (maxBytes, maxRows int64) {
	maxBytes, maxRows = opts.MaxPageBytes, opts.MaxPageRows
	if maxBytes <= 0 {
		maxBytes = DefaultMaxPageBytes
	}
	if maxRows <= 0 {
		maxRows = 1 << 62
	}
	return maxBytes, maxRows
}

// appendBits appends n bits of src starting at bit srcOff to the bitmap dst
// holding dstLen bits.
func appendBits(dst []byte, dstLen int64, src []byte, srcOff, n int64) []byte {
	need := int((dstLen + n + 7) / 8)
	for len(dst) < need {
		dst = append(dst, 0)
	}
	if n > 0 {
		bitutil.CopyBitmap(src, int(srcOff), int(n), dst, int(dstLen))
	}
	return dst
}

func appendSetBits(dst []byte, dstLen, n int64) []byte {
	need := int((dstLen + n + 7) / 8)
	for len(dst) < need {
		dst = append(dst, 0)
	}
	if n > 0 {
		bitutil.SetBitsTo(dst, dstLen, n, true)
	}
	return dst
}

// fixedWriter encodes fixed-width values and bools (bits == 1) as
// Nullable{no_nulls|some_nulls|all_nulls}(Flat).
type fixedWriter struct {
	dt       arrow.DataType
	bits     int64
	maxRows  int64
	validity []byte
	values   []byte
	n, nulls int64
	out      []pageOut
}

func (c *fixedWriter) dataType() arrow.DataType { return c.dt }
func (c *fixedWriter) columns() [][]pageOut     { return [][]pageOut{c.out} }

func (c *fixedWriter) append(w *fileWriter, arr arrow.Array) error {
	data := arr.Data()
	bufs := data.Buffers()
	var valBuf []byte
	if len(bufs) > 1 && bufs[1] != nil {
		valBuf = bufs[1].Bytes()
	}
	off := int64(data.Offset())
	for done := int64(0); done < int64(arr.Len()); {
		k := min(int64(arr.Len())-done, c.maxRows-c.n)
		start := off + done
		if c.bits == 1 {
			c.values = appendBits(c.values, c.n, valBuf, start, k)
		} else {
			wb := c.bits / 8
			c.values = append(c.values, valBuf[start*wb:(start+k)*wb]...)
		}
		if arr.NullN() == 0 {
			c.validity = appendSetBits(c.validity, c.n, k)
		} else {
			c.validity = appendBits(c.validity, c.n, bufs[0].Bytes(), start, k)
			nulls := k - int64(bitutil.CountSetBits(c.validity, int(c.n), int(k)))
			c.nulls += nulls
			if nulls > 0 {
				c.zeroNulls(c.n, k)
			}
		}
		c.n += k
		done += k
		if c.n >= c.maxRows {
			if err := c.flush(w); err != nil {
				return err
			}
		}
	}
	return nil
}

// zeroNulls clears the value slots under nulls so output is deterministic.
func (c *fixedWriter) zeroNulls(from, n int64) {
	for i := from; i < from+n; i++ {
		if bitutil.BitIsSet(c.validity, int(i)) {
			continue
		}
		if c.bits == 1 {
			bitutil.ClearBit(c.values, int(i))
		} else {
			wb := c.bits / 8
			clear(c.values[i*wb : (i+1)*wb])
		}
	}
}

func (c *fixedWriter) flush(w *fileWriter) error {
	if c.n == 0 {
		return nil
	}
	p := pageOut{length: uint64(c.n)}
	switch {
	case c.nulls == 0:
		p.bufOffsets = []uint64{w.writeBuffer(c.values)}
		p.bufSizes = []uint64{uint64(len(c.values))}
		p.encoding = encNoNulls(encFlatMsg(uint64(c.bits), 0))
	case c.nulls == c.n:
		p.encoding = encAllNulls()
	default:
		vpos := w.writeBuffer(c.validity)
		xpos := w.writeBuffer(c.values)
		p.bufOffsets = []uint64{vpos, xpos}
		p.bufSizes = []uint64{uint64(len(c.validity)), uint64(len(c.values))}
		p.encoding = encSomeNulls(encFlatMsg(1, 0), encFlatMsg(uint64(c.bits), 1))
	}
	c.out = append(c.out, p)
	c.validity, c.values = c.validity[:0], c.values[:0]
	c.n, c.nulls = 0, 0
	return w.err
}

// binaryWriter encodes strings/binary as Binary{indices u64 ends, bytes}:
// indices hold each value's end offset in the page's bytes, plus
// null_adjustment (= total bytes + 1) for nulls.
type binaryWriter struct {
	dt       arrow.DataType
	maxBytes int64
	maxRows  int64
	ends     []uint64
	nulls    []bool
	bytes    []byte
	nNulls   int64
	idx      []byte // scratch for the page's index buffer
	comp     string // "" or the codec of the bytes buffer
	out      []pageOut
}

func (c *binaryWriter) dataType() arrow.DataType { return c.dt }
func (c *binaryWriter) columns() [][]pageOut     { return [][]pageOut{c.out} }

// offsetsView holds the value offsets of a string/binary array (32 or 64
// bit), indexed like the array: a branch per lookup instead of a call.
type offsetsView struct {
	o32 []int32
	o64 []int64
}

func (o offsetsView) at(i int) int64 {
	if o.o64 != nil {
		return o.o64[i]
	}
	return int64(o.o32[i])
}

// fit returns how many of the k values from i fit a page with budget bytes
// left, each costing its length plus 8: values are taken until the budget
// is used up (the one that uses it up included), at least one.
func (o offsetsView) fit(i, k int, budget int64) int {
	if o.at(i+k)-o.at(i)+8*int64(k) < budget {
		return k
	}
	j := i
	for j < i+k {
		budget -= o.at(j+1) - o.at(j) + 8
		j++
		if budget <= 0 {
			break
		}
	}
	return j - i
}

// binaryOffsets returns arr's absolute value offsets (len+1 entries) and its
// data buffer.
func binaryOffsets(arr arrow.Array) (offsetsView, []byte, error) {
	switch a := arr.(type) {
	case *array.String:
		return offsetsView{o32: a.ValueOffsets()}, dataBuf(arr), nil
	case *array.Binary:
		return offsetsView{o32: a.ValueOffsets()}, dataBuf(arr), nil
	case *array.LargeString:
		return offsetsView{o64: a.ValueOffsets()}, dataBuf(arr), nil
	case *array.LargeBinary:
		return offsetsView{o64: a.ValueOffsets()}, dataBuf(arr), nil
	}
	return offsetsView{}, nil, fmt.Errorf("unexpected array type %T", arr)
}

func dataBuf(arr arrow.Array) []byte {
	if b := arr.Data().Buffers()[2]; b != nil {
		return b.Bytes()
	}
	return nil
}

func (c *binaryWriter) append(w *fileWriter, arr arrow.Array) error {
	if arr.Len() == 0 {
		return nil
	}
	offs, data, err := binaryOffsets(arr)
	if err != nil {
		return err
	}
	// Grow once for the array (at most a page), not per value.
	rows := min(int64(arr.Len()), c.maxRows)
	c.ends = slices.Grow(c.ends, int(rows))
	c.nulls = slices.Grow(c.nulls, int(rows))
	c.bytes = slices.Grow(c.bytes, int(min(offs.at(arr.Len())-offs.at(0), c.maxBytes)))
	for i := 0; i < arr.Len(); i++ {
		var end uint64
		if len(c.ends) > 0 {
			end = c.ends[len(c.ends)-1]
		}
		null := arr.IsNull(i)
		if null {
			c.nNulls++
		} else {
			v := data[offs.at(i):offs.at(i+1)]
			c.bytes = append(c.bytes, v...)
			end += uint64(len(v))
		}
		c.ends = append(c.ends, end)
		c.nulls = append(c.nulls, null)
		if int64(len(c.bytes)) >= c.maxBytes || int64(len(c.ends)) >= c.maxRows {
			if err := c.flush(w); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *binaryWriter) flush(w *fileWriter) error {
	n := len(c.ends)
	if n == 0 {
		return nil
	}
	adj := uint64(len(c.bytes)) + 1
	idx := slices.Grow(c.idx[:0], 8*n)
	for i, e := range c.ends {
		if c.nulls[i] {
			e += adj
		}
		idx = binary.LittleEndian.AppendUint64(idx, e)
	}
	bytesBuf, bytesEnc := c.bytes, encFlatMsg(8, 1)
	if c.comp != "" {
		var err error
		if bytesBuf, err = compress(c.comp, nil, c.bytes); err != nil {
			return err
		}
		bytesEnc = encFlatCompressed(8, 1, c.comp)
	}
	ipos := w.writeBuffer(idx)
	bpos := w.writeBuffer(bytesBuf)
	c.out = append(c.out, pageOut{
		bufOffsets: []uint64{ipos, bpos},
		bufSizes:   []uint64{uint64(len(idx)), uint64(len(bytesBuf))},
		length:     uint64(n),
		encoding:   encBinaryMsg(encNoNulls(encFlatMsg(64, 0)), bytesEnc, adj),
	})
	c.ends, c.nulls, c.bytes, c.idx = c.ends[:0], c.nulls[:0], c.bytes[:0], idx[:0]
	c.nNulls = 0
	return w.err
}

var errClosed = errors.New("lance file: reader is closed")
