package file

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// 2.0 fixed-width and bool pages (encodings_v2_0.proto):
//
//	Nullable{no_nulls{Flat{bits, buffer 0}}}                           buffers [values]
//	Nullable{some_nulls{validity Flat{1, buffer 0}, values Flat{bits, buffer 1}}}
//	Nullable{all_nulls{}}                                               no buffers
//
// Values are little-endian and occupy their slot even under a null; bitmaps
// (validity and bool values) are LSB-first starting at bit 0 of the buffer.
// Because every row has a fixed size, a row range maps to one byte range
// per buffer, which is all we read.

// readFixed decodes rows of fixed-width (bits >= 8) or bool (bits == 1) pages.
func (r *Reader) readFixed(spans []pageSpan, dt arrow.DataType, bits, n int64, alloc memory.Allocator) (arrow.Array, error) {
	values := newBuffer(alloc, (n*bits+7)/8)
	validity := newBuffer(alloc, (n+7)/8)
	defer values.Release()
	defer validity.Release()
	if n > 0 {
		bitutil.SetBitsTo(validity.Bytes(), 0, n, true)
	}
	var nulls int64
	for _, s := range spans {
		k := s.to - s.from
		e := s.page.encoding
		valEnc := e
		if e.kind == encNullable {
			switch e.nulls {
			case allNulls:
				bitutil.SetBitsTo(validity.Bytes(), s.out, k, false)
				nulls += k
				continue
			case someNulls:
				if err := r.readBits(s, e.validity, validity.Bytes()); err != nil {
					return nil, fmt.Errorf("validity: %w", err)
				}
				nulls += k - int64(bitutil.CountSetBits(validity.Bytes(), int(s.out), int(k)))
			}
			valEnc = e.values
		}
		if valEnc.kind != encFlat {
			return nil, unsupported(valEnc)
		}
		if valEnc.bitsPerValue != uint64(bits) {
			return nil, fmt.Errorf("page stores %d-bit values, %s needs %d", valEnc.bitsPerValue, dt, bits)
		}
		var err error
		if bits == 1 {
			err = r.readBits(s, valEnc, values.Bytes())
		} else {
			err = r.readBytes(s, valEnc, bits/8, values.Bytes())
		}
		if err != nil {
			return nil, err
		}
	}
	bufs := []*memory.Buffer{nil, values}
	if nulls > 0 {
		bufs[0] = validity
	}
	data := array.NewData(dt, int(n), bufs, nil, int(nulls), 0)
	defer data.Release()
	return array.MakeFromData(data), nil
}

// readBytes copies rows [s.from, s.to) of a flat buffer of width-byte values
// straight into dst at row s.out.
func (r *Reader) readBytes(s pageSpan, e *arrayEncoding, width int64, dst []byte) error {
	off, size, err := pageBuffer(s.page, e)
	if err != nil {
		return err
	}
	if uint64(s.to)*uint64(width) > size {
		return fmt.Errorf("value buffer of %d bytes too small for %d rows", size, s.to)
	}
	b := dst[s.out*width : (s.out+s.to-s.from)*width]
	if len(b) == 0 {
		return nil
	}
	_, err = r.f.ReadAt(b, int64(off)+s.from*width)
	return err
}

// readBits copies bits [s.from, s.to) of a 1-bit flat buffer into the bitmap
// dst at bit s.out.
func (r *Reader) readBits(s pageSpan, e *arrayEncoding, dst []byte) error {
	if e.kind != encFlat {
		return unsupported(e)
	}
	if e.bitsPerValue != 1 {
		return fmt.Errorf("bitmap with %d bits per value", e.bitsPerValue)
	}
	off, size, err := pageBuffer(s.page, e)
	if err != nil {
		return err
	}
	first, last := s.from/8, (s.to+7)/8
	if uint64(last) > size {
		return fmt.Errorf("bitmap of %d bytes too small for %d rows", size, s.to)
	}
	tmp := make([]byte, last-first)
	if _, err := r.f.ReadAt(tmp, int64(off)+first); err != nil {
		return err
	}
	bitutil.CopyBitmap(tmp, int(s.from%8), int(s.to-s.from), dst, int(s.out))
	return nil
}
