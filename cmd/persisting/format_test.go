package main

import (
	"math"
	"testing"
)

func TestPythonFloatMatchesPythonRepr(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want string
	}{
		{0, "0.0"}, {math.Copysign(0, -1), "-0.0"}, {1, "1.0"}, {0.5, "0.5"}, {-2.25, "-2.25"},
		{0.1, "0.1"}, {1e16, "1e+16"}, {1.5e16, "1.5e+16"}, {123456789012345.0, "123456789012345.0"},
		{0.0001, "0.0001"}, {0.00001, "1e-05"}, {1.5e-7, "1.5e-07"}, {float64(float32(0.1)), "0.10000000149011612"},
		{1e300, "1e+300"},
	} {
		if got := pythonFloat(c.in); got != c.want {
			t.Errorf("pythonFloat(%v) = %q, want %q", c.in, got, c.want)
		}
	}
	for in, want := range map[float64]string{math.NaN(): `"NaN"`, math.Inf(1): `"Infinity"`, math.Inf(-1): `"-Infinity"`} {
		if got := jsonFloat(in); got != want {
			t.Errorf("jsonFloat(%v) = %s, want %s", in, got, want)
		}
	}
}

func TestPythonJSONSpacesSeparatorsOutsideStrings(t *testing.T) {
	got, err := pythonJSON(map[string]any{"a": []int{1, 2}, "b": "x,y: <z>", "c": "é"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a": [1, 2], "b": "x,y: <z>", "c": "é"}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestHumanBytesAndPlural(t *testing.T) {
	for in, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 30: "5.0 GiB", 3 << 50: "3072.0 TiB"} {
		if got := humanBytes(in); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", in, got, want)
		}
	}
	for _, c := range []struct {
		n          int
		noun, want string
	}{{1, "entry", "1 entry"}, {2, "entry", "2 entries"}, {0, "version", "0 versions"}, {1, "version", "1 version"}} {
		if got := plural(c.n, c.noun); got != c.want {
			t.Errorf("plural(%d, %q) = %q, want %q", c.n, c.noun, got, c.want)
		}
	}
}
