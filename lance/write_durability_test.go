package lance

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// syncLog records what syncObserver reports, in order.
type syncLog struct {
	mu     sync.Mutex
	events []string // "sync <path>" / "link <path>"
}

func observeSyncs(t *testing.T) *syncLog {
	l := &syncLog{}
	syncObserver = func(op, path string) {
		l.mu.Lock()
		l.events = append(l.events, op+" "+path)
		l.mu.Unlock()
	}
	t.Cleanup(func() { syncObserver = nil })
	return l
}

func (l *syncLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	ev := l.events
	l.events = nil
	return ev
}

// TestWriteDurabilityOrder checks the commit protocol of Write: the data
// file, the transaction file, their directory entries, the staged manifest
// and, on create, the dataset directory are all fsynced (each once) before
// the manifest is linked, and
// the _versions directory after it, before Write returns.
func TestWriteDurabilityOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	log := observeSyncs(t)
	var base *Dataset
	for i, tc := range []struct {
		name    string
		useBase bool
	}{
		{"create", false},
		{"append listing _versions", false},
		{"append on the caller's base", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := makeRecord(memory.DefaultAllocator, int64(i*100), 100)
			defer rec.Release()
			opts := WriteOptions{}
			if tc.useBase {
				opts.Base = base
			}
			log.take()
			ds, err := Write(path, []arrow.Record{rec}, opts)
			if err != nil {
				t.Fatal(err)
			}
			base = ds
			ev := log.take()
			link := -1
			for k, e := range ev {
				if strings.HasPrefix(e, "link ") {
					if link >= 0 {
						t.Fatalf("two links: %q", ev)
					}
					link = k
				}
			}
			if link < 0 {
				t.Fatalf("no manifest link in %q", ev)
			}
			frag := ds.manifest.Fragments[len(ds.manifest.Fragments)-1]
			before := map[string]int{
				filepath.Join(path, dataDir, frag.Files[0].Path):                  0,
				filepath.Join(path, dataDir):                                      0,
				filepath.Join(path, transactionsDir, ds.manifest.TransactionFile): 0,
			}
			if tc.name == "create" {
				// the new dataset directory's entries (synced while the
				// data file is encoded)
				before[path] = 0
			}
			staged := 0
			for _, e := range ev[:link] {
				p := strings.TrimPrefix(e, "sync ")
				if _, ok := before[p]; ok {
					before[p]++
				} else if strings.HasPrefix(filepath.Base(p), ".tmp_") {
					staged++
				}
			}
			for p, n := range before {
				if n != 1 {
					t.Errorf("%s fsynced %d times before the link, want once (events %q)", p, n, ev)
				}
			}
			if staged != 1 {
				t.Errorf("staged manifest fsynced %d times before the link, want once (events %q)", staged, ev)
			}
			if want := "sync " + filepath.Join(path, versionsDir); ev[len(ev)-1] != want || link != len(ev)-2 {
				t.Errorf("after the link: %q, want exactly %q", ev[link+1:], want)
			}
		})
	}
}
