package engine

import (
	"encoding/json"
	"os/exec"
	"testing"
)

// pylanceIDs opens the dataset at path with pylance (the oracle) and
// returns its id column in row order.
func pylanceIDs(t *testing.T, path string) []int64 {
	t.Helper()
	const script = `
import json, sys, lance
ds = lance.dataset(sys.argv[1])
print(json.dumps(ds.to_table(columns=["id"]).column("id").to_pylist()))
`
	out, err := exec.Command("python3", "-c", script, path).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("pylance cannot open %s: %v\n%s", path, err, stderr)
	}
	var ids []int64
	if err := json.Unmarshal(out, &ids); err != nil {
		t.Fatal(err)
	}
	return ids
}
