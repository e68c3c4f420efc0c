package pymarshal

import (
	"errors"
	"testing"
)

// FuzzDecode: no input panics, every refusal is one of the three errors, and
// walking an accepted value with the accessors stays inside the table.
func FuzzDecode(f *testing.F) {
	cases := loadCases(f, "testdata/cases.json")
	for _, c := range cases.Good {
		f.Add(unhex(f, c.Marshal))
	}
	for _, c := range cases.Bad {
		f.Add(unhex(f, c.Marshal))
	}
	var d Decoder
	f.Fuzz(func(t *testing.T, in []byte) {
		root, err := d.Decode(in)
		if err != nil {
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		budget := 100000 // references can share one subtree many times over
		walk(&d, root, &budget)
	})
}

// walk visits every item under i (through references), up to budget nodes.
func walk(d *Decoder, i Node, budget *int) {
	if *budget--; *budget < 0 {
		return
	}
	switch d.Kind(i) {
	case Str, Bytes:
		_ = d.Bytes(i)
		_ = d.ValidUTF8(i)
	case Int:
		_ = d.Int(i)
	case BigInt:
		if v := d.BigInt(i); v.IsInt64() {
			panic("a BigInt node within int64")
		}
	case Float:
		_ = d.Float(i)
	case List, Tuple:
		for c, k := d.First(i), 0; k < d.Len(i); c, k = d.Next(c), k+1 {
			walk(d, c, budget)
		}
	case Dict:
		for c, k := d.First(i), 0; k < 2*d.Len(i); c, k = d.Next(c), k+1 {
			walk(d, c, budget)
		}
	}
}
