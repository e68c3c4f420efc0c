package lance

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/persisting/persisting/lance/objstore"
	"google.golang.org/protobuf/encoding/protowire"
)

// maxCommitAttempts bounds the optimistic-concurrency retry loop (Lance's
// default CommitConfig::num_retries is 20).
const maxCommitAttempts = 20

// Writer identification stored in every manifest we write. A library name
// other than "lance" tells pylance not to apply workarounds for known bugs of
// old Lance releases.
const (
	writerLibrary = "lance-go"
	writerVersion = "0.1.0"
)

// DataFileVersion is the data storage version Write used for every dataset
// before it wrote 2.1 and 2.2.
//
// Deprecated: new datasets use WriteOptions.DataStorageVersion (default
// DefaultDataStorageVersion); appends use the dataset's own version.
const DataFileVersion = "2.0"

// DefaultDataStorageVersion is the data storage version of a new dataset
// when WriteOptions.DataStorageVersion is empty: the newest version this
// package writes, which is also pylance 14's default. pylance reads every
// type we write in it back exactly (structs with nulls at every level,
// which 2.0 cannot hold, included).
const DefaultDataStorageVersion = "2.2"

// errCommitConflict reports that another writer created the version first.
var errCommitConflict = errors.New("lance: manifest version already exists")

// commitRequest describes one commit: optional new fragment plus metadata.
type commitRequest struct {
	root string
	// base is the manifest the caller prepared its data against (nil when
	// the dataset did not exist); scheme its naming scheme.
	base   *Manifest
	scheme NamingScheme

	// For dataset creation: the schema to record and the data storage
	// version of its data files.
	fields         [][]byte
	schemaMetadata map[string][]byte
	dataVersion    string

	fragments  []Fragment // appended; none: commit without new data
	properties map[string]string
	config     map[string]string

	// check validates a (possibly newer) latest manifest before the commit
	// is rebuilt on top of it, e.g. that the schema is still the same.
	check func(m *Manifest) error
	// baseChecked: the caller has already done check's work on base, so
	// only a newer manifest (after a conflict) needs it.
	baseChecked bool

	// op is the operation: 0 for an append (an Overwrite when the dataset
	// is created), OpMerge (schema change: fields is the complete new
	// schema, fragments unchanged) or OpRewrite (rewrite replaces groups of
	// fragments by new ones).
	op      Operation
	rewrite []rewriteGroup
	// mergeFragments (OpMerge): the complete new fragment list, when the
	// merge adds data files (nil: fragments unchanged).
	mergeFragments []Fragment
	// index (OpCreateIndex): the index to add (see index.go).
	index *indexCommit
	// OpDelete (delete_prefix.go): fragments dropped whole, fragments
	// given a new deletion file (ids kept), and the predicate recorded.
	deleted   []uint64
	updated   []Fragment
	predicate string

	// dataDurable, when set, waits until the new data files and any new
	// dataset directories are durable (fsynced, directory entries too). The commit writes its transaction
	// and stages its manifest meanwhile, and links the manifest only after
	// it returns nil: no durable version ever names data that is not.
	dataDurable func() error

	// fence, when set, is the committing writer's (writer_fence.go); nil:
	// the one FenceCommits registered for root, if any.
	fence *Fence
}

// rewriteGroup replaces adjacent fragments (old, by id, as read) with new
// fragments holding the same live rows in the same order, and no more of
// them. The new fragments take the old ones' ids, lowest first: Lance wants
// a manifest's fragment ids ascending (pylance's validate calls a dataset
// corrupt otherwise), and a group replaced in place, before later fragments,
// has no other ids to take while rows keep their order (fresh ids would sort
// after the later fragments). pylance's compaction gives fresh ids and moves
// the rows to the end instead.
type rewriteGroup struct {
	old []Fragment
	new []Fragment
}

// withIDs returns req with the fragment ids of its rewrite groups assigned
// (rewriteGroup: the old fragments' ids; the transaction records them, as
// pylance's does).
func (req commitRequest) withIDs(base *Manifest) (commitRequest, error) {
	if req.op == OpCreateIndex {
		return req.withIndex(base)
	}
	if req.op != OpRewrite {
		return req, nil
	}
	groups := make([]rewriteGroup, len(req.rewrite))
	for i, g := range req.rewrite {
		if len(g.new) > len(g.old) {
			return req, fmt.Errorf("lance: a rewrite of %d fragments into %d has too few fragment ids", len(g.old), len(g.new))
		}
		ids := make([]uint64, len(g.old))
		for j, f := range g.old {
			ids[j] = f.ID
		}
		slices.Sort(ids)
		groups[i].old = g.old
		groups[i].new = make([]Fragment, len(g.new))
		for j, f := range g.new {
			f.ID = ids[j]
			groups[i].new[j] = f
		}
	}
	req.rewrite = groups
	return req, nil
}

// commit publishes a new version atomically and returns its manifest and the
// naming scheme used. See doc.go for the protocol.
func commit(req commitRequest) (*Manifest, NamingScheme, error) {
	base, scheme := req.base, req.scheme
	firstRead := uint64(0)
	if base != nil {
		firstRead = base.Version
	}
	fence := req.fence
	if fence == nil {
		fence = fenceFor(req.root)
	}
	if fence != nil {
		req.config = fence.stamp(req.config)
	}
	var lastErr error
	for attempt := 0; attempt < maxCommitAttempts; attempt++ {
		if attempt > 0 {
			// Another writer won: reload the latest version and rebuild.
			time.Sleep(commitBackoff(attempt))
			var err error
			base, scheme, err = loadLatestManifest(req.root)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return nil, 0, err
			}
			if req.base != nil && base != nil {
				if err := checkConcurrent(req.root, firstRead, base.Version); err != nil {
					return nil, 0, err
				}
			}
		}
		if fence != nil {
			if err := fence.admit(base); err != nil {
				return nil, 0, err
			}
		}
		if base != nil {
			if err := base.checkWritable(); err != nil {
				return nil, 0, err
			}
			if req.check != nil && !(req.baseChecked && base == req.base) {
				if err := req.check(base); err != nil {
					return nil, 0, err
				}
			}
		}
		if scheme == 0 {
			scheme = NamingV2
		}
		if req.op != 0 && base == nil {
			return nil, 0, fmt.Errorf("%w: %s", ErrNotFound, req.root)
		}
		attempt, err := req.withIDs(base)
		if err != nil {
			return nil, 0, err
		}
		txn := buildTransaction(attempt, base)
		txnName := txn.FileName()
		m, err := buildManifest(attempt, base, txnName)
		if err != nil {
			return nil, 0, err
		}
		data, err := encodeNewManifest(m)
		if err != nil {
			return nil, 0, err
		}
		// Transaction file, staged manifest and data files become durable
		// at once (independent fsyncs, not a chain of them); only then is
		// the manifest linked, the one step that publishes the version.
		remote := isRemote(req.root)
		tmp := ""
		if !remote {
			tmp = stagedManifestPath(req.root, m.Version)
		}
		err = concurrently(
			func() error { _, err := writeTransactionFile(req.root, txn); return err },
			func() error {
				if remote {
					return nil // published in one conditional PUT below
				}
				return stageManifest(tmp, data)
			},
			func() error {
				if req.dataDurable == nil {
					return nil
				}
				return req.dataDurable()
			},
		)
		switch {
		case err == nil && remote:
			err = putManifest(req.root, scheme, m.Version, data)
		case err == nil:
			err = linkManifest(req.root, scheme, m.Version, tmp)
		case !remote:
			os.Remove(tmp)
		}
		if err == nil {
			return m, scheme, nil
		}
		if remote {
			if uerr := uncertainPublish(req.root, scheme, m.Version, txnName, data, err); uerr != nil {
				return nil, 0, uerr // its transaction file may be a version's: kept
			}
		}
		// The transaction file of a failed attempt is referenced by no
		// manifest; remove it so retries do not litter _transactions/.
		removeFile(joinPath(req.root, transactionsDir, txnName))
		if !errors.Is(err, errCommitConflict) {
			return nil, 0, err
		}
		lastErr = err
	}
	return nil, 0, fmt.Errorf("%w: gave up after %d attempts: %v", ErrCommitConflict, maxCommitAttempts, lastErr)
}

// encodeNewManifest encodes the manifest file of m, which is being
// committed (not shared yet), and keeps the encoding of its fragments on m:
// an append built on top of it then encodes only its new fragment.
func encodeNewManifest(m *Manifest) ([]byte, error) {
	data, frags, err := encodeManifestFileFrags(m)
	if err != nil {
		return nil, err
	}
	m.fragsEnc = frags
	return data, nil
}

func commitBackoff(attempt int) time.Duration {
	// Jittered exponential backoff: ~1ms, 2ms, 4ms ... capped at 100ms.
	d := time.Millisecond << min(attempt-1, 7)
	d = min(d, 100*time.Millisecond)
	return d/2 + time.Duration(rand.Int64N(int64(d)))
}

// checkConcurrent inspects the transactions committed after readVersion up
// to latest and refuses to append on top of an operation that replaced the
// data (Overwrite, Restore), as Lance's conflict resolver does.
func checkConcurrent(root string, readVersion, latest uint64) error {
	for v := readVersion + 1; v <= latest; v++ {
		m, _, err := loadManifest(root, v)
		if err != nil {
			if errors.Is(err, ErrVersionNotFound) {
				continue // cleaned up
			}
			return err
		}
		t, err := loadTransaction(root, m)
		if err != nil {
			continue // nothing to check against; the schema check still runs
		}
		switch t.Op {
		case OpOverwrite, OpRestore:
			return fmt.Errorf("%w: concurrent %s committed version %d after read version %d",
				ErrCommitConflict, t.Op, v, readVersion)
		}
	}
	return nil
}

func buildTransaction(req commitRequest, base *Manifest) *Transaction {
	t := &Transaction{UUID: newUUID(), Properties: req.properties}
	var frags []Fragment
	for _, f := range req.fragments {
		f.ID = 0 // ids are assigned when the manifest is built
		frags = append(frags, f)
	}
	switch {
	case req.op == OpMerge:
		// Merge {1 fragments (all, unchanged), 2 schema, 3 schema_metadata,
		// 4 preserves_nullability}, as pylance's add_columns writes it.
		t.ReadVersion = base.Version
		t.Op = OpMerge
		var op []byte
		frags := base.Fragments
		if req.mergeFragments != nil {
			frags = req.mergeFragments
		}
		op = appendFragments(op, 1, frags)
		for _, f := range req.fields {
			op = appendBytesField(op, 2, f)
		}
		op = appendBytesMap(op, 3, base.SchemaMetadata)
		op = appendVarintField(op, 4, 1)
		t.OpBody = op
	case req.op == OpRewrite:
		// Rewrite {3 groups: RewriteGroup {1 old_fragments, 2 new_fragments}},
		// as pylance's compact_files writes it (new ids already assigned).
		t.ReadVersion = base.Version
		t.Op = OpRewrite
		var op []byte
		for _, g := range req.rewrite {
			var gb []byte
			gb = appendFragments(gb, 1, g.old)
			gb = appendFragments(gb, 2, g.new)
			op = appendBytesField(op, 3, gb)
		}
		t.OpBody = op
	case req.op == OpCreateIndex:
		t.ReadVersion = base.Version
		t.Op = OpCreateIndex
		t.OpBody = req.index.body
	case req.op == OpDelete:
		// Delete {1 updated_fragments, 2 deleted_fragment_ids (packed), 3 predicate}.
		t.ReadVersion = base.Version
		t.Op = OpDelete
		op := appendFragments(nil, 1, req.updated)
		var ids []byte
		for _, id := range req.deleted {
			ids = protowire.AppendVarint(ids, id)
		}
		if len(ids) > 0 {
			op = appendBytesField(op, 2, ids)
		}
		t.OpBody = appendStringField(op, 3, req.predicate)
	case base == nil:
		t.Op = OpOverwrite
		t.Fragments = frags
		t.Schema = req.fields
		t.SchemaMetadata = req.schemaMetadata
		t.ConfigUpsert = req.config
	default:
		t.ReadVersion = base.Version
		t.Op = OpAppend
		t.Fragments = frags
	}
	return t
}

func buildManifest(req commitRequest, base *Manifest, txnName string) (*Manifest, error) {
	m := &Manifest{}
	if base == nil {
		m.Version = 1
		m.Fields = req.fields
		m.SchemaMetadata = req.schemaMetadata
		v := req.dataVersion
		if v == "" {
			v = DefaultDataStorageVersion
		}
		m.DataFormat = &DataStorageFormat{FileFormat: "lance", Version: v}
	} else {
		if base.Version == math.MaxUint64-1 {
			return nil, errors.New("lance: version number space exhausted")
		}
		m.Version = base.Version + 1
		m.Fields = base.Fields
		m.SchemaMetadata = base.SchemaMetadata
		// Room for the appended fragments: one allocation, one copy.
		m.Fragments = make([]Fragment, len(base.Fragments), len(base.Fragments)+len(req.fragments))
		copy(m.Fragments, base.Fragments)
		// base's fragments, unchanged: their cached encoding still holds.
		m.fragsEnc = base.fragsEnc
		if req.op == OpMerge {
			m.Fields = req.fields
			if req.mergeFragments != nil {
				m.Fragments = append([]Fragment(nil), req.mergeFragments...)
				m.fragsEnc = encodedFragments{}
			}
		}
		m.MaxFragmentID = base.MaxFragmentID
		m.NextRowID = base.NextRowID
		m.DataFormat = base.DataFormat
		if m.DataFormat == nil {
			m.DataFormat = &DataStorageFormat{FileFormat: "lance", Version: DataFileVersion}
		}
		m.TableMetadata = base.TableMetadata
		m.BasePaths = base.BasePaths
		m.Branch = base.Branch
		// applyFeatureFlags recomputes the rest but keeps the sticky bits.
		m.ReaderFlags, m.WriterFlags = base.ReaderFlags, base.WriterFlags
		m.IndexSection = base.IndexSection
		if req.op == OpCreateIndex {
			m.IndexSection = req.index.newSection
		}
		for k, v := range base.Config {
			if m.Config == nil {
				m.Config = map[string]string{}
			}
			m.Config[k] = v
		}
	}
	for k, v := range req.config {
		if m.Config == nil {
			m.Config = map[string]string{}
		}
		m.Config[k] = v
	}
	if req.op == OpRewrite {
		frags, maxID, err := applyRewrite(base, req.rewrite)
		if err != nil {
			return nil, err
		}
		m.Fragments = frags
		m.fragsEnc = encodedFragments{}
		if maxID != nil && (m.MaxFragmentID == nil || *maxID > *m.MaxFragmentID) {
			m.MaxFragmentID = maxID
		}
	}
	if req.op == OpDelete {
		frags, err := applyDelete(base, req.deleted, req.updated)
		if err != nil {
			return nil, err
		}
		m.Fragments = frags
		m.fragsEnc = encodedFragments{}
	}
	if len(req.fragments) > 0 {
		id, err := nextFragmentID(base)
		if err != nil {
			return nil, err
		}
		for _, f := range req.fragments {
			if id > math.MaxUint32 {
				return nil, errors.New("lance: fragment id space exhausted")
			}
			f.ID = id
			m.Fragments = append(m.Fragments, f)
			m.MaxFragmentID = uint32p(uint32(id))
			id++
		}
	}
	m.Timestamp = time.Now().UTC()
	m.TransactionFile = txnName
	m.WriterVersion = &WriterVersion{Library: writerLibrary, Version: writerVersion}
	m.applyFeatureFlags()
	return m, nil
}

// applyRewrite returns base's fragment list with each group's old fragments
// replaced, at the position of the first of them, by its new fragments, and
// the highest fragment id of the list (nil if none): new fragments reuse old
// ids, so a base that records no MaxFragmentID needs every fragment's.
func applyRewrite(base *Manifest, groups []rewriteGroup) ([]Fragment, *uint32, error) {
	replaced := map[uint64]int{} // old fragment id -> group
	for gi, g := range groups {
		for _, f := range g.old {
			replaced[f.ID] = gi
		}
	}
	var out []Fragment
	done := make([]bool, len(groups))
	found := 0
	var maxID *uint32
	for _, f := range base.Fragments {
		gi, ok := replaced[f.ID]
		if !ok {
			out = append(out, f)
			continue
		}
		found++
		if done[gi] {
			continue
		}
		done[gi] = true
		out = append(out, groups[gi].new...)
	}
	if found != len(replaced) {
		return nil, nil, fmt.Errorf("%w: fragments being rewritten were removed concurrently", ErrCommitConflict)
	}
	for _, f := range out {
		if maxID == nil || uint32(f.ID) > *maxID {
			maxID = uint32p(uint32(f.ID))
		}
	}
	return out, maxID, nil
}

// nextFragmentID returns the id for a fragment appended on top of base.
func nextFragmentID(base *Manifest) (uint64, error) {
	if base == nil {
		return 0, nil
	}
	var next uint64
	switch {
	case base.MaxFragmentID != nil:
		next = uint64(*base.MaxFragmentID) + 1
	default:
		for _, f := range base.Fragments {
			if f.ID+1 > next {
				next = f.ID + 1
			}
		}
	}
	if next > math.MaxUint32 {
		return 0, errors.New("lance: fragment id space exhausted")
	}
	return next, nil
}

// publishManifest makes data visible as version v, all at once, unless the
// version already exists (errCommitConflict). The bytes go to a temporary
// name that readers ignore (it does not end in "manifest"), are fsynced, and
// are hard-linked to the final name: link(2) fails with EEXIST if another
// writer got there first, so exactly one writer creates each version.
func publishManifest(root string, s NamingScheme, v uint64, data []byte) error {
	tmp := stagedManifestPath(root, v)
	if err := stageManifest(tmp, data); err != nil {
		return err
	}
	return linkManifest(root, s, v, tmp)
}

// stagedManifestPath is a fresh temporary name for a manifest of version v.
func stagedManifestPath(root string, v uint64) string {
	return joinPath(root, versionsDir, fmt.Sprintf(".tmp_%d_%s", v, newUUID()))
}

// stageManifest writes the manifest bytes to tmp (see stagedManifestPath),
// fsynced; nothing reads them until linkManifest.
func stageManifest(tmp string, data []byte) error {
	if err := writeFileSync(tmp, data); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("lance: write manifest: %w", err)
	}
	return nil
}

// linkManifest publishes the staged manifest tmp as version v (or reports
// errCommitConflict), removes tmp and makes the new name durable.
func linkManifest(root string, s NamingScheme, v uint64, tmp string) error {
	dir := joinPath(root, versionsDir)
	final := joinPath(dir, ManifestName(s, v))
	err := os.Link(tmp, final)
	os.Remove(tmp)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return errCommitConflict
		}
		return fmt.Errorf("lance: publish manifest: %w", err)
	}
	observeSync("link", final)
	if err := syncDir(dir); err != nil {
		// The manifest is visible; only its durability across a power loss
		// is in doubt. Report it: the caller must not assume durability.
		return fmt.Errorf("lance: sync %s: %w", dir, err)
	}
	return nil
}

// concurrently runs fns at the same time and returns the first error (in
// the order of fns), after all of them have returned.
func concurrently(fns ...func() error) error {
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i := 1; i < len(fns); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fns[i]()
		}()
	}
	if len(fns) > 0 {
		errs[0] = fns[0]()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// syncObserver, when set (by tests), sees every fsync this package makes
// durable ("sync", path) and every manifest link ("link", path), in order:
// the durability protocol is checked by its order, not by a power loss.
var syncObserver func(op, path string)

func observeSync(op, path string) {
	if syncObserver != nil {
		syncObserver(op, path)
	}
}

// writeFileSync creates path exclusively, writes data and fsyncs it.
func writeFileSync(path string, data []byte) error {
	if isRemote(path) {
		return objstore.PutIfAbsent(path, data) // durable once answered
	}
	if err := objstore.WriteFileSynced(path, data, os.O_EXCL); err != nil {
		return err
	}
	observeSync("sync", path)
	return nil
}

// syncFile fsyncs an existing file.
func syncFile(path string) error {
	if isRemote(path) {
		return nil // an object is durable once its PUT is answered
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	observeSync("sync", path)
	return f.Close()
}

// syncDir fsyncs a directory so that entries created in it are durable.
func syncDir(dir string) error {
	if isRemote(dir) {
		return nil // object stores have no directories
	}
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		observeSync("sync", dir)
	}
	return err
}

// ensureLayout creates the dataset directories (idempotent). When it
// creates any, fsyncing the new entries (the root and its parent) starts on
// a goroutine, so that journal commit overlaps the data file's encoding;
// the returned wait reports its outcome, and the commit waits for it before
// the manifest is linked (nil: nothing was created).
func ensureLayout(root string) (wait func() error, err error) {
	if isRemote(root) {
		return nil, nil // object stores have no directories to create
	}
	created := false
	if _, err := os.Stat(root); errors.Is(err, os.ErrNotExist) {
		created = true
	}
	for _, d := range []string{dataDir, versionsDir, transactionsDir} {
		p := joinPath(root, d)
		if _, err := os.Stat(p); err == nil {
			continue
		}
		if err := os.MkdirAll(p, 0o755); err != nil {
			return nil, fmt.Errorf("lance: create %s: %w", p, err)
		}
		created = true
	}
	if !created {
		return nil, nil
	}
	return inBackground(func() error {
		if err := syncDir(root); err != nil {
			return fmt.Errorf("lance: sync %s: %w", root, err)
		}
		if parent := filepath.Dir(root); parent != root {
			_ = syncDir(parent) // best effort: the parent may not be ours
		}
		return nil
	}), nil
}

// inBackground runs fn on a goroutine and returns a wait for its result,
// which may be called any number of times.
func inBackground(fn func() error) func() error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	var err error
	waited := false
	return func() error {
		if !waited {
			err, waited = <-done, true
		}
		return err
	}
}

// allOf is a wait for every non-nil wait of waits, in order (the first
// error wins; every wait is still called).
func allOf(waits ...func() error) func() error {
	return func() error {
		var first error
		for _, w := range waits {
			if w == nil {
				continue
			}
			if err := w(); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
}

// loadManifest reads the manifest of version v.
func loadManifest(root string, v uint64) (*Manifest, NamingScheme, error) {
	p, s, err := manifestPath(root, v)
	if err != nil {
		return nil, 0, err
	}
	m, err := readManifestFile(p)
	if err != nil {
		return nil, 0, err
	}
	if m.Version != v {
		return nil, 0, corruptf("%s holds version %d, want %d", p, m.Version, v)
	}
	return m, s, nil
}

// loadLatestManifest reads the newest manifest (ErrNotFound if none).
func loadLatestManifest(root string) (*Manifest, NamingScheme, error) {
	l, err := listVersionsAt(root)
	if err != nil {
		return nil, 0, err
	}
	p := joinPath(root, versionsDir, ManifestName(l.scheme, l.latest))
	m, err := readManifestFile(p)
	if err != nil {
		return nil, 0, err
	}
	if m.Version != l.latest {
		return nil, 0, corruptf("%s holds version %d, want %d", p, m.Version, l.latest)
	}
	return m, l.scheme, nil
}

func readManifestFile(p string) (*Manifest, error) {
	data, err := readFile(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrVersionNotFound, p)
		}
		if errors.Is(err, syscall.EISDIR) {
			return nil, corruptf("%s is a directory, not a manifest", p)
		}
		return nil, fmt.Errorf("lance: %w", err)
	}
	m, err := decodeManifestFile(data)
	if err != nil {
		return nil, corruptf("%s: %v", filepath.Base(p), err)
	}
	return m, nil
}
