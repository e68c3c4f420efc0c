package file

import (
	"fmt"
)

// lance.file.v2.ColumnMetadata (protos/file2.proto):
//
//	ColumnMetadata: 1 encoding (Encoding)  2 pages (repeated Page)
//	                3 buffer_offsets  4 buffer_sizes (column buffers; unused for 2.0 leaves)
//	Page:           1 buffer_offsets (packed u64)  2 buffer_sizes (packed u64)
//	                3 length (rows)  4 encoding (Encoding)  5 priority
//	Encoding:       oneof 1 indirect, 2 direct {1 bytes encoding = Any}, 3 none
//
// Lance always writes "direct"; its reader rejects the others, so do we.

type pageInfo struct {
	bufOffsets []uint64
	bufSizes   []uint64
	length     uint64
	priority   uint64
	encoding   *arrayEncoding // 2.0 pages
	layout     *pageLayout    // 2.1+ pages
}

type columnMetadata struct {
	pages []pageInfo
}

// maxPageBuffers bounds buffers per page (2.0 pages use at most 3).
const maxPageBuffers = 1 << 10

// decodeDirectEncoding unwraps Encoding{direct{Any}} and returns the Any.
func decodeDirectEncoding(b []byte) (typeURL string, value []byte, err error) {
	var any []byte
	found := false
	err = pbWalk(b, func(f pbField) error {
		switch f.num {
		case 1:
			return fmt.Errorf("lance file: indirect encodings are not supported")
		case 3:
			return fmt.Errorf("lance file: column or page without encoding")
		case 2:
			v, err := f.wantBytes("Encoding.direct")
			if err != nil {
				return err
			}
			found = true
			return pbWalk(v, func(f pbField) error {
				if f.num == 1 {
					v, err := f.wantBytes("DirectEncoding.encoding")
					any = v
					return err
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	if !found {
		return "", nil, fmt.Errorf("lance file: missing encoding")
	}
	return unmarshalAny(any)
}

// decodeColumnMetadata parses one ColumnMetadata message. Page buffers are
// checked to lie within the first dataEnd bytes of the file.
func decodeColumnMetadata(b []byte, dataEnd uint64) (columnMetadata, error) {
	var cm columnMetadata
	err := pbWalk(b, func(f pbField) error {
		switch f.num {
		case 1:
			v, err := f.wantBytes("ColumnMetadata.encoding")
			if err != nil {
				return err
			}
			url, _, err := decodeDirectEncoding(v)
			if err != nil {
				return err
			}
			if url != typeURLColumnEncoding {
				return fmt.Errorf("lance file: unsupported column encoding %q", url)
			}
		case 2:
			v, err := f.wantBytes("ColumnMetadata.pages")
			if err != nil {
				return err
			}
			p, err := decodePage(v, dataEnd)
			if err != nil {
				return fmt.Errorf("page %d: %w", len(cm.pages), err)
			}
			cm.pages = append(cm.pages, p)
		}
		return nil
	})
	return cm, err
}

func decodePage(b []byte, dataEnd uint64) (pageInfo, error) {
	var p pageInfo
	var encBytes []byte
	haveEnc := false
	err := pbWalk(b, func(f pbField) error {
		var err error
		switch f.num {
		case 1:
			p.bufOffsets, err = appendUint64s(p.bufOffsets, f, "Page.buffer_offsets", maxPageBuffers)
		case 2:
			p.bufSizes, err = appendUint64s(p.bufSizes, f, "Page.buffer_sizes", maxPageBuffers)
		case 3:
			p.length, err = f.wantVarint("Page.length")
		case 4:
			encBytes, err = f.wantBytes("Page.encoding")
			haveEnc = true
		case 5:
			p.priority, err = f.wantVarint("Page.priority")
		}
		return err
	})
	if err != nil {
		return p, err
	}
	if len(p.bufOffsets) != len(p.bufSizes) {
		return p, fmt.Errorf("lance file: page has %d buffer offsets but %d sizes", len(p.bufOffsets), len(p.bufSizes))
	}
	for i, off := range p.bufOffsets {
		if off > dataEnd || p.bufSizes[i] > dataEnd-off {
			return p, fmt.Errorf("lance file: page buffer %d (%d bytes at %d) outside file", i, p.bufSizes[i], off)
		}
	}
	if !haveEnc {
		return p, fmt.Errorf("lance file: page without encoding")
	}
	url, val, err := decodeDirectEncoding(encBytes)
	if err != nil {
		return p, err
	}
	switch url {
	case typeURLArrayEncoding:
		p.encoding, err = decodeArrayEncoding(val, 0)
	case typeURLPageLayout:
		p.layout, err = decodePageLayout(val)
	default:
		return p, fmt.Errorf("lance file: unsupported page encoding %q", url)
	}
	return p, err
}

// Encoding side.

func directEncoding(typeURL string, value []byte) []byte {
	direct := pbBytes(nil, 1, marshalAny(typeURL, value))
	return pbBytes(nil, 2, direct)
}

// columnEncodingValues is Any{ColumnEncoding{values: Empty}} wrapped in
// Encoding.direct; Lance checks for exactly this on 2.0 leaf columns.
var columnEncodingValues = directEncoding(typeURLColumnEncoding, []byte{0x0a, 0x00})

// pageOut is a page as the writer records it.
type pageOut struct {
	bufOffsets []uint64
	bufSizes   []uint64
	length     uint64
	priority   uint64 // 2.1+: the page's first row, as Lance writes it
	typeURL    string // "" means typeURLArrayEncoding (2.0)
	encoding   []byte // serialized ArrayEncoding or PageLayout
}

func marshalColumnMetadata(pages []pageOut) []byte {
	b := pbBytes(nil, 1, columnEncodingValues)
	for _, p := range pages {
		var pb []byte
		pb = pbPacked(pb, 1, p.bufOffsets)
		pb = pbPacked(pb, 2, p.bufSizes)
		pb = pbVarintNZ(pb, 3, p.length)
		url := p.typeURL
		if url == "" {
			url = typeURLArrayEncoding
		}
		pb = pbBytes(pb, 4, directEncoding(url, p.encoding))
		pb = pbVarintNZ(pb, 5, p.priority) // 0 for 2.0 pages, which Lance leaves unset
		b = pbBytes(b, 2, pb)
	}
	return b
}
