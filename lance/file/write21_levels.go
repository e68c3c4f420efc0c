package file

import (
	"encoding/binary"
	"math/bits"

	"google.golang.org/protobuf/encoding/protowire"
)

// Rep/def levels of the 2.1+ writer: the layers a page needs, the levels as
// u16s, and the repetition index of mini-block pages.

// pageLayers returns the layers (innermost first) the pending page needs
// and the map from canonical to actual def levels.
func (lw *leafWriter) pageLayers() (layers []repDefLayer, defMap []uint16, maxVisible uint16) {
	p := &lw.p
	D := len(lw.nodes)
	defMap = make([]uint16, 1, 2*D+1)
	var abase uint16
	sawList := false
	for d := D - 1; d >= 0; d-- {
		if lw.nodes[d].kind != nodeList {
			if p.hasNull[d] {
				layers = append(layers, layerNullableItem)
				defMap = append(defMap, abase+1)
				abase++
			} else {
				layers = append(layers, layerAllValidItem)
				defMap = append(defMap, 0) // unused
			}
			if !sawList {
				maxVisible = abase
			}
			continue
		}
		sawList = true
		switch null, empty := p.hasNull[d], p.hasEmpty[d]; {
		case null && empty:
			layers = append(layers, layerNullAndEmptyList)
			defMap = append(defMap, abase+1, abase+2)
			abase += 2
		case null:
			layers = append(layers, layerNullableList)
			defMap = append(defMap, abase+1, 0)
			abase++
		case empty:
			layers = append(layers, layerEmptyableList)
			defMap = append(defMap, 0, abase+1)
			abase++
		default:
			layers = append(layers, layerAllValidList)
			defMap = append(defMap, 0, 0)
		}
	}
	return layers, defMap, maxVisible
}

func levelBytes(ls []uint16) []byte { return appendLevels(nil, ls) }

// appendLevels appends levels as little-endian u16s.
func appendLevels(b []byte, ls []uint16) []byte {
	n := len(b)
	b = growZero(b, 2*len(ls))
	for i, l := range ls {
		binary.LittleEndian.PutUint16(b[n+2*i:], l)
	}
	return b
}

func encLayers(b []byte, num protowire.Number, layers []repDefLayer) []byte {
	vs := make([]uint64, len(layers))
	for i, l := range layers {
		vs[i] = uint64(l)
	}
	return pbPacked(b, num, vs)
}

// appendRepIndex adds the repetition index entry of chunk ci (of n) with
// repetition levels rl: rows finished in the chunk and entries left over
// after the last finished row (Lance's definition, including its fix-up of
// the previous chunk when this one starts a new row).
func appendRepIndex(ri []uint64, rl []uint16, maxRep uint16, ci, n int) []uint64 {
	var rows uint64
	for _, r := range rl[1:] {
		if r == maxRep {
			rows++
		}
	}
	var left uint64
	if ci < n-1 {
		left = uint64(len(rl))
		for k := len(rl) - 1; k >= 0; k-- {
			if rl[k] == maxRep {
				left = uint64(len(rl) - k)
				break
			}
		}
	}
	if ci != 0 && len(rl) > 0 && rl[0] == maxRep && ri[len(ri)-1] != 0 {
		ri[len(ri)-2]++
		ri[len(ri)-1] = 0
	}
	if ci == n-1 {
		rows++
	}
	return append(ri, rows, left)
}

func bitLen16(x uint16) uint64 { return uint64(bits.Len16(x)) }
