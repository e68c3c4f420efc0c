package main

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// printable makes text lines safe to show on a terminal: names and messages
// come from the bucket (a field named "\x1b]0;...\x07" would drive the
// terminal), so every control character but the newline, and every byte
// that is not UTF-8, is shown as a Go escape (\x1b, \u0085) instead.
// JSON output needs none of this: its encoder escapes them.
func printable(text string) string {
	clean := true
	for _, r := range text {
		if r == utf8.RuneError || (r != '\n' && unicode.IsControl(r)) {
			clean = false
			break
		}
	}
	if clean {
		return text
	}
	var b strings.Builder
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, text[i])
		case r == '\n' || !unicode.IsControl(r):
			b.WriteString(text[i : i+size])
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += size
	}
	return b.String()
}
