package engine

import (
	"os"
	"testing"

	"github.com/persisting/persisting/internal/miniotest"
)

// TestS3ConsumptionJournalBoundedWithoutFlushes: on s3:// with the WAL,
// changes go to a local journal that each snapshot empties; changes with
// no flush between them (get_meta only) write a snapshot once the journal
// passes consumptionLogCompactEntries, so it stays bounded, and the state
// survives a reopen.
func TestS3ConsumptionJournalBoundedWithoutFlushes(t *testing.T) {
	srv := miniotest.Start(t, "consumption-journal")
	opts := Options{Path: "s3://consumption-journal/bucket_0", StorageOptions: srv.Options(), FlushThreshold: 100_000,
		WAL: WALOptions{Enabled: true}, WALPath: t.TempDir(),
		Background: BackgroundOptions{MaxFlushDelay: -1, DisableMaintenance: true}}
	b, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	const changes = consumptionLogCompactEntries + 300
	appendRows(t, b, 0, changes+10)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < changes; i++ {
		take(t, b, "a", 1)
	}
	journal := b.consumption.file.(*remoteConsumption).journal.path
	data, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	if entries, _ := readConsumptionLog(data); len(entries) > consumptionLogCompactEntries {
		t.Fatalf("after %d changes without a flush the journal holds %d entries", changes, len(entries))
	}
	b = reopen(t, b, opts)
	if got := take(t, b, "a", 2); !equalInts(got, seq(changes, 2)) {
		t.Fatalf("after reopen: %v", got)
	}
}
