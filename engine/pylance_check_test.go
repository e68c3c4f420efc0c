package engine

import (
	"encoding/json"
	"os/exec"
	"testing"
)

// runPython runs script with python3 (the venv's on PATH: pylance, pyarrow)
// and args; it fails the test, with what and Python's stderr, unless the
// script succeeds, and returns what it printed.
func runPython(t *testing.T, what, script string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command("python3", append([]string{"-c", script}, args...)...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%s: %v\n%s", what, err, stderr)
	}
	return out
}

// pylanceIDs opens the dataset at path with pylance (the oracle) and
// returns its id column in row order.
func pylanceIDs(t *testing.T, path string) []int64 {
	t.Helper()
	const script = `
import json, sys, lance
ds = lance.dataset(sys.argv[1])
print(json.dumps(ds.to_table(columns=["id"]).column("id").to_pylist()))
`
	out := runPython(t, "pylance cannot open "+path, script, path)
	var ids []int64
	if err := json.Unmarshal(out, &ids); err != nil {
		t.Fatal(err)
	}
	return ids
}

type pylanceVersion struct{ Version, Rows int64 }

type pylanceRead struct {
	ids      []int64
	versions []pylanceVersion
}

// pylanceS3Versions opens the dataset at an s3:// path with pylance and
// returns the id column of its latest version and each version's row
// count, failing unless pylance reads every version's transaction.
func pylanceS3Versions(t *testing.T, path string, storageOptions map[string]string) pylanceRead {
	t.Helper()
	const script = `
import json, sys, lance
uri, opts = sys.argv[1], json.loads(sys.argv[2])
ds = lance.dataset(uri, storage_options=opts)
versions = [v["version"] for v in ds.versions()]
txns = ds.get_transactions(len(versions))
assert len(txns) == len(versions) and all(t is not None for t in txns), txns
counts = [[v, lance.dataset(uri, version=v, storage_options=opts).count_rows()] for v in versions]
print(json.dumps({"ids": ds.to_table(columns=["id"]).column("id").to_pylist(), "versions": counts}))
`
	opts, _ := json.Marshal(storageOptions)
	out := runPython(t, "pylance cannot read "+path, script, path, string(opts))
	var got struct {
		IDs      []int64    `json:"ids"`
		Versions [][2]int64 `json:"versions"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	r := pylanceRead{ids: got.IDs}
	for _, v := range got.Versions {
		r.versions = append(r.versions, pylanceVersion{v[0], v[1]})
	}
	return r
}
