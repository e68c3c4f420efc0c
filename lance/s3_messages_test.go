package lance

import (
	"regexp"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/internal/miniotest"
	"github.com/persisting/persisting/lance/objstore"
)

// A message about an object names it as the URL it was given,
// s3://bucket/key: paths inside a dataset are joined without folding the
// "//" (filepath.Join makes "s3:/bucket/key" of it, which no tool opens).
func TestS3MessagesNameObjectsByTheirURL(t *testing.T) {
	miniotest.Start(t, "messages")
	root := "s3://messages/ds/data.lance"
	ds := writeFragments(t, root, []int64{10, 5, 1})
	gone := ds.Fragments()[0].Files[0].Path
	short := ds.Fragments()[1].Files[0].Path
	if err := objstore.Remove(root + "/data/" + gone); err != nil {
		t.Fatal(err)
	}
	if err := objstore.Put(root+"/data/"+short, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	v1, err := objstore.ReadFile(root + "/_versions/" + ManifestName(NamingV2, 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := objstore.Put(root+"/_versions/"+ManifestName(NamingV2, 2), v1); err != nil {
		t.Fatal(err)
	}
	read := func(offset int64) func() error {
		return func() error {
			ds, err := OpenVersion(root, 3)
			if err != nil {
				return err
			}
			recs, err := ds.Read(offset, 1, memory.DefaultAllocator)
			releaseAll(recs)
			return err
		}
	}
	oneSlash := regexp.MustCompile(`s3:/[^/]`)
	for _, tc := range []struct {
		name string
		err  func() error
		want string
	}{
		{"a version that does not exist", func() error { _, err := OpenVersion(root, 9); return err },
			"version 9 of " + root},
		{"a dataset that does not exist", func() error { _, err := Open("s3://messages/none/data.lance"); return err },
			"s3://messages/none/data.lance"},
		{"a data file that is gone", read(0), root + "/data/" + gone},
		{"a data file cut short", read(10), root + "/data/" + short},
		{"a manifest that holds another version", func() error { _, err := OpenVersion(root, 2); return err },
			root + "/_versions/" + ManifestName(NamingV2, 2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			if err == nil {
				t.Fatal("no error")
			}
			if msg := err.Error(); oneSlash.MatchString(msg) || !strings.Contains(msg, tc.want) {
				t.Fatalf("message %q: want it to name %s, and no s3:/ with one slash", msg, tc.want)
			}
		})
	}
}
