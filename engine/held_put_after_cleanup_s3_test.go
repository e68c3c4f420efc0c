package engine

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/persisting/persisting/internal/miniotest"
	"github.com/persisting/persisting/lance"
)

// A manifest PUT the server holds back can land after the version it
// publishes was settled (the next flush published it with the same bytes),
// superseded, compacted away and removed by cleanup: the name is free
// again, so the conditional PUT succeeds and the old manifest comes back,
// naming files cleanup removed. It can only come back below the latest
// version (cleanup never removes the latest, and the version was taken
// before it was removed), so what readers of the dataset see - the engine,
// and pylance opening the URL - stays exactly the rows acknowledged; the
// stale version is listed until the next cleanup removes it again, here
// after a reopen.
func TestS3HeldManifestPutLandsAfterCleanup(t *testing.T) {
	srv := miniotest.Start(t, "held-cleanup")
	proxy := srv.Proxy(t)
	manifestPut := regexp.MustCompile(`^PUT \S*/_versions/\S*\.manifest `)
	opts := Options{
		Path:           "s3://held-cleanup/q/bucket_0",
		StorageOptions: proxy.Options(),
		FlushThreshold: 1000,
		Background:     BackgroundOptions{MaxFlushDelay: -1, DisableMaintenance: true},
	}
	opts.StorageOptions["client_max_retries"] = "1"
	b, held := openWithHeldFlush(t, proxy, manifestPut, opts)
	if err := b.Flush(); err != nil { // settles version 2: rows 10-14
		t.Fatal(err)
	}
	appendRows(t, b, 15, 5)
	if err := b.Flush(); err != nil { // version 3
		t.Fatal(err)
	}
	if _, err := b.Compact(1000); err != nil { // version 4
		t.Fatal(err)
	}
	if st, err := b.CleanupOldVersions(0); err != nil || st.OldVersions != 3 {
		t.Fatalf("cleanup removed %d versions (%v), want 3", st.OldVersions, err)
	}
	if status, err := held.Release(); err != nil || status != 200 {
		t.Fatalf("the held manifest PUT got %d, %v; want 200 (its version was removed)", status, err)
	}
	want := fmt.Sprint(seq(0, 20))
	check := func(wantVersions string) {
		t.Helper()
		wantIDs(t, b, 20)
		r := pylanceS3Read(t, b.DatasetPath(), proxy.Options())
		if fmt.Sprint(r.IDs) != want || r.Latest != 4 {
			t.Fatalf("pylance reads version %d, ids %v; want the latest, %s", r.Latest, r.IDs, want)
		}
		if got := fmt.Sprint(r.Versions); got != wantVersions {
			t.Fatalf("pylance reads versions [version, rows or error] %s, want %s", got, wantVersions)
		}
	}
	check(`[[2 not found] [4 20]]`) // the stale version is back, its files are not
	// verify reports its missing files, and says what they are
	vr, err := lance.Verify(b.DatasetPath(), memory.DefaultAllocator)
	if err != nil || len(vr.Problems) == 0 {
		t.Fatalf("verify: %+v, %v; want the stale version's missing files", vr, err)
	}
	for _, p := range vr.Problems {
		if !strings.Contains(p.Message, "version 2's manifest was stored after version 4's: a PUT the server held back") {
			t.Fatalf("verify reports %q without saying it is a stale version that came back", p.Message)
		}
	}
	b = reopen(t, b, opts)
	if st, err := b.CleanupOldVersions(0); err != nil || st.OldVersions != 1 {
		t.Fatalf("the next cleanup removed %d versions (%v), want the stale one", st.OldVersions, err)
	}
	check(`[[4 20]]`)
}

type pylanceS3Result struct {
	Latest   int64    `json:"latest"`
	IDs      []int64  `json:"ids"`
	Versions [][2]any `json:"versions"`
}

// pylanceS3Read opens the s3:// dataset at path with pylance: the latest
// version's ids, and each listed version's row count as read, or "not
// found" when its files are gone.
func pylanceS3Read(t *testing.T, path string, storageOptions map[string]string) pylanceS3Result {
	t.Helper()
	const script = `
import json, sys, lance
uri, opts = sys.argv[1], json.loads(sys.argv[2])
ds = lance.dataset(uri, storage_options=opts)
res = {"latest": ds.version, "ids": ds.to_table(columns=["id"]).column("id").to_pylist(), "versions": []}
for v in ds.versions():
    try:
        n = lance.dataset(uri, version=v["version"], storage_options=opts).to_table().num_rows
    except Exception as e:
        n = "not found" if "Not found" in str(e) else str(e)
    res["versions"].append([v["version"], n])
print(json.dumps(res))
`
	opts, _ := json.Marshal(storageOptions)
	out := runPython(t, "pylance cannot read "+path, script, path, string(opts))
	var r pylanceS3Result
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	return r
}
