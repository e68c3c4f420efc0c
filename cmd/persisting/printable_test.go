package main

import "testing"

func TestPrintableEscapesWhatWouldDriveATerminal(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text\nnext line", "plain text\nnext line"},
		{"héllo ✓", "héllo ✓"},
		{"s\x07name", `s\x07name`},
		{"\x1b[2Jcleared", `\x1b[2Jcleared`},
		{"tab\there\r", `tab\x09here\x0d`},
		{"ok\xff\xfe", `ok\xff\xfe`},
		{"c1 \u0085 del \x7f", `c1 \x85 del \x7f`},
		{"a real \uFFFD stays", "a real \uFFFD stays"},
	} {
		if got := printable(tc.in); got != tc.want {
			t.Errorf("printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
