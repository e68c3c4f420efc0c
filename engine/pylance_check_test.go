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
	out, err := exec.Command("python3", "-c", script, path, string(opts)).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("pylance cannot read %s: %v\n%s", path, err, stderr)
	}
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
