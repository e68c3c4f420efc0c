package pymarshal

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
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
