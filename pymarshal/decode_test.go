package pymarshal

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// goldenCases are written by testdata/gen.py from real marshal.dumps(v, 4).
type goldenCases struct {
	Python string `json:"python"`
	Good   []struct {
		Name    string `json:"name"`
		Marshal string `json:"marshal"`
		Want    string `json:"want"`
	} `json:"good"`
	Bad []struct {
		Name    string `json:"name"`
		Marshal string `json:"marshal"`
		Error   string `json:"error"`
	} `json:"bad"`
}

func loadCases(t testing.TB, path string) goldenCases {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c goldenCases
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Good) == 0 || len(c.Bad) == 0 {
		t.Fatalf("%s holds no cases", path)
	}
	return c
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// canon renders value i in gen.py's canonical form.
func canon(d *Decoder, i Node) string {
	switch d.Kind(i) {
	case None:
		return "N"
	case Bool:
		if d.Bool(i) {
			return "T"
		}
		return "F"
	case Ellipsis:
		return "E"
	case Int:
		return fmt.Sprintf("i:%d", d.Int(i))
	case BigInt:
		return "L:" + d.BigInt(i).String()
	case Float:
		return fmt.Sprintf("f:%016x", d.resolve(i).n)
	case Str:
		if !d.ValidUTF8(i) {
			return "u:" + hex.EncodeToString(d.Bytes(i))
		}
		return "s:" + hex.EncodeToString(d.Bytes(i))
	case Bytes:
		return "b:" + hex.EncodeToString(d.Bytes(i))
	case List, Tuple:
		parts := make([]string, 0, d.Len(i))
		for c, k := d.First(i), 0; k < d.Len(i); c, k = d.Next(c), k+1 {
			parts = append(parts, canon(d, c))
		}
		open, close := "[", "]"
		if d.Kind(i) == Tuple {
			open, close = "(", ")"
		}
		return open + strings.Join(parts, ",") + close
	case Dict:
		parts := make([]string, 0, d.Len(i))
		for c, k := d.First(i), 0; k < d.Len(i); k++ {
			v := d.Next(c)
			parts = append(parts, canon(d, c)+":"+canon(d, v))
			c = d.Next(v)
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	return fmt.Sprintf("?%v", d.Kind(i))
}

func TestDecodeGolden(t *testing.T) {
	cases := loadCases(t, "testdata/cases.json")
	var d Decoder // reused across cases, as the engine reuses it
	for _, c := range cases.Good {
		t.Run(c.Name, func(t *testing.T) {
			root, err := d.Decode(unhex(t, c.Marshal))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got := canon(&d, root); got != c.Want {
				t.Fatalf("decoded\n %s\nwant\n %s", got, c.Want)
			}
		})
	}
}

func TestDecodeRefusesBadInput(t *testing.T) {
	cases := loadCases(t, "testdata/cases.json")
	kinds := map[string]error{"truncated": ErrTruncated, "invalid": ErrInvalid, "unsupported": ErrUnsupported}
	var d Decoder
	for _, c := range cases.Bad {
		t.Run(c.Name, func(t *testing.T) {
			want, ok := kinds[c.Error]
			if !ok {
				t.Fatalf("unknown error kind %q", c.Error)
			}
			_, err := d.Decode(unhex(t, c.Marshal))
			if !errors.Is(err, want) {
				t.Fatalf("Decode(%s) = %v, want %v", c.Marshal, err, want)
			}
		})
	}
}

// TestGoldenFileIsCurrent regenerates the cases with this machine's Python
// and compares them with the committed file, so the file cannot drift from
// what marshal really writes.
func TestGoldenFileIsCurrent(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed: the committed cases.json is checked by the other tests")
	}
	tmp := t.TempDir()
	script, err := os.ReadFile("testdata/gen.py")
	if err != nil {
		t.Fatal(err)
	}
	gen := filepath.Join(tmp, "gen.py")
	if err := os.WriteFile(gen, script, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(python, gen).CombinedOutput(); err != nil {
		t.Fatalf("gen.py: %v\n%s", err, out)
	}
	fresh := loadCases(t, filepath.Join(tmp, "cases.json"))
	committed := loadCases(t, "testdata/cases.json")
	fresh.Python, committed.Python = "", "" // the same bytes from any Python 3.x
	a, _ := json.Marshal(fresh)
	b, _ := json.Marshal(committed)
	if string(a) != string(b) {
		t.Fatal("testdata/cases.json differs from what gen.py writes now: run python3 pymarshal/testdata/gen.py")
	}
}

// TestDecodeDepthLimit: nesting is bounded, so hostile input cannot exhaust the stack.
func TestDecodeDepthLimit(t *testing.T) {
	for _, c := range []struct {
		depth int
		want  error
	}{{MaxDepth, nil}, {MaxDepth + 1, ErrUnsupported}} {
		in := strings.Repeat("[\x01\x00\x00\x00", c.depth) + "N"
		var d Decoder
		if _, err := d.Decode([]byte(in)); !errors.Is(err, c.want) {
			t.Fatalf("depth %d: %v, want %v", c.depth, err, c.want)
		}
	}
}

func TestDecodeReusesItsTables(t *testing.T) {
	cases := loadCases(t, "testdata/cases.json")
	var in []byte
	for _, c := range cases.Good {
		if c.Name == "record" {
			in = unhex(t, c.Marshal)
		}
	}
	var d Decoder
	if _, err := d.Decode(in); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = d.Decode(in) }); n != 0 {
		t.Fatalf("Decode allocates %v times per call once warm, want 0", n)
	}
}

// TestExpanded: a value's size with its back-references expanded - what it
// holds once copied out - for inputs with and without references; a chain
// of references to references saturates instead of overflowing.
func TestExpanded(t *testing.T) {
	u32 := func(out []byte, n int) []byte { return binary.LittleEndian.AppendUint32(out, uint32(n)) }
	list := func(flagged bool, n int) []byte {
		code := byte('[')
		if flagged {
			code |= 0x80
		}
		return u32([]byte{code}, n)
	}
	refs := func(target, n int) []byte {
		var out []byte
		for k := 0; k < n; k++ {
			out = u32(append(out, 'r'), target)
		}
		return out
	}
	value := append(u32([]byte{'s' | 0x80}, 1000), bytes.Repeat([]byte{'x'}, 1000)...) // b"x" * 1000, numbered
	// nested(levels): [[[v] * 1000] * 1000 ...], each list numbered before its items.
	nested := func(levels int) []byte {
		var out []byte
		for l := 0; l < levels; l++ {
			out = append(out, list(true, 1000)...)
		}
		out = append(append(out, value...), refs(levels, 999)...)
		for l := levels - 1; l > 0; l-- {
			out = append(out, refs(l, 999)...)
		}
		return out
	}
	cases := []struct {
		name string
		in   []byte
		want int64
	}{
		{"no references: the input's length", []byte{'{', 0xda, 1, 'v', 0xda, 3, 'a', 'b', 'c', '0'}, 10},
		{"[v, v, v]", append(append(list(false, 3), value...), refs(0, 2)...), 1 + 3*1001},
		{"[[v] * 1000] * 1000", nested(2), 1 + 1000*(1+1000*1001)},
		{"seven levels saturate", nested(7), math.MaxInt64},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var d Decoder
			if _, err := d.Decode(c.in); err != nil {
				t.Fatal(err)
			}
			if got := d.Expanded(); got != c.want {
				t.Fatalf("Expanded() = %d, want %d", got, c.want)
			}
		})
	}
}
