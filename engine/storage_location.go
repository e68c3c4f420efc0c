package engine

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/persisting/persisting/lance/objstore"
	"github.com/persisting/persisting/wal"
)

// A bucket's storage path is a local directory, a file:// URL or an
// s3://bucket/prefix URL. The dataset lives under it either way; the WAL
// always stays on local disk: under the path for local buckets, under
// Options.WALPath for s3:// ones (required when the WAL is on).

// remote says whether the bucket's dataset is in an object store.
func (o Options) remote() bool { return objstore.IsRemote(o.Path) }

// normalizePath turns a file: URL into the local path it names (one that
// names none is left for validateStorage to refuse).
func (o Options) normalizePath() Options {
	if p, ok := objstore.LocalPath(o.Path); ok {
		o.Path = p
	}
	return o
}

// validateStorage checks the storage path, storage options and WAL
// location.
func (o Options) validateStorage() error {
	if err := objstore.CheckPath(o.Path); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	if len(o.StorageOptions) > 0 {
		// Checked for every path, so a typo is caught on a local run too.
		if _, err := objstore.ParseConfig(o.StorageOptions); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidArgument, err)
		}
	}
	if o.WALPath != "" {
		if _, ok := objstore.LocalPath(o.WALPath); !ok || objstore.IsRemote(o.WALPath) {
			return fmt.Errorf("%w: wal_path %q must be a local directory (the WAL is fsynced on local disk)", ErrInvalidArgument, o.WALPath)
		}
	}
	if o.remote() && o.WAL.Enabled && o.WALPath == "" {
		return fmt.Errorf("%w: enable_wal with storage_path %s needs wal_path, a local directory for the write-ahead log "+
			"(records acknowledged but not yet flushed live only there; see docs/object-storage.md)", ErrInvalidArgument, o.Path)
	}
	return nil
}

// datasetPath is where the Lance dataset lives.
func (o Options) datasetPath() string { return objstore.JoinURL(o.Path, DatasetDirName) }

// walPath is the directory of the bucket's WAL: Path/wal, or with WALPath
// set, WALPath followed by the storage path's components (a wal_path
// shared by all buckets of a queue still gives each its own log):
// s3://b/q/bucket_3 logs to {wal_path}/s3/b/q/bucket_3/wal. "" for an
// s3:// bucket without WALPath (no WAL).
func (o Options) walPath() string {
	if o.WALPath == "" {
		if o.remote() {
			return ""
		}
		return filepath.Join(o.Path, WALDirName)
	}
	walRoot, _ := objstore.LocalPath(o.WALPath)
	var rel string
	if o.remote() {
		bucket, key, _ := objstore.SplitS3(o.Path) // the key pylance reads, escapes decoded
		rel = filepath.Join("s3", bucket, filepath.FromSlash(key))
	} else {
		abs, err := filepath.Abs(o.Path)
		if err != nil {
			abs = o.Path
		}
		rel = filepath.Join("local", abs)
	}
	return filepath.Join(walRoot, rel, WALDirName)
}

// prepareStorage makes sure the bucket can write where it stores data, so
// a bad path or credentials fail at open rather than at the first flush,
// with the rows then in memory only. For s3:// it configures the store
// from StorageOptions and writes and removes a probe object.
func prepareStorage(o Options) error {
	if !o.remote() {
		return prepareDir(o.Path)
	}
	if err := objstore.Configure(o.Path, o.StorageOptions); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	var id [8]byte
	rand.Read(id[:])
	probe := objstore.JoinURL(o.Path, ".write-probe-"+hex.EncodeToString(id[:]))
	if err := objstore.Put(probe, nil); err != nil {
		return fmt.Errorf("engine: storage path %s is not writable: %w", o.Path, err)
	}
	if err := objstore.Remove(probe); err != nil {
		return fmt.Errorf("engine: storage path %s: removing the write probe: %w", o.Path, err)
	}
	return nil
}

// walOwnerKey names the manifest config entry that says which WAL the
// watermark (walWatermarkKey) counts in: the id of the WAL directory. Only
// buckets whose WAL lives apart from the dataset (wal_path) record it:
// their WAL stays on its node when the bucket moves to another.
const walOwnerKey = "persisting.wal_owner"

// walOwnerID returns the id of the bucket's WAL directory, kept in the
// file beside it ("{wal}.id", made on first use); "" when the WAL lives
// under the storage path and so always travels with the dataset.
func (o Options) walOwnerID() (string, error) {
	if o.WALPath == "" {
		return "", nil
	}
	p := o.walPath() + ".id"
	if b, err := os.ReadFile(p); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%w: %v", ErrWAL, err)
	}
	var id [16]byte
	rand.Read(id[:])
	s := hex.EncodeToString(id[:])
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", fmt.Errorf("%w: %v", ErrWAL, err)
	}
	if err := os.WriteFile(p, []byte(s+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("%w: %v", ErrWAL, err)
	}
	return s, nil
}

// checkWALOwner refuses to replay a WAL kept apart from the dataset when
// another WAL has committed to the dataset since: the bucket moved to
// another node and back while this node's log still held entries. Their
// numbers mean nothing against the other log's watermark, so replay could
// drop some and append others late; the caller decides (see
// docs/object-storage.md) instead of this guessing.
func (b *Bucket) checkWALOwner(log *wal.Log) error {
	id, err := b.opts.walOwnerID()
	if err != nil {
		return err
	}
	b.walOwner = id
	if id == "" || b.dataset == nil {
		return nil
	}
	recorded, ok := b.dataset.Config()[walOwnerKey]
	if !ok || recorded == id {
		return nil
	}
	first, err := log.FirstIndex()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrWAL, err)
	}
	last, err := log.LastIndex()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrWAL, err)
	}
	if first > last {
		return nil // nothing left here: the bucket simply moved to this node
	}
	return fmt.Errorf("%w: %s holds entries %d..%d, written when this node last had the bucket, but %s has been "+
		"written through another node's WAL since (version %d); replaying them could lose or reorder records. "+
		"Recover them by hand or remove %s to discard them (docs/object-storage.md)",
		ErrWAL, b.opts.walPath(), first, last, b.opts.datasetPath(), b.dataset.Version(), b.opts.walPath())
}
