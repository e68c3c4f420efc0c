package file

import (
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Packed structs and blob columns, pylance's opt-in encodings chosen by
// field metadata.
//
// A struct whose field metadata sets "lance-encoding:packed" to true is one
// column, not one per child: each row is its children's fixed-width values
// back to back. 2.0 pages are PackedStruct{inner: a Flat per child,
// buffer} (pylance refuses struct nulls at 2.0); 2.1+ pages are mini-block
// pages whose values are PackedStruct{bits_per_value per child, Flat rows},
// the struct's nulls in the def levels. Only children of whole bytes are
// read (pylance packs fixed-width children only).
//
// Blob columns ("lance-encoding:blob"; at 2.2 the extension type
// lance.blob.v2) keep their values outside the pages;
// pylance's to_table returns descriptions of them. They are refused with an
// error naming the encoding and the column. The writer writes neither
// (checkLayoutMetadata, layout_metadata.go): a bucket with such a column is read, and refuses
// appends.

const (
	packedMetadataKey       = "lance-encoding:packed"
	packedLegacyMetadataKey = "packed" // the older spelling pylance still honours
	blobMetadataKey         = "lance-encoding:blob"
	// 2.2 blob columns are structs of this Arrow extension type
	extensionNameKey    = "ARROW:extension:name"
	blobExtensionPrefix = "lance.blob"
)

func metadataTrue(md arrow.Metadata, key string) bool {
	v, _ := md.GetValue(key)
	return truthy(v)
}

// isPacked reports whether field f is a packed struct.
func isPacked(f arrow.Field) bool {
	return f.Type.ID() == arrow.STRUCT &&
		(metadataTrue(f.Metadata, packedMetadataKey) || metadataTrue(f.Metadata, packedLegacyMetadataKey))
}

// blobError is the error for reading a blob column, nil for other fields.
func blobError(f arrow.Field) error {
	if metadataTrue(f.Metadata, blobMetadataKey) {
		return fmt.Errorf("blob columns (%s) are not supported by this reader", blobMetadataKey)
	}
	if ext, _ := f.Metadata.GetValue(extensionNameKey); strings.HasPrefix(ext, blobExtensionPrefix) {
		return fmt.Errorf("blob columns (extension type %s) are not supported by this reader", ext)
	}
	return nil
}

// packedLayout checks that st's children are fixed-width values of whole
// bytes and returns their widths in bytes and the bytes of a row.
func packedLayout(st *arrow.StructType) ([]int, int, error) {
	widths := make([]int, st.NumFields())
	rowBytes := 0
	for i, f := range st.Fields() {
		b := leafBits(f.Type)
		if b < 8 || b%8 != 0 {
			return nil, 0, fmt.Errorf("packed struct child %q of type %s is not supported", f.Name, f.Type)
		}
		widths[i] = b / 8
		rowBytes += b / 8
	}
	return widths, rowBytes, nil
}

// packedRows decodes a 2.1+ PackedStruct block of rows (decode decodes its
// values encoding).
func packedRows(e *compressive, decode func(*compressive) (*block, error)) (*block, error) {
	total := uint64(0)
	for _, b := range e.fieldBits {
		if b == 0 || b%8 != 0 || b > 1<<16 {
			return nil, fmt.Errorf("packed struct child of %d bits not supported", b)
		}
		total += b
	}
	rows, err := decode(e.child)
	if err != nil {
		return nil, err
	}
	if rows.dim != 0 || rows.dict != nil || uint64(rows.bits) != total {
		return nil, fmt.Errorf("packed struct rows of %d bits, children need %d", rows.bits, total)
	}
	return rows, nil
}

func (r *Reader) readPacked(c *column, st *arrow.StructType, offset, limit int64, alloc memory.Allocator) (arrow.Array, error) {
	widths, rowBytes, err := packedLayout(st)
	if err != nil {
		return nil, err
	}
	spans, err := c.spans(offset, limit)
	if err != nil {
		return nil, err
	}
	rows := make([]byte, 0, int(limit)*rowBytes)
	valid := make([]bool, 0, limit)
	if r.minor >= 1 {
		rows, valid, err = r.packedSpans21(spans, rowBytes, rows, valid)
	} else {
		rows, valid, err = r.packedSpans20(spans, widths, rowBytes, rows, valid)
	}
	if err != nil {
		return nil, err
	}
	if len(valid) != int(limit) || len(rows) != int(limit)*rowBytes {
		return nil, fmt.Errorf("pages hold %d rows, want %d", len(valid), limit)
	}
	return assemblePacked(st, widths, rowBytes, rows, valid, alloc), nil
}

// packedSpans20 appends the rows of 2.0 PackedStruct pages (never null).
func (r *Reader) packedSpans20(spans []pageSpan, widths []int, rowBytes int, rows []byte, valid []bool) ([]byte, []bool, error) {
	for _, s := range spans {
		e := s.page.encoding
		if e == nil || e.kind != encPackedStruct {
			return nil, nil, fmt.Errorf("packed struct page: %w", unsupported(e))
		}
		if len(e.inner) != len(widths) {
			return nil, nil, fmt.Errorf("packed struct page of %d children, the struct has %d", len(e.inner), len(widths))
		}
		for i, in := range e.inner {
			if in.kind == encNullable && in.nulls == noNulls && in.values != nil {
				in = in.values // how pylance wraps each child
			}
			if in.kind != encFlat || in.bitsPerValue != uint64(8*widths[i]) {
				return nil, nil, fmt.Errorf("packed struct child %d: %s of %d bits, want Flat of %d", i, in.name, in.bitsPerValue, 8*widths[i])
			}
		}
		if e.bufferType != 0 || int(e.bufferIndex) >= len(s.page.bufOffsets) {
			return nil, nil, fmt.Errorf("packed struct buffer %d (type %d) not in the page", e.bufferIndex, e.bufferType)
		}
		off, size := s.page.bufOffsets[e.bufferIndex], s.page.bufSizes[e.bufferIndex]
		if uint64(s.to)*uint64(rowBytes) > size {
			return nil, nil, fmt.Errorf("packed struct buffer of %d bytes too small for %d rows", size, s.to)
		}
		n := int(s.to-s.from) * rowBytes
		start := len(rows)
		rows = append(rows, make([]byte, n)...)
		if _, err := r.f.ReadAt(rows[start:], int64(off)+s.from*int64(rowBytes)); err != nil {
			return nil, nil, err
		}
		for i := s.from; i < s.to; i++ {
			valid = append(valid, true)
		}
	}
	return rows, valid, nil
}

// packedSpans21 appends the rows, and their validity, of 2.1+ pages.
func (r *Reader) packedSpans21(spans []pageSpan, rowBytes int, rows []byte, valid []bool) ([]byte, []bool, error) {
	for _, s := range spans {
		sp, err := r.decodeSpan21(s)
		if err != nil {
			return nil, nil, err
		}
		err = func() error {
			defer sp.giveBack()
			if sp.rep != nil || sp.nVis != sp.rows || (sp.def != nil && len(sp.def) != sp.rows) {
				return fmt.Errorf("packed struct page levels do not match its %d rows", sp.rows)
			}
			blocks := sp.valParts
			if blocks == nil {
				blocks = []*block{sp.vals}
			}
			got := 0
			for _, b := range blocks {
				if b == nil { // no valid row
					rows = append(rows, make([]byte, (sp.rows-got)*rowBytes)...)
					got = sp.rows
					continue
				}
				if b.bits != 8*rowBytes || b.dict != nil || len(b.data) < b.n*rowBytes {
					return fmt.Errorf("packed struct page of %d-bit rows, the struct needs %d", b.bits, 8*rowBytes)
				}
				rows = append(rows, b.data[:b.n*rowBytes]...)
				got += b.n
			}
			if got != sp.rows {
				return fmt.Errorf("packed struct page decoded %d rows of %d", got, sp.rows)
			}
			for i := 0; i < sp.rows; i++ {
				valid = append(valid, sp.def == nil || sp.def[i] == 0)
			}
			return nil
		}()
		if err != nil {
			return nil, nil, err
		}
	}
	return rows, valid, nil
}

// assemblePacked splits rows into the struct's children; a null row is
// null in every child too, as the rep/def levels of a struct give it.
func assemblePacked(st *arrow.StructType, widths []int, rowBytes int, rows []byte, valid []bool, alloc memory.Allocator) arrow.Array {
	n := len(valid)
	var validity *memory.Buffer
	nulls := 0
	for i, v := range valid {
		if v {
			continue
		}
		if validity == nil {
			validity = newBuffer(alloc, int64((n+7)/8))
			defer validity.Release()
			bitutil.SetBitsTo(validity.Bytes(), 0, int64(n), true)
		}
		bitutil.ClearBit(validity.Bytes(), i)
		nulls++
	}
	kids := make([]arrow.ArrayData, len(widths))
	at := 0
	for k, w := range widths {
		buf := newBuffer(alloc, int64(n*w))
		dst := buf.Bytes()
		for i := 0; i < n; i++ {
			if valid[i] {
				copy(dst[i*w:(i+1)*w], rows[i*rowBytes+at:i*rowBytes+at+w])
			}
		}
		var kv *memory.Buffer
		if validity != nil {
			kv = newBufferUncleared(alloc, int64(validity.Len()))
			copy(kv.Bytes(), validity.Bytes())
		}
		kids[k] = array.NewData(st.Field(k).Type, n, []*memory.Buffer{kv, buf}, nil, nulls, 0)
		buf.Release()
		if kv != nil {
			kv.Release()
		}
		at += w
	}
	data := array.NewData(st, n, []*memory.Buffer{validity}, kids, nulls, 0)
	for _, k := range kids {
		k.Release()
	}
	defer data.Release()
	return array.MakeFromData(data)
}
