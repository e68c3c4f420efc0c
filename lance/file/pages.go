package file

// PageExtent is where one page of a column lies in the file and which rows
// it holds (for tools that check or describe a file page by page).
type PageExtent struct {
	FirstRow, Rows int64
	// Offset and End bound the page's buffers (End exclusive); both 0 for a
	// page without buffers.
	Offset, End uint64
}

// Pages lists the pages of file column col in row order (nil when col is
// out of range).
func (r *Reader) Pages(col int) []PageExtent {
	if col < 0 || col >= len(r.cols) {
		return nil
	}
	c := &r.cols[col]
	out := make([]PageExtent, len(c.pages))
	for j := range c.pages {
		p := &c.pages[j]
		e := PageExtent{FirstRow: c.rowStart[j], Rows: c.rowStart[j+1] - c.rowStart[j]}
		for k, off := range p.bufOffsets {
			if e.End == 0 || off < e.Offset {
				e.Offset = off
			}
			e.End = max(e.End, off+p.bufSizes[k])
		}
		out[j] = e
	}
	return out
}

// MetadataOffset is where the metadata of a Lance file of size bytes whose
// last 40 bytes are tail begins, for pointing at damage that keeps the file
// from opening: the column metadata start its footer records, or the
// footer itself when that is damaged.
func MetadataOffset(tail []byte, size int64) int64 {
	f, err := parseFooter(tail, size)
	if err != nil {
		return max(size-footerSize, 0)
	}
	return int64(f.columnMetaStart)
}

// FooterSize is the size of the footer at the end of every Lance file.
const FooterSize = footerSize
