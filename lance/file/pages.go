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
