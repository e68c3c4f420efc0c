package file

import "slices"

// Dictionary encoding of 128-bit values (fixed_size_binary[16], decimal128):
// pylance 14 dictionary-encodes a fixed-width page only at this width, at
// 2.1 and 2.2 alike, on the rules of buildVarDict (at most values/2
// distinct, a dictionary worth dictSizeRatio of the plain page). The
// dictionary is the distinct values, 16 bytes each, stored Flat; the
// chunks hold u32 indices. A null's zeroed slot is a value like any other.

// dictWideBytes is the only value width buildWideDict takes.
const dictWideBytes = 16

// buildWideDict is buildDict for a leaf of 16-byte values.
func (lw *leafWriter) buildWideDict() *pageDict {
	p := &lw.p
	n := p.nVis
	var raw []byte
	head := n
	if lw.isFlat() {
		head = min(n, dictSample+1)
		raw = lw.appendFlatValues(make([]byte, 0, head*dictWideBytes), 0, head)
	} else {
		raw = p.fixed[:n*dictWideBytes]
	}
	limit := min(n/2, dictMaxItems)
	seen := make(map[[dictWideBytes]byte]uint32, 64)
	idx := make([]uint32, 0, head)
	var items []byte
	for i := 0; i < n; i++ {
		if i == head {
			raw = lw.appendFlatValues(slices.Grow(raw, (n-head)*dictWideBytes), head, n)
			idx = slices.Grow(idx, n-head)
		}
		v := [dictWideBytes]byte(raw[i*dictWideBytes : (i+1)*dictWideBytes])
		k, ok := seen[v]
		if !ok {
			if len(seen) >= limit || (i == dictSample && len(seen) > dictSample/2) {
				return nil
			}
			k = uint32(len(seen))
			seen[v] = k
			items = append(items, v[:]...)
		}
		idx = append(idx, k)
	}
	d := &pageDict{idx: idx, n: len(seen)}
	if d.encodedSize(len(items)) >= dictSizeRatio*float64(n*dictWideBytes) {
		return nil
	}
	d.enc = encFlat21(8 * dictWideBytes)
	d.block = items
	return d
}
