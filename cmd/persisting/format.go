package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// humanBytes: "512 B", "1.5 KiB", ... "3.0 TiB".
func humanBytes(n int64) string {
	value := float64(n)
	for _, unit := range []string{"B", "KiB", "MiB", "GiB", "TiB"} {
		if value < 1024 || unit == "TiB" {
			if unit == "B" {
				return fmt.Sprintf("%d B", int64(value))
			}
			return fmt.Sprintf("%.1f %s", value, unit)
		}
		value /= 1024
	}
	panic("unreachable")
}

// plural: "1 entry", "2 entries", "3 versions".
func plural[N int | int64 | uint64](n N, noun string) string {
	switch {
	case n == 1:
		return fmt.Sprintf("%d %s", n, noun)
	case strings.HasSuffix(noun, "y"):
		return fmt.Sprintf("%d %sies", n, noun[:len(noun)-1])
	default:
		return fmt.Sprintf("%d %ss", n, noun)
	}
}

// pythonJSON encodes v as Python's json.dumps did when the CLI was Python
// (", " and ": " separators, non-ASCII text unescaped), so scripts that
// read the output see the same bytes.
func pythonJSON(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return spaceJSON(bytes.TrimSpace(buf.Bytes())), nil
}

// spaceJSON puts a space after each separator of compact JSON.
func spaceJSON(compact []byte) string {
	var b strings.Builder
	b.Grow(len(compact) + len(compact)/8)
	inString, escaped := false, false
	for _, c := range compact {
		b.WriteByte(c)
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && (c == ',' || c == ':'):
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// pythonFloat writes a finite float as Python's repr does: the shortest
// digits that read back, "1.0" for integral values, an exponent below 1e-4
// and from 1e16 on.
func pythonFloat(f float64) string {
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	sci := strconv.FormatFloat(f, 'e', -1, 64)
	exp, _ := strconv.Atoi(sci[strings.IndexByte(sci, 'e')+1:])
	if exp < -4 || exp >= 16 {
		return sci
	}
	fixed := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsRune(fixed, '.') {
		fixed += ".0"
	}
	return fixed
}

// jsonFloat is a float as the CLI prints it: NaN and the infinities as
// the strings "NaN", "Infinity", "-Infinity" (JSON has no such numbers).
func jsonFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return `"NaN"`
	case math.IsInf(f, 1):
		return `"Infinity"`
	case math.IsInf(f, -1):
		return `"-Infinity"`
	}
	return pythonFloat(f)
}

// jsonTime is a time as the engine's JSON spells it (RFC 3339, nanoseconds).
func jsonTime(t time.Time) string { return t.Format(time.RFC3339Nano) }
