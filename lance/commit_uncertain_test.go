package lance

import (
	"testing"

	"github.com/persisting/persisting/internal/miniotest"
	"github.com/persisting/persisting/lance/objstore"
)

// ResolveCommit settles a commit whose manifest PUT got no answer: a
// version that holds its transaction is its own; one still absent and next
// is published with the lost PUT's bytes (then its own, for good); one
// another writer holds, or one taken and removed since (below the latest),
// is not, and is left absent rather than brought back.
func TestS3ResolveCommit(t *testing.T) {
	miniotest.Start(t, "resolve")
	for _, tc := range []struct {
		name string
		// prepare returns the uncertain commit, on a dataset of versions 1..3
		prepare   func(t *testing.T, root string) UncertainCommit
		want      bool
		wantAfter uint64 // the latest version afterwards
	}{
		{"stored", func(t *testing.T, root string) UncertainCommit {
			return uncertainOf(t, root, 3, true)
		}, true, 3},
		{"absent and next: published now", func(t *testing.T, root string) UncertainCommit {
			return uncertainOf(t, root, 3, false)
		}, true, 3},
		{"another writer's", func(t *testing.T, root string) UncertainCommit {
			c := uncertainOf(t, root, 3, true)
			c.Transaction = "someone-else.txn"
			return c
		}, false, 3},
		{"taken and removed since", func(t *testing.T, root string) UncertainCommit {
			return uncertainOf(t, root, 2, false)
		}, false, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := "s3://resolve/" + tc.name + "/data.lance"
			writeFragments(t, root, []int64{1, 1, 1})
			c := tc.prepare(t, root)
			for round := 0; round < 2; round++ { // settled for good: asking again says the same
				got, err := ResolveCommit(c)
				if err != nil || got != tc.want {
					t.Fatalf("round %d: ResolveCommit = %v, %v; want %v", round, got, err, tc.want)
				}
			}
			ds, err := Open(root)
			if err != nil {
				t.Fatal(err)
			}
			if ds.Version() != tc.wantAfter {
				t.Fatalf("latest version %d, want %d", ds.Version(), tc.wantAfter)
			}
			_, _, err = loadManifest(root, c.Version)
			if present := err == nil; present != tc.want && tc.name != "another writer's" {
				t.Fatalf("version %d present %v after settling to %v (%v)", c.Version, present, tc.want, err)
			}
		})
	}
}

// uncertainOf is the commit that published version v of root, as an
// uncertain commit; unless stored, its manifest is removed first (the PUT
// that never arrived).
func uncertainOf(t *testing.T, root string, v uint64, stored bool) UncertainCommit {
	t.Helper()
	m, s, err := loadManifest(root, v)
	if err != nil {
		t.Fatal(err)
	}
	p := joinPath(root, versionsDir, ManifestName(s, v))
	data, err := objstore.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !stored {
		if err := objstore.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	return UncertainCommit{Root: root, Version: v, Transaction: m.TransactionFile, scheme: s, manifest: data}
}
