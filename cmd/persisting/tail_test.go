package main

import "testing"

func TestRowsPerReadKeepsABatchWithinItsByteBudget(t *testing.T) {
	for _, tc := range []struct {
		name                         string
		bytesRead, rowsRead, ceiling int64
		want                         int64
	}{
		{"first read is small", 0, 0, 1000, firstReadRows},
		{"first read within a smaller --batch", 0, 0, 4, 4},
		{"small rows: the --batch ceiling", 16 * 100, 16, 1000, 1000},
		{"4 MiB rows: 16 per read", 16 * 4 << 20, 16, 1000, 16},
		{"rows above the budget: one at a time", 2 * 100 << 20, 2, 1000, 1},
		{"empty rows count as a byte", 0, 16, 1000, 1000},
	} {
		if got := rowsPerRead(tc.bytesRead, tc.rowsRead, tc.ceiling); got != tc.want {
			t.Errorf("%s: rowsPerRead(%d, %d, %d) = %d, want %d", tc.name, tc.bytesRead, tc.rowsRead, tc.ceiling, got, tc.want)
		}
	}
}
