package lance

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// This file decodes the Arrow IPC files Lance uses as deletion files. It is a
// deliberately narrow reader: one schema field of type UInt32 (or Int32),
// record batches without nulls, bodies uncompressed or compressed per buffer
// with zstd or LZ4 frames. apache/arrow's ipc package is not used because it
// sizes allocations from unchecked file fields (a corrupt field count makes
// it allocate gigabytes); here every length is checked against the input,
// and nothing is allocated beyond 4 bytes per row of the fragment.
//
// IPC file layout: "ARROW1" + padding, encapsulated messages, the Footer
// flatbuffer, its int32 length, "ARROW1". Footer {0 version, 1 schema,
// 2 dictionaries [Block], 3 recordBatches [Block]}; Block is the struct
// {offset i64, metaDataLength i32, pad, bodyLength i64}. A message at
// Block.offset is [0xFFFFFFFF] i32 length, Message flatbuffer {0 version,
// 1 header_type u8, 2 header, 3 bodyLength i64}, then the body. RecordBatch
// {0 length i64, 1 nodes [FieldNode{length, null_count}], 2 buffers
// [Buffer{offset, length}], 3 compression BodyCompression{0 codec}}.

var arrowMagic = []byte("ARROW1")

// fbTable is a flatbuffer table inside buf at pos.
type fbTable struct {
	buf []byte
	pos int
	vt  int // vtable position
	vtn int // vtable size in bytes
}

func u32at(b []byte, pos int) (uint32, error) {
	if pos < 0 || pos > len(b)-4 {
		return 0, fmt.Errorf("offset %d out of range", pos)
	}
	return binary.LittleEndian.Uint32(b[pos:]), nil
}

func fbRoot(buf []byte) (fbTable, error) {
	off, err := u32at(buf, 0)
	if err != nil {
		return fbTable{}, err
	}
	return fbAt(buf, int(off))
}

func fbAt(buf []byte, pos int) (fbTable, error) {
	so, err := u32at(buf, pos)
	if err != nil {
		return fbTable{}, err
	}
	vt := pos - int(int32(so))
	if vt < 0 || vt > len(buf)-4 {
		return fbTable{}, fmt.Errorf("vtable at %d out of range", vt)
	}
	n := int(binary.LittleEndian.Uint16(buf[vt:]))
	if n < 4 || vt+n > len(buf) {
		return fbTable{}, fmt.Errorf("bad vtable size %d", n)
	}
	return fbTable{buf: buf, pos: pos, vt: vt, vtn: n}, nil
}

// field returns the position of field i, or 0 if absent.
func (t fbTable) field(i int) int {
	o := 4 + 2*i
	if o+2 > t.vtn {
		return 0
	}
	off := int(binary.LittleEndian.Uint16(t.buf[t.vt+o:]))
	if off == 0 {
		return 0
	}
	return t.pos + off
}

func (t fbTable) scalar(i, size int) (uint64, error) {
	p := t.field(i)
	if p == 0 {
		return 0, nil
	}
	if p+size > len(t.buf) {
		return 0, fmt.Errorf("field %d out of range", i)
	}
	switch size {
	case 1:
		return uint64(t.buf[p]), nil
	case 2:
		return uint64(binary.LittleEndian.Uint16(t.buf[p:])), nil
	case 4:
		return uint64(binary.LittleEndian.Uint32(t.buf[p:])), nil
	}
	return binary.LittleEndian.Uint64(t.buf[p:]), nil
}

// ref follows the offset stored in field i (table, vector or string).
func (t fbTable) ref(i int) (int, bool, error) {
	p := t.field(i)
	if p == 0 {
		return 0, false, nil
	}
	off, err := u32at(t.buf, p)
	if err != nil {
		return 0, false, err
	}
	return p + int(off), true, nil
}

func (t fbTable) table(i int) (fbTable, bool, error) {
	p, ok, err := t.ref(i)
	if !ok || err != nil {
		return fbTable{}, ok, err
	}
	sub, err := fbAt(t.buf, p)
	return sub, true, err
}

// vector returns the element start and count of vector field i whose
// elements are elemSize bytes (4 for offsets to tables).
func (t fbTable) vector(i, elemSize int) (int, int, error) {
	p, ok, err := t.ref(i)
	if !ok || err != nil {
		return 0, 0, err
	}
	n, err := u32at(t.buf, p)
	if err != nil {
		return 0, 0, err
	}
	if uint64(n)*uint64(elemSize) > uint64(len(t.buf)-p-4) {
		return 0, 0, fmt.Errorf("vector of %d elements overruns the buffer", n)
	}
	return p + 4, int(n), nil
}

func (t fbTable) vectorTable(i, k int) (fbTable, error) {
	start, n, err := t.vector(i, 4)
	if err != nil {
		return fbTable{}, err
	}
	if k >= n {
		return fbTable{}, fmt.Errorf("element %d of %d", k, n)
	}
	off, _ := u32at(t.buf, start+4*k)
	return fbAt(t.buf, start+4*k+int(off))
}

func i64(b []byte) int64 { return int64(binary.LittleEndian.Uint64(b)) }

// decodeArrowDeletions parses an Arrow IPC file holding one non-null UInt32
// (or, as the proto comment has it, Int32) column of row offsets, returning
// them sorted and deduplicated; every offset must be below physRows.
func decodeArrowDeletions(data []byte, physRows uint64) ([]uint32, error) {
	n := len(data)
	if n < 2*len(arrowMagic)+4 || !bytes.Equal(data[:6], arrowMagic) || !bytes.Equal(data[n-6:], arrowMagic) {
		return nil, errors.New("not an Arrow IPC file (magic)")
	}
	flen := int(int32(binary.LittleEndian.Uint32(data[n-10:])))
	if flen <= 0 || flen > n-10-8 {
		return nil, fmt.Errorf("footer length %d out of range", flen)
	}
	footer, err := fbRoot(data[n-10-flen : n-10])
	if err != nil {
		return nil, fmt.Errorf("footer: %w", err)
	}
	if err := checkDeletionSchema(footer); err != nil {
		return nil, err
	}
	bstart, nb, err := footer.vector(3, 24)
	if err != nil {
		return nil, fmt.Errorf("record batch blocks: %w", err)
	}
	var dv []uint32
	for k := 0; k < nb; k++ {
		blk := footer.buf[bstart+24*k:]
		off, metaLen, bodyLen := i64(blk), int64(int32(binary.LittleEndian.Uint32(blk[8:]))), i64(blk[16:])
		if off < 0 || metaLen <= 0 || bodyLen < 0 || off > int64(n) || metaLen > int64(n)-off || bodyLen > int64(n)-off-metaLen {
			return nil, fmt.Errorf("record batch %d: block out of range", k)
		}
		dv, err = appendBatchRows(dv, data[off:off+metaLen], data[off+metaLen:off+metaLen+bodyLen], physRows)
		if err != nil {
			return nil, fmt.Errorf("record batch %d: %w", k, err)
		}
	}
	slices.Sort(dv)
	dv = slices.Compact(dv)
	if len(dv) > 0 && uint64(dv[len(dv)-1]) >= physRows {
		return nil, fmt.Errorf("deleted row %d is past the fragment's %d rows", dv[len(dv)-1], physRows)
	}
	return dv, nil
}

// checkDeletionSchema checks that the footer's schema is one 32-bit integer
// field.
func checkDeletionSchema(footer fbTable) error {
	sch, ok, err := footer.table(1)
	if err != nil || !ok {
		return fmt.Errorf("footer schema missing or malformed (%v)", err)
	}
	_, nf, err := sch.vector(1, 4)
	if err != nil {
		return fmt.Errorf("schema fields: %w", err)
	}
	if nf != 1 {
		return fmt.Errorf("%d columns, want 1 (row_id)", nf)
	}
	fld, err := sch.vectorTable(1, 0)
	if err != nil {
		return fmt.Errorf("schema field: %w", err)
	}
	typeType, err := fld.scalar(2, 1)
	if err != nil {
		return err
	}
	const typeInt = 2
	if typeType != typeInt {
		return fmt.Errorf("row_id has Arrow type %d, want Int", typeType)
	}
	it, ok, err := fld.table(3)
	if err != nil || !ok {
		return fmt.Errorf("row_id type missing or malformed (%v)", err)
	}
	width, err := it.scalar(0, 4)
	if err != nil {
		return err
	}
	if width != 32 {
		return fmt.Errorf("row_id is a %d-bit integer, want 32", width)
	}
	return nil
}

// appendBatchRows decodes one record batch message (meta: continuation,
// length, flatbuffer) and its body, appending its values to dv.
func appendBatchRows(dv []uint32, meta, body []byte, physRows uint64) ([]uint32, error) {
	if len(meta) >= 4 && binary.LittleEndian.Uint32(meta) == 0xFFFFFFFF {
		meta = meta[4:]
	}
	if len(meta) < 4 {
		return nil, errors.New("message too short")
	}
	mlen := int(int32(binary.LittleEndian.Uint32(meta)))
	if mlen <= 0 || mlen > len(meta)-4 {
		return nil, fmt.Errorf("message length %d out of range", mlen)
	}
	msg, err := fbRoot(meta[4 : 4+mlen])
	if err != nil {
		return nil, fmt.Errorf("message: %w", err)
	}
	const headerRecordBatch = 3
	if ht, err := msg.scalar(1, 1); err != nil || ht != headerRecordBatch {
		return nil, fmt.Errorf("message header type %d, want RecordBatch (%v)", ht, err)
	}
	rb, ok, err := msg.table(2)
	if err != nil || !ok {
		return nil, fmt.Errorf("record batch header missing or malformed (%v)", err)
	}
	length, err := rb.scalar(0, 8)
	if err != nil {
		return nil, err
	}
	if length > physRows || uint64(len(dv))+length > physRows {
		return nil, fmt.Errorf("more deleted rows than the fragment's %d rows", physRows)
	}
	ns, nn, err := rb.vector(1, 16)
	if err != nil || nn != 1 {
		return nil, fmt.Errorf("want 1 field node, have %d (%v)", nn, err)
	}
	if node := rb.buf[ns:]; uint64(i64(node)) != length || i64(node[8:]) != 0 {
		return nil, fmt.Errorf("field node: %d rows, %d nulls (batch of %d, no nulls allowed)", i64(node), i64(node[8:]), length)
	}
	bs, nbuf, err := rb.vector(2, 16)
	if err != nil || nbuf != 2 {
		return nil, fmt.Errorf("want 2 buffers (validity, values), have %d (%v)", nbuf, err)
	}
	codec := -1
	if comp, ok, err := rb.table(3); err != nil {
		return nil, err
	} else if ok {
		c, err := comp.scalar(0, 1)
		if err != nil {
			return nil, err
		}
		codec = int(c)
	}
	vb := rb.buf[bs+16:] // buffer 1: values (buffer 0, validity, is unused without nulls)
	voff, vlen := i64(vb), i64(vb[8:])
	if voff < 0 || vlen < 0 || voff > int64(len(body)) || vlen > int64(len(body))-voff {
		return nil, errors.New("values buffer out of range")
	}
	want := int(length) * 4
	vals, err := bodyBuffer(body[voff:voff+vlen], codec, want)
	if err != nil {
		return nil, fmt.Errorf("values buffer: %w", err)
	}
	for i := 0; i < want; i += 4 {
		x := binary.LittleEndian.Uint32(vals[i:])
		if uint64(x) >= physRows {
			// Also catches negative Int32 values.
			return nil, fmt.Errorf("deleted row %d is past the fragment's %d rows", x, physRows)
		}
		dv = append(dv, x)
	}
	return dv, nil
}

// zstdMaxWindow is the largest window a deletion file's zstd frame may ask
// for: 8 MiB, the most zstd's standard levels (1 to 19) use. The decoder
// refuses a window beyond its memory bound, and older writers (pylance 0.20's
// arrow-rs streams frames without their content size) ask for their level's
// whole window, 2 MiB, for a body of a few hundred bytes.
const zstdMaxWindow = 8 << 20

// bodyBuffer returns the first want bytes of an IPC body buffer, undoing
// per-buffer compression (codec -1: none; 0: LZ4 frame; 1: zstd). A
// compressed buffer starts with its i64 uncompressed length, -1 meaning
// "stored uncompressed".
func bodyBuffer(b []byte, codec, want int) ([]byte, error) {
	if codec < 0 {
		if len(b) < want {
			return nil, fmt.Errorf("%d bytes, need %d", len(b), want)
		}
		return b[:want], nil
	}
	if len(b) < 8 {
		if want == 0 {
			return nil, nil
		}
		return nil, errors.New("compressed buffer without length prefix")
	}
	ulen := i64(b)
	b = b[8:]
	if ulen == -1 {
		return bodyBuffer(b, -1, want)
	}
	if ulen < int64(want) || ulen > int64(want)+64 {
		return nil, fmt.Errorf("uncompressed length %d, want %d", ulen, want)
	}
	var r io.Reader
	switch codec {
	case 0:
		r = lz4.NewReader(bytes.NewReader(b))
	case 1:
		zr, err := zstd.NewReader(bytes.NewReader(b), zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxMemory(max(uint64(ulen)+1<<20, zstdMaxWindow)))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	default:
		return nil, fmt.Errorf("unknown compression codec %d", codec)
	}
	out := make([]byte, ulen)
	if _, err := io.ReadFull(r, out); err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	return out[:want], nil
}
