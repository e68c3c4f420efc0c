package pymarshal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"unicode/utf8"
)

// Kind is the Python type of a decoded value.
type Kind uint8

const (
	None Kind = iota + 1
	Bool
	Int
	Float
	Str
	Bytes
	List
	Tuple
	Dict
	Ellipsis // marshal type '.': the first item of a tagged value
	BigInt   // an int beyond int64 (marshal TYPE_LONG); see BigInt
	ref      // internal: a back-reference to an earlier node, resolved by the accessors
)

var kindNames = [...]string{None: "None", Bool: "bool", Int: "int", Float: "float", Str: "str",
	Bytes: "bytes", List: "list", Tuple: "tuple", Dict: "dict", Ellipsis: "ellipsis", BigInt: "int", ref: "ref"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

var (
	// ErrTruncated: the input ends inside a value.
	ErrTruncated = errors.New("pymarshal: truncated marshal data")
	// ErrInvalid: bytes no marshal.dumps writes (a negative size, a bad
	// reference, an unnormalized long, bytes after the value ...).
	ErrInvalid = errors.New("pymarshal: invalid marshal data")
	// ErrUnsupported: valid marshal data outside the subset this package
	// decodes (a set, a complex, a code object, a cycle ...).
	ErrUnsupported = errors.New("pymarshal: unsupported marshal data")
)

// MaxDepth is the deepest nesting of containers Decode accepts (CPython's
// own reader stops at 2000).
const MaxDepth = 1000

// maxInput keeps node offsets within int32.
const maxInput = math.MaxInt32

// Type codes of CPython's Python/marshal.c used here.
const (
	flagRef          = 0x80
	typeNull         = '0'
	typeNone         = 'N'
	typeEllipsis     = '.'
	typeFalse        = 'F'
	typeTrue         = 'T'
	typeInt          = 'i'
	typeLong         = 'l'
	typeBinaryFloat  = 'g'
	typeString       = 's' // bytes
	typeInterned     = 't'
	typeUnicode      = 'u'
	typeASCII        = 'a'
	typeASCIIIntern  = 'A'
	typeShortASCII   = 'z'
	typeShortASCIIIn = 'Z'
	typeTuple        = '('
	typeSmallTuple   = ')'
	typeList         = '['
	typeDict         = '{'
	typeRef          = 'r'
)

// names of type codes outside the subset, for clearer errors.
var unsupportedNames = map[byte]string{
	'S': "StopIteration", 'I': "int64 (pre-3.4)", 'f': "text float (marshal version < 2)",
	'x': "text complex", 'y': "complex", 'c': "code object", '?': "unknown object", '<': "set",
	'>': "frozenset", ':': "slice (marshal version 5)",
}

// Node names a value of the last Decode: an index into the decoder's table.
type Node int32

type node struct {
	kind Kind
	end  int32  // the node after this one's subtree; -1 while a container is being read
	n    uint64 // int (two's complement), float bits, bool 0/1, item count (dict: pairs), ref target;
	// str: 1 when the content is not valid UTF-8; BigInt: 1 when negative
	off  int32 // str, bytes: where the content starts in the input; BigInt: its digits
	size int32 // str, bytes: content length; BigInt: bytes of digits
}

// Decoder decodes marshal data. It reuses its tables from one Decode to the
// next, so the nodes of a Decode are valid until the next one. Not safe for
// concurrent use.
type Decoder struct {
	nodes []node
	refs  []int32 // node index of each FLAG_REF object, in the order marshal numbers them
	data  []byte
	pos   int
	depth int
	refd  bool // the input holds a back-reference (TYPE_REF)
}

// Decode decodes data, which must hold exactly one value, and returns its
// root. The decoder keeps a reference to data until the next Decode:
// Bytes returns sub-slices of it.
func (d *Decoder) Decode(data []byte) (Node, error) {
	d.nodes, d.refs, d.data, d.pos, d.depth, d.refd = d.nodes[:0], d.refs[:0], data, 0, 0, false
	if len(data) > maxInput {
		return 0, fmt.Errorf("%w: %d bytes, more than %d", ErrUnsupported, len(data), maxInput)
	}
	if err := d.value(); err != nil {
		return 0, err
	}
	if d.pos != len(data) {
		return 0, fmt.Errorf("%w: %d bytes after the value at offset %d", ErrInvalid, len(data)-d.pos, d.pos)
	}
	return 0, nil
}

// Expanded returns the size of the last Decode's value with every
// back-reference replaced by the value it names: the input's length when it
// holds none, else one byte per value plus the content of every str, bytes
// and long int, counted as often as it is referenced (at most
// math.MaxInt64). Like the input's length for a value without references,
// it is at least the bytes of its strings and the count of its items once
// copied out; references to one large value (marshal writes a list of the
// same object so) expand far beyond the input.
func (d *Decoder) Expanded() int64 {
	if !d.refd {
		return int64(len(d.data))
	}
	memo := make([]int64, len(d.nodes)) // 0: not worked out yet
	var weight func(i int32) int64
	weight = func(i int32) int64 {
		n := &d.nodes[i]
		if n.kind == ref {
			return weight(int32(n.n))
		}
		if memo[i] > 0 {
			return memo[i]
		}
		w := int64(1)
		switch n.kind {
		case Str, Bytes, BigInt:
			w += int64(n.size)
		case List, Tuple, Dict:
			for c := i + 1; c < n.end; c = d.nodes[c].end {
				if x := weight(c); x > math.MaxInt64-w {
					w = math.MaxInt64
				} else {
					w += x
				}
			}
		}
		memo[i] = w
		return w
	}
	return weight(0)
}

// Reset drops the decoder's reference to the last input (its tables stay
// for reuse): a caller whose input is freed after Decode calls it.
func (d *Decoder) Reset() {
	d.data = nil
	d.nodes, d.refs = d.nodes[:0], d.refs[:0]
}

func (d *Decoder) truncated(what string) error {
	return fmt.Errorf("%w: %s at offset %d runs past the end (%d bytes)", ErrTruncated, what, d.pos, len(d.data))
}

func (d *Decoder) take(n int, what string) ([]byte, error) {
	if n > len(d.data)-d.pos {
		return nil, d.truncated(what)
	}
	b := d.data[d.pos : d.pos+n]
	d.pos += n
	return b, nil
}

func (d *Decoder) int32(what string) (int32, error) {
	b, err := d.take(4, what)
	if err != nil {
		return 0, err
	}
	return int32(binary.LittleEndian.Uint32(b)), nil
}

// size reads a 4-byte length, which marshal never writes negative.
func (d *Decoder) size(what string) (int, error) {
	n, err := d.int32(what)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, fmt.Errorf("%w: %s of negative size %d at offset %d", ErrInvalid, what, n, d.pos-4)
	}
	return int(n), nil
}

func (d *Decoder) push(k Kind, n uint64) int32 { return d.pushSpan(k, n, 0, 0) }

// pushSpan pushes a node whose content is input[off:off+size].
func (d *Decoder) pushSpan(k Kind, n uint64, off, size int32) int32 {
	i := int32(len(d.nodes))
	d.nodes = append(d.nodes, node{kind: k, end: i + 1, n: n, off: off, size: size})
	return i
}

func (d *Decoder) value() error {
	if d.pos >= len(d.data) {
		return d.truncated("a type code")
	}
	at := d.pos
	code := d.data[d.pos]
	d.pos++
	flagged := code&flagRef != 0
	code &^= flagRef
	// Scalars are numbered once read, containers before their items: the
	// order in which marshal's writer numbered them.
	var idx int32
	switch code {
	case typeNone:
		d.push(None, 0)
		return nil // None, True, False and Ellipsis are never numbered
	case typeEllipsis:
		d.push(Ellipsis, 0)
		return nil
	case typeTrue, typeFalse:
		v := uint64(0)
		if code == typeTrue {
			v = 1
		}
		d.push(Bool, v)
		return nil
	case typeInt:
		v, err := d.int32("an int")
		if err != nil {
			return err
		}
		idx = d.push(Int, uint64(int64(v)))
	case typeLong:
		i, err := d.long()
		if err != nil {
			return err
		}
		idx = i
	case typeBinaryFloat:
		b, err := d.take(8, "a float")
		if err != nil {
			return err
		}
		idx = d.push(Float, binary.LittleEndian.Uint64(b))
	case typeUnicode, typeInterned, typeASCII, typeASCIIIntern, typeShortASCII, typeShortASCIIIn, typeString:
		i, err := d.text(code)
		if err != nil {
			return err
		}
		idx = i
	case typeTuple, typeSmallTuple, typeList:
		var n int
		var err error
		if code == typeSmallTuple {
			var b []byte
			b, err = d.take(1, "a tuple size")
			if err == nil {
				n = int(b[0])
			}
		} else {
			n, err = d.size("a list or tuple")
		}
		if err != nil {
			return err
		}
		k := List
		if code != typeList {
			k = Tuple
		}
		return d.container(k, n, flagged, at)
	case typeDict:
		return d.container(Dict, -1, flagged, at)
	case typeRef:
		n, err := d.int32("a reference")
		if err != nil {
			return err
		}
		if n < 0 || int(n) >= len(d.refs) {
			return fmt.Errorf("%w: reference %d at offset %d, only %d objects numbered", ErrInvalid, n, at, len(d.refs))
		}
		target := d.refs[n]
		if d.nodes[target].end < 0 {
			return fmt.Errorf("%w: reference at offset %d to a container that holds it (a cycle)", ErrUnsupported, at)
		}
		d.push(ref, uint64(target))
		d.refd = true
		return nil
	case typeNull:
		return fmt.Errorf("%w: NULL object at offset %d outside a dict's end", ErrInvalid, at)
	default:
		if name, ok := unsupportedNames[code]; ok {
			return fmt.Errorf("%w: %s (type code %q) at offset %d", ErrUnsupported, name, code, at)
		}
		return fmt.Errorf("%w: unknown type code 0x%02x at offset %d", ErrInvalid, d.data[at], at)
	}
	if flagged {
		d.refs = append(d.refs, idx)
	}
	return nil
}

// long reads TYPE_LONG: a signed digit count, then that many 15-bit digits,
// least significant first. A value within int64 becomes an Int node, a larger
// one a BigInt node over its digits (the caller decides what it means).
func (d *Decoder) long() (int32, error) {
	at := d.pos - 1
	n, err := d.int32("a long")
	if err != nil {
		return 0, err
	}
	neg := n < 0
	count := int64(n)
	if neg {
		count = -count
	}
	if count > int64(len(d.data)-d.pos)/2 {
		return 0, d.truncated("a long's digits")
	}
	start := d.pos
	b, err := d.take(int(count)*2, "a long's digits")
	if err != nil {
		return 0, err
	}
	for i := 0; i < int(count); i++ {
		digit := binary.LittleEndian.Uint16(b[2*i:])
		if digit >= 1<<15 {
			return 0, fmt.Errorf("%w: long digit %d out of range at offset %d", ErrInvalid, digit, at)
		}
		if i == int(count)-1 && digit == 0 {
			return 0, fmt.Errorf("%w: unnormalized long at offset %d", ErrInvalid, at)
		}
	}
	// 5 digits = 75 bits: more is beyond int64 (normalized, as checked).
	if count <= 5 {
		var mag uint64
		fits := true
		for i := int(count) - 1; i >= 0; i-- {
			if mag > math.MaxUint64>>15 {
				fits = false
				break
			}
			mag = mag<<15 | uint64(binary.LittleEndian.Uint16(b[2*i:]))
		}
		switch {
		case fits && !neg && mag <= math.MaxInt64:
			return d.push(Int, mag), nil
		case fits && neg && mag <= 1<<63:
			return d.push(Int, -mag), nil // -2^63 wraps to itself
		}
	}
	sign := uint64(0)
	if neg {
		sign = 1
	}
	return d.pushSpan(BigInt, sign, int32(start), int32(count*2)), nil
}

// text reads a str (any of marshal's encodings) or bytes node.
func (d *Decoder) text(code byte) (int32, error) {
	var n int
	var err error
	if code == typeShortASCII || code == typeShortASCIIIn {
		var b []byte
		b, err = d.take(1, "a str size")
		if err == nil {
			n = int(b[0])
		}
	} else {
		n, err = d.size("a str or bytes")
	}
	if err != nil {
		return 0, err
	}
	at := d.pos
	b, err := d.take(n, "a str or bytes")
	if err != nil {
		return 0, err
	}
	kind := Str
	bad := uint64(0)
	switch code {
	case typeString:
		kind = Bytes
	case typeUnicode, typeInterned:
		// marshal writes str as UTF-8 with lone surrogates passed through;
		// those are not UTF-8 (nor storable in an Arrow string): the node
		// says so (ValidUTF8), and the caller names the field.
		if !utf8.Valid(b) {
			bad = 1
		}
	default:
		// ASCII by its type code (CPython would read a high byte as Latin-1).
		if !isASCII(b) {
			return 0, fmt.Errorf("%w: ASCII str at offset %d holds bytes that are not ASCII", ErrInvalid, at)
		}
	}
	return d.pushSpan(kind, bad, int32(at), int32(n)), nil
}

// isASCII checks eight bytes at a time: cheaper than utf8.Valid on the short
// strs of a record.
func isASCII(b []byte) bool {
	for ; len(b) >= 8; b = b[8:] {
		if binary.LittleEndian.Uint64(b)&0x8080808080808080 != 0 {
			return false
		}
	}
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// container reads the items of a list or tuple (n of them) or of a dict
// (key/value pairs up to TYPE_NULL, n < 0).
func (d *Decoder) container(k Kind, n int, flagged bool, at int) error {
	if d.depth >= MaxDepth {
		return fmt.Errorf("%w: containers nested more than %d deep at offset %d", ErrUnsupported, MaxDepth, at)
	}
	d.depth++
	idx := d.push(k, 0)
	d.nodes[idx].end = -1
	if flagged {
		d.refs = append(d.refs, idx)
	}
	count := 0
	if k == Dict {
		for {
			if d.pos >= len(d.data) {
				return d.truncated("a dict")
			}
			if d.data[d.pos]&^flagRef == typeNull {
				d.pos++
				break
			}
			if err := d.value(); err != nil {
				return err
			}
			if d.pos < len(d.data) && d.data[d.pos]&^flagRef == typeNull {
				return fmt.Errorf("%w: dict key without a value at offset %d", ErrInvalid, d.pos)
			}
			if err := d.value(); err != nil {
				return err
			}
			count++
		}
	} else {
		for ; count < n; count++ {
			if err := d.value(); err != nil {
				return err
			}
		}
	}
	d.depth--
	d.nodes[idx].n = uint64(count)
	d.nodes[idx].end = int32(len(d.nodes))
	return nil
}

// resolve follows a back-reference to the node it names.
func (d *Decoder) resolve(i Node) *node {
	n := &d.nodes[i]
	if n.kind == ref {
		n = &d.nodes[n.n]
	}
	return n
}

// Kind returns the kind of value i.
func (d *Decoder) Kind(i Node) Kind { return d.resolve(i).kind }

// Int returns the value of an Int node.
func (d *Decoder) Int(i Node) int64 { return int64(d.resolve(i).n) }

// Float returns the value of a Float node.
func (d *Decoder) Float(i Node) float64 { return math.Float64frombits(d.resolve(i).n) }

// Bool returns the value of a Bool node.
func (d *Decoder) Bool(i Node) bool { return d.resolve(i).n != 0 }

// Bytes returns the content of a Str (UTF-8) or Bytes node, a sub-slice of
// the input: do not modify it.
func (d *Decoder) Bytes(i Node) []byte {
	n := d.resolve(i)
	return d.data[n.off : n.off+n.size : n.off+n.size]
}

// ValidUTF8 reports whether a Str node's content is valid UTF-8 (marshal
// passes a lone surrogate through as bytes that are not).
func (d *Decoder) ValidUTF8(i Node) bool { return d.resolve(i).n == 0 }

// BigInt returns the value of a BigInt node.
func (d *Decoder) BigInt(i Node) *big.Int {
	n := d.resolve(i)
	digits := d.data[n.off : n.off+n.size]
	v, digit := new(big.Int), new(big.Int)
	for k := len(digits)/2 - 1; k >= 0; k-- {
		v.Lsh(v, 15)
		v.Or(v, digit.SetUint64(uint64(binary.LittleEndian.Uint16(digits[2*k:]))))
	}
	if n.n == 1 {
		v.Neg(v)
	}
	return v
}

// Len returns the number of items of a List or Tuple, or of pairs of a Dict.
func (d *Decoder) Len(i Node) int { return int(d.resolve(i).n) }

// First returns the first item of a non-empty List or Tuple, or the first
// key of a non-empty Dict (its value is Next of it).
func (d *Decoder) First(i Node) Node {
	n := d.nodes[i]
	if n.kind == ref {
		return Node(n.n) + 1
	}
	return i + 1
}

// Next returns the value after i in its container: the node following i's
// subtree.
func (d *Decoder) Next(i Node) Node { return Node(d.nodes[i].end) }
