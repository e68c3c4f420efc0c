package file

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/objstore"
	"github.com/persisting/persisting/lance/schema"
)

// Reader reads one Lance data file. Open loads only the footer, the offset
// tables, the file descriptor and the column metadata; Read fetches just the
// byte ranges of the pages it needs. A Reader is safe for concurrent Reads.
type Reader struct {
	f            io.ReaderAt // *os.File, or memory in tests
	closer       io.Closer
	size         int64
	major, minor uint32
	numRows      int64
	desc         descriptor
	haveDesc     bool
	cols         []column
	closed       bool
	mem          []byte // the whole file, when it was read whole (read-only)
	chunks       chunkTables
}

// column is the decoded metadata of one file column.
type column struct {
	pages    []pageInfo
	rowStart []int64 // first row of each page; len(pages)+1 entries
}

// maxMetadataBytes bounds how much footer-referenced metadata Open will
// load, so a corrupt footer cannot make it allocate without limit.
const maxMetadataBytes = 1 << 30

// Open opens the Lance file at path and reads its metadata. File versions
// 2.0, 2.1 and 2.2 are supported.
func Open(path string) (*Reader, error) {
	if objstore.IsRemote(path) {
		return openRemote(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("lance file: %w", err)
	}
	r, err := newReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	return r, nil
}

func readAt(f io.ReaderAt, off, n uint64) ([]byte, error) {
	if n > maxMetadataBytes {
		return nil, fmt.Errorf("lance file: metadata region of %d bytes is too large", n)
	}
	b := make([]byte, n)
	if _, err := f.ReadAt(b, int64(off)); err != nil {
		return nil, fmt.Errorf("lance file: reading %d bytes at %d: %w", n, off, err)
	}
	return b, nil
}

func newReader(f *os.File) (*Reader, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("lance file: %w", err)
	}
	size := st.Size()
	if size < footerSize {
		return nil, fmt.Errorf("lance file: too small to be a Lance file (%d bytes)", size)
	}
	if size <= wholeFileBytes {
		// a small file (a queue flush) costs one read instead of one per
		// metadata region and page buffer
		whole := make([]byte, size)
		if _, err := f.ReadAt(whole, 0); err != nil {
			return nil, fmt.Errorf("lance file: reading %d bytes: %w", size, err)
		}
		m := bytes.NewReader(whole)
		r, err := parseFile(m, size, whole[size-footerSize:])
		if err != nil {
			return nil, err
		}
		// everything is in memory now: the descriptor need not stay open
		// (a cached Reader then holds memory only, no file handle)
		r.f, r.mem = m, whole
		f.Close()
		return r, nil
	}
	fb, err := readAt(f, uint64(size-footerSize), footerSize)
	if err != nil {
		return nil, err
	}
	r, err := parseFile(f, size, fb)
	if err != nil {
		return nil, err
	}
	r.f, r.closer = f, f
	return r, nil
}

// wholeFileBytes: files up to this size are read whole when opened.
const wholeFileBytes = 256 << 10

// parseFile decodes all metadata given the file's last 40 bytes. It is
// separate from Open so fuzz tests can drive it from memory.
func parseFile(f io.ReaderAt, size int64, footerBytes []byte) (*Reader, error) {
	ft, err := parseFooter(footerBytes, size)
	if err != nil {
		return nil, err
	}
	r := &Reader{f: f, size: size}
	r.major, r.minor, err = fileVersion(ft.major, ft.minor)
	if err != nil {
		return nil, err
	}
	end := uint64(size - footerSize)

	gbt, err := readAt(f, ft.gboTableStart, uint64(ft.numGlobalBuffers)*16)
	if err != nil {
		return nil, err
	}
	gbo, err := offsetTable(gbt, int(ft.numGlobalBuffers), end, "global buffer")
	if err != nil {
		return nil, err
	}
	if len(gbo) > 0 {
		db, err := readAt(f, gbo[0][0], gbo[0][1])
		if err != nil {
			return nil, err
		}
		r.desc, err = decodeDescriptor(db)
		if err != nil {
			return nil, err
		}
		r.haveDesc = true
	}

	cmt, err := readAt(f, ft.cmoTableStart, uint64(ft.numColumns)*16)
	if err != nil {
		return nil, err
	}
	cmo, err := offsetTable(cmt, int(ft.numColumns), end, "column metadata")
	if err != nil {
		return nil, err
	}
	var total uint64
	for _, e := range cmo {
		total += e[1]
		if total > maxMetadataBytes {
			return nil, fmt.Errorf("lance file: column metadata too large")
		}
	}
	r.cols = make([]column, len(cmo))
	for i, e := range cmo {
		b, err := readAt(f, e[0], e[1])
		if err != nil {
			return nil, err
		}
		cm, err := decodeColumnMetadata(b, end)
		if err != nil {
			return nil, fmt.Errorf("column %d: %w", i, err)
		}
		c := column{pages: cm.pages, rowStart: make([]int64, len(cm.pages)+1)}
		var rows uint64
		for j, p := range cm.pages {
			rows += p.length
			if rows < p.length || rows > 1<<62 {
				return nil, fmt.Errorf("lance file: column %d: row count overflow", i)
			}
			c.rowStart[j+1] = int64(rows)
		}
		r.cols[i] = c
	}

	switch {
	case r.haveDesc:
		if r.desc.length > 1<<62 {
			return nil, fmt.Errorf("lance file: row count %d out of range", r.desc.length)
		}
		r.numRows = int64(r.desc.length)
	case len(r.cols) > 0:
		r.numRows = r.cols[0].rowStart[len(r.cols[0].pages)]
	}
	return r, nil
}

// NumRows returns the number of rows in the file.
func (r *Reader) NumRows() int64 { return r.numRows }

// Version returns the logical file version, (2, 0) for the footer numbers 0.3.
func (r *Reader) Version() (major, minor uint32) { return r.major, r.minor }

// NumColumns returns the number of physical columns in the file.
func (r *Reader) NumColumns() int { return len(r.cols) }

// Schema returns the fields stored in the file's descriptor (global buffer
// 0). Files without a descriptor schema yield an error.
func (r *Reader) Schema() ([]schema.Field, error) {
	fields, _, err := r.SchemaWithMetadata()
	return fields, err
}

// SchemaWithMetadata is Schema plus the schema-level metadata.
func (r *Reader) SchemaWithMetadata() ([]schema.Field, map[string][]byte, error) {
	if !r.haveDesc || !r.desc.haveSchema {
		return nil, nil, fmt.Errorf("lance file: file has no schema in its descriptor")
	}
	return schema.UnmarshalSchema(r.desc.schemaBytes)
}

// Size returns the size of the file in bytes.
func (r *Reader) Size() int64 { return r.size }

// InMemory says whether the Reader holds the whole file in memory and no
// open file or object handle.
func (r *Reader) InMemory() bool { return r.mem != nil }

// FootprintBytes estimates the memory the Reader keeps: the file's bytes
// when it was read whole, plus its decoded column metadata (a fixed
// estimate per page and buffer; the exact size of page encodings is not
// tracked) and the most its memoized chunk tables (chunk_table.go) can take.
func (r *Reader) FootprintBytes() int64 {
	n := int64(len(r.mem)) + int64(len(r.desc.schemaBytes))
	for i := range r.cols {
		n += 64 + 8*int64(len(r.cols[i].rowStart))
		for k := range r.cols[i].pages {
			p := &r.cols[i].pages[k]
			n += 256 + 16*int64(len(p.bufOffsets)) + chunkTableBytes(p)
		}
	}
	return n
}

// Close closes the underlying file.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.closer == nil {
		return nil
	}
	return r.closer.Close()
}

// Read returns rows [offset, offset+limit) of the given columns as one record
// with schema sch; columns[i] is the file column holding sch.Field(i) (for a
// struct in a 2.1+ file: the first of its leaf columns, which follow in
// pre-order). limit
// is clamped to the end of the file. Only pages overlapping the range are
// read. Every buffer of the result is allocated from alloc (the caller may
// export it through the C Data Interface).
func (r *Reader) Read(sch *arrow.Schema, columns []int, offset, limit int64, alloc memory.Allocator) (arrow.Record, error) {
	if r.closed {
		return nil, errClosed
	}
	if sch == nil || alloc == nil {
		return nil, fmt.Errorf("lance file: Read needs a schema and an allocator")
	}
	if len(columns) != sch.NumFields() {
		return nil, fmt.Errorf("lance file: %d columns for a schema of %d fields", len(columns), sch.NumFields())
	}
	if offset < 0 || offset > r.numRows || limit < 0 {
		return nil, fmt.Errorf("lance file: range [%d, +%d) outside file of %d rows", offset, limit, r.numRows)
	}
	limit = min(limit, r.numRows-offset)
	r.prefetch(func(i int) int {
		if t := mapStorage(sch.Field(i).Type); r.minor >= 1 && isNested(t) && !isPacked(sch.Field(i)) {
			return leafCount(t)
		}
		return 1
	}, columns, offset, limit)
	defer r.dropPrefetched()
	for _, ci := range columns {
		if ci < 0 || ci >= len(r.cols) {
			return nil, fmt.Errorf("lance file: column index %d out of range (file has %d columns)", ci, len(r.cols))
		}
	}
	// columns decode independently; each lands in its own slot
	arrs := make([]arrow.Array, len(columns))
	release := func() {
		for _, a := range arrs {
			if a != nil {
				a.Release()
			}
		}
	}
	fan := parallelFor
	if smallRead(limit, len(columns)) {
		fan = serialFor
	}
	err := fan(len(columns), func(i int) error {
		ci := columns[i]
		fld := sch.Field(i)
		dt := mapStorage(fld.Type) // a map is read as its list of entries
		var a arrow.Array
		var err error
		switch {
		case blobError(fld) != nil:
			err = blobError(fld)
		case isPacked(fld):
			a, err = r.readPacked(&r.cols[ci], dt.(*arrow.StructType), offset, limit, alloc)
		case dt.ID() == arrow.DICTIONARY:
			a, err = r.readDictionary(&r.cols[ci], dt.(*arrow.DictionaryType), offset, limit, alloc)
		case r.minor >= 1 && isNested(dt):
			// a struct spans several leaf columns; ci is the first
			a, err = r.readNested(ci, dt, offset, limit, alloc)
		case isNested(dt):
			a, err = r.readLegacy(ci, dt, offset, limit, alloc, 0)
		default:
			a, err = r.readColumn(&r.cols[ci], dt, offset, limit, alloc)
		}
		if err == nil {
			a = relabel(a, fld.Type)
		}
		if err != nil {
			return fmt.Errorf("lance file: column %d (%q): %w", ci, fld.Name, err)
		}
		arrs[i] = a
		if !fld.Nullable && a.NullN() > 0 {
			return fmt.Errorf("lance file: column %d (%q) is not nullable but has nulls", ci, fld.Name)
		}
		return nil
	})
	if err != nil {
		release()
		return nil, err
	}
	rec := array.NewRecord(sch, arrs, limit)
	release()
	return rec, nil
}

// pageSpan is the part of one page a read needs: page rows [from, to) that
// land at output row out.
type pageSpan struct {
	page     *pageInfo
	from, to int64
	out      int64
}

func (c *column) spans(offset, limit int64) ([]pageSpan, error) {
	n := len(c.pages)
	if c.rowStart[n] < offset+limit {
		return nil, fmt.Errorf("column has %d rows, need %d", c.rowStart[n], offset+limit)
	}
	if limit == 0 {
		return nil, nil
	}
	// first page whose end is beyond offset
	first := sort.Search(n, func(j int) bool { return c.rowStart[j+1] > offset })
	var out []pageSpan
	for j := first; j < n && c.rowStart[j] < offset+limit; j++ {
		from := max(offset, c.rowStart[j]) - c.rowStart[j]
		to := min(offset+limit, c.rowStart[j+1]) - c.rowStart[j]
		if to > from {
			out = append(out, pageSpan{page: &c.pages[j], from: from, to: to, out: c.rowStart[j] + from - offset})
		}
	}
	return out, nil
}

func (r *Reader) readColumn(c *column, dt arrow.DataType, offset, limit int64, alloc memory.Allocator) (arrow.Array, error) {
	if dt.ID() == arrow.NULL {
		return r.readNullColumn(c, offset, limit, alloc)
	}
	if r.minor >= 1 {
		return r.readColumn21(c, dt, offset, limit, alloc)
	}
	spans, err := c.spans(offset, limit)
	if err != nil {
		return nil, err
	}
	for _, s := range spans {
		if s.page.encoding == nil {
			return nil, fmt.Errorf("2.1+ page layout in a 2.0 file")
		}
	}
	switch dt.ID() {
	case arrow.BOOL:
		return r.readFixed(spans, dt, 1, limit, alloc)
	case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY:
		return r.readBinary(spans, dt, limit, alloc)
	}
	if bits := fixedValueBits(dt); bits > 0 {
		return r.readFixed(spans, dt, int64(bits), limit, alloc)
	}
	return nil, fmt.Errorf("reading arrow type %s is not supported", dt)
}

// pageBuffer returns the (offset, size) of buffer idx of page p.
func pageBuffer(p *pageInfo, e *arrayEncoding) (uint64, uint64, error) {
	if e.kind != encFlat {
		return 0, 0, unsupported(e)
	}
	if e.bufferType != 0 {
		return 0, 0, fmt.Errorf("flat buffer of type %d (column/file buffers) not supported", e.bufferType)
	}
	if e.compression != "" {
		return 0, 0, fmt.Errorf("compressed buffers (%q) are not supported yet", e.compression)
	}
	if int(e.bufferIndex) >= len(p.bufOffsets) {
		return 0, 0, fmt.Errorf("buffer index %d out of range (page has %d buffers)", e.bufferIndex, len(p.bufOffsets))
	}
	return p.bufOffsets[e.bufferIndex], p.bufSizes[e.bufferIndex], nil
}

func unsupported(e *arrayEncoding) error {
	return fmt.Errorf("unsupported encoding %s in a 2.0 page", e.name)
}

// newBuffer allocates an n-byte zeroed buffer from alloc.
func newBuffer(alloc memory.Allocator, n int64) *memory.Buffer {
	b := newBufferUncleared(alloc, n)
	clear(b.Bytes())
	return b
}

// newBufferUncleared allocates an n-byte buffer from alloc for a caller
// that writes every byte of it (an allocator need not zero memory).
func newBufferUncleared(alloc memory.Allocator, n int64) *memory.Buffer {
	b := memory.NewResizableBuffer(alloc)
	b.Resize(int(n))
	return b
}
