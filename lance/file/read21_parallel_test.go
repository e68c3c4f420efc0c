package file

import (
	"errors"
	"strings"
	"testing"
)

// TestFanOutsAgree: parallelFor and serialFor run every task, report the
// error of the lowest failing index, and turn a task's panic into an error.
func TestFanOutsAgree(t *testing.T) {
	defer func(v bool) { recoverDecodePanics = v }(recoverDecodePanics)
	recoverDecodePanics = true
	boom := errors.New("boom")
	tests := []struct {
		name    string
		fail    map[int]error // index -> error (nil error: panic)
		wantErr string
	}{
		{"all succeed", nil, ""},
		{"one fails", map[int]error{3: boom}, "boom"},
		{"lowest failing index wins", map[int]error{2: errors.New("first"), 5: errors.New("second")}, "first"},
		{"panic becomes an error", map[int]error{4: nil}, "internal error decoding"},
	}
	fans := map[string]func(int, func(int) error) error{"parallelFor": parallelFor, "serialFor": serialFor}
	for _, tt := range tests {
		for name, fan := range fans {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				ran := make([]bool, 8)
				err := fan(len(ran), func(i int) error {
					ran[i] = true
					if e, ok := tt.fail[i]; ok {
						if e == nil {
							panic("task panicked")
						}
						return e
					}
					return nil
				})
				if tt.wantErr == "" {
					if err != nil {
						t.Fatal(err)
					}
					for i, r := range ran {
						if !r {
							t.Fatalf("task %d did not run", i)
						}
					}
					return
				}
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
			})
		}
	}
}

// TestSmallRead: the serial threshold counts values, rows times columns.
func TestSmallRead(t *testing.T) {
	tests := []struct {
		rows    int64
		columns int
		want    bool
	}{
		{100, 8, true},
		{serialReadValues, 1, true},
		{serialReadValues + 1, 1, false},
		{1024, 8, true},
		{1025, 8, false},
		{100, 0, true},
	}
	for _, tt := range tests {
		if got := SmallRead(tt.rows, tt.columns); got != tt.want {
			t.Errorf("SmallRead(%d, %d) = %v, want %v", tt.rows, tt.columns, got, tt.want)
		}
	}
}
