package lance

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/persisting/persisting/lance/file"
	"github.com/persisting/persisting/lance/schema"
)

// WriteOptions tune one Write call.
type WriteOptions struct {
	// Properties are stored in the transaction of the new version
	// (Transaction.transaction_properties), e.g. a WAL watermark. Read them
	// back with Dataset.TransactionProperties.
	Properties map[string]string
	// Config entries are upserted into the manifest's config map.
	Config map[string]string
	// DataStorageVersion is the data file version of a dataset Write
	// creates: "2.0", "2.1" or "2.2" ("" means DefaultDataStorageVersion).
	// Appends always use the dataset's own version (as pylance does) and
	// ignore it. 2.0 cannot store structs or maps; see
	// CheckWritableVersion.
	DataStorageVersion string
	// Compression is the general-purpose codec of the data file: "" (none),
	// "zstd" or "lz4"; anything else is an error wrapping ErrUnsupported
	// (Lance has no snappy). A field whose Arrow metadata sets
	// "lance-encoding:compression" uses that codec instead, as in pylance.
	// When Write creates the dataset, the codec is recorded under that key
	// in the metadata of every field, as Lance keeps it, so later appends
	// (ours, whatever their Compression, and pylance's) use it too.
	// In 2.2 and 2.1 files it compresses mini-block value buffers and large
	// string values (a page stays uncompressed where that would not make it
	// smaller); in 2.0 files, like pylance, only the bytes of string and
	// binary pages.
	Compression string
	// Base is the newest version of this dataset the caller knows (say,
	// what its previous Write returned). Write appends on top of it instead
	// of listing _versions to find the latest; if another writer has
	// committed since, the commit finds the version taken and retries on
	// the newest, as always. Nil: Write reads the latest version itself.
	Base *Dataset
}

// VersionInfo describes one committed version.
type VersionInfo struct {
	Version   uint64
	Timestamp time.Time
}

// Dataset is an immutable snapshot of one version of a Lance dataset. It is
// safe for concurrent use. It holds no open file descriptors (data file
// readers live in the process's bounded reader cache, reader_cache.go), so
// it needs no Close.
type Dataset struct {
	root     string
	manifest *Manifest
	scheme   NamingScheme
	fields   []schema.Field
	schema   *arrow.Schema
	// rowEnds[i] is the number of live rows in fragments [0, i].
	rowEnds []int64
	// physRows[i] is the number of physical rows of fragment i (deleted
	// ones included), from the manifest or, if not recorded, the data file.
	physRows []int64

	// Deletion vectors loaded so far, by fragment index (immutable once
	// loaded: a deletion file never changes).
	dvMu    sync.Mutex
	dvCache map[int][]uint32

	// topOf maps every field id to the id of its top-level ancestor.
	topOf map[int32]int32
	// leaves maps every top-level field id to the ids of its leaf
	// descendants in pre-order (the field itself when it has no children).
	// Data files of version 2.1+ store a nested field only as these leaves.
	leaves map[int32][]int32

	// appendable memoizes checkAppendable, which depends on the manifest
	// only (checking every column's writer costs ~7 us a column).
	appendableOnce sync.Once
	appendable     error
}

// Open opens the latest version of the dataset at path.
func Open(path string) (*Dataset, error) {
	m, s, err := loadLatestManifest(path)
	if err != nil {
		return nil, err
	}
	return newDataset(path, m, s)
}

// OpenVersion opens a specific version of the dataset at path.
func OpenVersion(path string, version uint64) (*Dataset, error) {
	if !isRemote(path) { // an object store has no directory to miss: the manifest lookup says
		if _, err := os.Stat(joinPath(path, versionsDir)); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, path)
		}
	}
	m, s, err := loadManifest(path, version)
	if err != nil {
		return nil, err
	}
	return newDataset(path, m, s)
}

func newDataset(root string, m *Manifest, s NamingScheme) (*Dataset, error) {
	if err := m.checkReadable(); err != nil {
		return nil, fmt.Errorf("%s version %d: %w", root, m.Version, err)
	}
	d := &Dataset{root: root, manifest: m, scheme: s}
	d.fields = make([]schema.Field, len(m.Fields))
	for i, raw := range m.Fields {
		f, err := schema.UnmarshalField(raw)
		if err != nil {
			return nil, corruptf("%s version %d: field %d: %v", root, m.Version, i, err)
		}
		d.fields[i] = f
	}
	sch, err := schema.ToArrowWithMetadata(d.fields, m.SchemaMetadata)
	if err != nil {
		return nil, fmt.Errorf("lance: %s version %d: %w", root, m.Version, err)
	}
	d.schema = sch
	d.topOf = make(map[int32]int32, len(d.fields))
	for _, f := range d.fields {
		top := f.ID
		if f.ParentID != -1 {
			t, ok := d.topOf[f.ParentID]
			if !ok {
				return nil, corruptf("%s version %d: field %q precedes its parent %d", root, m.Version, f.Name, f.ParentID)
			}
			top = t
		}
		d.topOf[f.ID] = top
	}
	d.leaves = leafIDs(d.fields)
	d.rowEnds = make([]int64, len(m.Fragments))
	d.physRows = make([]int64, len(m.Fragments))
	var total int64
	for i := range m.Fragments {
		f := &m.Fragments[i]
		if f.PhysicalRows > math.MaxInt64/2 {
			return nil, corruptf("%s version %d: fragment %d has %d rows", root, m.Version, f.ID, f.PhysicalRows)
		}
		phys := int64(f.PhysicalRows)
		if phys == 0 && len(f.Files) > 0 {
			// Row count not recorded: ask the data file.
			c, err := d.countFileRows(f)
			if err != nil {
				return nil, err
			}
			phys = c
		}
		d.physRows[i] = phys
		live := phys
		if df := f.DeletionFile; df != nil {
			deleted := df.NumDeletedRows
			if deleted == 0 {
				// Count not recorded (old writers): read the file, as Lance does.
				dv, err := d.deletions(i)
				if err != nil {
					return nil, fmt.Errorf("lance: %s version %d: %w", root, m.Version, err)
				}
				deleted = uint64(len(dv))
			}
			if deleted > uint64(phys) {
				return nil, corruptf("%s version %d: fragment %d has %d rows but %d deleted", root, m.Version, f.ID, phys, deleted)
			}
			live -= int64(deleted)
		}
		total += live
		d.rowEnds[i] = total
	}
	return d, nil
}

// leafIDs returns, for each top-level field, the ids of its leaf
// descendants in pre-order (children in schema order).
func leafIDs(fields []schema.Field) map[int32][]int32 {
	children := map[int32][]int32{}
	for _, f := range fields {
		if f.ParentID != -1 {
			children[f.ParentID] = append(children[f.ParentID], f.ID)
		}
	}
	out := map[int32][]int32{}
	var walk func(top, id int32, depth int)
	walk = func(top, id int32, depth int) {
		kids := children[id]
		if len(kids) == 0 || depth > 64 {
			out[top] = append(out[top], id)
			return
		}
		for _, k := range kids {
			walk(top, k, depth+1)
		}
	}
	for _, f := range fields {
		if f.ParentID == -1 {
			walk(f.ID, f.ID, 0)
		}
	}
	return out
}

// deletions returns the sorted deleted physical offsets of fragment i (nil
// without a deletion file), loading and caching its deletion file.
func (d *Dataset) deletions(i int) ([]uint32, error) {
	f := &d.manifest.Fragments[i]
	if f.DeletionFile == nil {
		return nil, nil
	}
	d.dvMu.Lock()
	dv, ok := d.dvCache[i]
	d.dvMu.Unlock()
	if ok {
		return dv, nil
	}
	dv, err := readDeletionFile(d.root, f, uint64(d.physRows[i]))
	if err != nil {
		return nil, err
	}
	d.dvMu.Lock()
	if d.dvCache == nil {
		d.dvCache = map[int][]uint32{}
	}
	d.dvCache[i] = dv
	d.dvMu.Unlock()
	return dv, nil
}

func (d *Dataset) countFileRows(f *Fragment) (int64, error) {
	p, err := d.dataFilePath(&f.Files[0])
	if err != nil {
		return 0, err
	}
	r, done, err := openDataFile(p, f.Files[0].FileSizeBytes, true) // the read that follows wants it too
	if err != nil {
		return 0, fmt.Errorf("lance: fragment %d: %w", f.ID, err)
	}
	n := r.NumRows()
	done(nil)
	return n, nil
}

// Path returns the dataset root directory.
func (d *Dataset) Path() string { return d.root }

// Version returns the version number of this snapshot.
func (d *Dataset) Version() uint64 { return d.manifest.Version }

// Timestamp returns the commit time of this version.
func (d *Dataset) Timestamp() time.Time { return d.manifest.Timestamp }

// NamingScheme returns the manifest naming scheme of the dataset.
func (d *Dataset) NamingScheme() NamingScheme { return d.scheme }

// Schema returns the Arrow schema of the dataset.
func (d *Dataset) Schema() *arrow.Schema { return d.schema }

// Fields returns the Lance schema (a copy).
func (d *Dataset) Fields() []schema.Field { return append([]schema.Field(nil), d.fields...) }

// DataStorageVersion returns the data file version recorded in the manifest
// (e.g. "2.0"), or "" if none is recorded.
func (d *Dataset) DataStorageVersion() string {
	if d.manifest.DataFormat == nil {
		return ""
	}
	return d.manifest.DataFormat.Version
}

// NumFragments returns the number of fragments.
func (d *Dataset) NumFragments() int { return len(d.manifest.Fragments) }

// CountRows returns the number of live rows: the sum of the fragments'
// physical rows minus their deleted rows (exact: deletion files whose count
// the manifest does not record are read at open).
func (d *Dataset) CountRows() int64 {
	if len(d.rowEnds) == 0 {
		return 0
	}
	return d.rowEnds[len(d.rowEnds)-1]
}

// Config returns a copy of the manifest's config map.
func (d *Dataset) Config() map[string]string {
	out := make(map[string]string, len(d.manifest.Config))
	for k, v := range d.manifest.Config {
		out[k] = v
	}
	return out
}

// TransactionProperties returns the properties of the transaction that
// created this version (WriteOptions.Properties for versions we wrote).
func (d *Dataset) TransactionProperties() (map[string]string, error) {
	t, err := loadTransaction(d.root, d.manifest)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(t.Properties))
	for k, v := range t.Properties {
		out[k] = v
	}
	return out, nil
}

// Versions lists all versions of the dataset that are still present on disk,
// oldest first (it reads every manifest).
func (d *Dataset) Versions() ([]VersionInfo, error) {
	l, err := listVersions(d.root)
	if err != nil {
		return nil, err
	}
	sort.Slice(l.versions, func(i, j int) bool { return l.versions[i] < l.versions[j] })
	out := make([]VersionInfo, 0, len(l.versions))
	for _, v := range l.versions {
		m, err := readManifestFile(joinPath(d.root, versionsDir, ManifestName(l.scheme, v)))
		if err != nil {
			if errors.Is(err, ErrVersionNotFound) {
				continue // removed by a concurrent cleanup
			}
			return nil, err
		}
		out = append(out, VersionInfo{Version: m.Version, Timestamp: m.Timestamp})
	}
	return out, nil
}

func (d *Dataset) dataFilePath(df *DataFile) (string, error) {
	if df.Path == "" || filepath.IsAbs(df.Path) || !filepath.IsLocal(df.Path) {
		return "", corruptf("invalid data file path %q", df.Path)
	}
	if len(df.Extra) > 0 {
		// base_id (field 7) is the only extra DataFile field Lance defines:
		// the file lives under another base path (base_paths.go).
		if p, ok, err := d.baseFilePath(fmt.Sprintf("data file %q", df.Path), df.Path, df.Extra); ok {
			return p, err
		}
		return "", fmt.Errorf("%w: data file %q uses fields this reader does not understand", ErrUnsupported, df.Path)
	}
	return joinPath(d.root, dataDir, filepath.FromSlash(df.Path)), nil
}

// Write commits recs (all with one schema) as one new fragment made of one
// data file, in a new version of the dataset at path. It creates the dataset
// (version 1, Overwrite transaction) when absent and appends (Append
// transaction) otherwise. The records' schema must equal the dataset's
// (names, types, order). Zero rows commit a version without a new fragment.
// The commit is atomic (see doc.go): a crash at any point leaves the previous
// version intact.
func Write(path string, recs []arrow.Record, opts WriteOptions) (*Dataset, error) {
	if len(recs) == 0 {
		return nil, errors.New("lance: Write needs at least one record batch (for the schema)")
	}
	sch := recs[0].Schema()
	var rows int64
	for i, r := range recs {
		if i > 0 {
			if err := compareSchemas(sch, r.Schema()); err != nil {
				return nil, fmt.Errorf("lance: record batch %d: %w", i, err)
			}
		}
		rows += r.NumRows()
	}

	comp, err := file.ParseCompression(opts.Compression)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	var base *Manifest
	var scheme NamingScheme
	var cur *Dataset
	if b := opts.Base; b != nil {
		if cleanPath(b.root) != cleanPath(path) {
			return nil, fmt.Errorf("lance: WriteOptions.Base is a version of %s, not of %s", b.root, path)
		}
		base, scheme, cur = b.manifest, b.scheme, b
	} else {
		base, scheme, err = loadLatestManifest(path)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	var fields []schema.Field
	var rawFields [][]byte
	var schemaMD map[string][]byte
	var baseFields []schema.Field
	var version file.Version
	if base != nil {
		if cur == nil {
			if cur, err = newDataset(path, base, scheme); err != nil {
				return nil, err
			}
		}
		if err := checkAppendable(cur); err != nil {
			return nil, err
		}
		if err := compareSchemas(cur.schema, sch); err != nil {
			return nil, err
		}
		fields, baseFields = cur.fields, cur.fields
		if version, err = cur.writeVersion(); err != nil {
			return nil, err
		}
	} else {
		if version, err = parseStorageVersion(opts.DataStorageVersion); err != nil {
			return nil, err
		}
		if fields, err = schema.FromArrow(sch, 0); err != nil {
			return nil, fmt.Errorf("lance: %w", err)
		}
		if err := file.CheckWritableVersion(fields, version); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
		}
		recordCompression(fields, comp)
		for _, f := range fields {
			rawFields = append(rawFields, schema.MarshalField(f))
		}
		schemaMD = schema.MetadataFromArrow(sch)
	}
	if err := checkNulls(fields, recs); err != nil {
		return nil, err
	}
	layoutDurable, err := ensureLayout(path)
	if err != nil {
		return nil, err
	}
	if layoutDurable != nil {
		defer layoutDurable() // never leave the sync running past Write
	}

	var frags []Fragment
	var dataPaths []string
	removeData := func() { // files referenced by no manifest
		for _, p := range dataPaths {
			removeFile(p)
		}
	}
	dataDurable := layoutDurable
	if rows > 0 {
		nonEmpty := make([]arrow.Record, 0, len(recs))
		for _, r := range recs {
			if r.NumRows() > 0 {
				nonEmpty = append(nonEmpty, r)
			}
		}
		// One data file, unless the records' dictionaries do not fit one
		// (pylance reads a file's page dictionaries as one): then a file
		// per run that fits, one fragment each.
		for _, run := range file.DictionaryRuns(nonEmpty) {
			name := newDataFileName()
			dataPath := joinPath(path, dataDir, name)
			dataPaths = append(dataPaths, dataPath)
			res, err := file.WriteFileWithOptions(dataPath, fields, run, file.WriteOptions{Version: version, Compression: comp, NoSync: true})
			if err != nil {
				if mayRemoveWritten(err) {
					removeData()
				}
				return nil, fmt.Errorf("lance: write data file: %w", err)
			}
			if len(res.ColumnIndices) != len(res.Fields) {
				removeData()
				return nil, fmt.Errorf("lance: data file reports %d column indices for %d fields", len(res.ColumnIndices), len(res.Fields))
			}
			frags = append(frags, Fragment{
				Files: []DataFile{{
					Path:          name,
					Fields:        res.Fields,
					ColumnIndices: res.ColumnIndices,
					MajorVersion:  res.MajorVersion,
					MinorVersion:  res.MinorVersion,
					FileSizeBytes: uint64(res.FileSize),
				}},
				PhysicalRows: uint64(res.NumRows),
			})
		}
		// The data files become durable while the commit writes its own
		// files; the commit links the manifest only after this succeeds.
		fileDurable := inBackground(func() error {
			for _, p := range dataPaths {
				if err := syncFile(p); err != nil {
					return fmt.Errorf("lance: sync data file: %w", err)
				}
			}
			if err := syncDir(joinPath(path, dataDir)); err != nil {
				return fmt.Errorf("lance: sync data file: %w", err)
			}
			return nil
		})
		defer fileDurable() // never leave the sync running past Write
		dataDurable = allOf(layoutDurable, fileDurable)
	}

	req := commitRequest{
		root:           path,
		base:           base,
		scheme:         scheme,
		fields:         rawFields,
		schemaMetadata: schemaMD,
		dataVersion:    version.String(),
		fragments:      frags,
		properties:     opts.Properties,
		config:         opts.Config,
		dataDurable:    dataDurable,
		baseChecked:    base != nil,
		check: func(m *Manifest) error {
			cur, err := newDataset(path, m, 0)
			if err != nil {
				return err
			}
			if err := checkAppendable(cur); err != nil {
				return err
			}
			want := baseFields
			if want == nil {
				want = fields // we meant to create it; someone else did
			}
			if err := sameFields(want, cur.fields); err != nil {
				return err
			}
			return checkNullsNow(want, cur.fields, recs)
		},
	}
	m, s, err := commit(req)
	if err != nil {
		if mayRemoveWritten(err) {
			removeData()
		}
		return nil, err
	}
	return newDataset(path, m, s)
}

// recordCompression stores the dataset's codec in the metadata of every
// field that does not name its own, as Lance keeps it
// ("lance-encoding:compression"): later appends, ours and pylance's, read
// it from the dataset schema and compress alike.
func recordCompression(fields []schema.Field, comp string) {
	if comp == file.CompressionNone {
		return
	}
	for i := range fields {
		if _, ok := fields[i].Metadata[file.CompressionMetadataKey]; ok {
			continue
		}
		md := make(map[string][]byte, len(fields[i].Metadata)+1)
		for k, v := range fields[i].Metadata {
			md[k] = v
		}
		md[file.CompressionMetadataKey] = []byte(comp)
		fields[i].Metadata = md
	}
}

// parseStorageVersion parses WriteOptions.DataStorageVersion ("" is the
// default) into a file version this package writes.
func parseStorageVersion(s string) (file.Version, error) {
	if s == "" {
		s = DefaultDataStorageVersion
	}
	v, err := file.ParseVersion(s)
	if err != nil {
		return v, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	return v, nil
}

// writeVersion is the data file version new data files of this dataset
// get: its recorded data storage version or, for manifests that do not
// record one, the version of its data files (2.0 without any).
func (d *Dataset) writeVersion() (file.Version, error) {
	s := d.DataStorageVersion()
	if s == "" {
		s = "2.0"
		for i := range d.manifest.Fragments {
			for _, df := range d.manifest.Fragments[i].Files {
				s = fmt.Sprintf("%d.%d", df.MajorVersion, df.MinorVersion)
				if s == "0.3" {
					s = "2.0"
				}
				break
			}
			break
		}
	}
	v, err := file.ParseVersion(s)
	if err != nil {
		return v, fmt.Errorf("%w: cannot write to %s: its data storage version is %s and this writer writes 2.0, 2.1 and 2.2",
			ErrUnsupported, d.root, s)
	}
	return v, nil
}

// checkAppendable is the one authority on whether rows can be appended to
// d, so that a caller can refuse them up front instead of holding rows every
// write of them must fail: d's writer feature flags (checkWritable), its data
// file versions (checkNewDataFiles) and each of its columns in the version
// new data files get (file.CheckWritableVersion: pylance's 2.0 datasets may
// hold nested columns this writer only writes from 2.1 on).
func checkAppendable(d *Dataset) error {
	d.appendableOnce.Do(func() {
		v, err := checkNewDataFiles(d)
		if err == nil {
			if err = file.CheckWritableVersion(d.fields, v); err != nil {
				err = fmt.Errorf("%w: cannot append to %s (data storage version %s): %v", ErrUnsupported, d.root, v, err)
			}
		}
		d.appendable = err
	})
	return d.appendable
}

// checkNewDataFiles refuses to add data files to d when its writer feature
// flags ask for something this package does not write, when its data
// storage version is one this package does not write, or when its data
// files are not all of that version unless the dataset allows mixed versions
// (feature flag 256, which pylance sets when an append names another
// data_storage_version). It returns the version new data files get: always
// the dataset's data storage version, as in pylance.
func checkNewDataFiles(d *Dataset) (file.Version, error) {
	if err := d.manifest.checkWritable(); err != nil {
		return file.Version{}, fmt.Errorf("cannot write to %s: %w", d.root, err)
	}
	v, err := d.writeVersion()
	if err != nil {
		return v, err
	}
	mixed := d.manifest.ReaderFlags&FlagMixedDataFileVersions != 0
	for i := range d.manifest.Fragments {
		for _, df := range d.manifest.Fragments[i].Files {
			fv := file.Version{Major: df.MajorVersion, Minor: df.MinorVersion}
			if fv == (file.Version{Major: 0, Minor: 3}) {
				fv = file.V2_0
			}
			if fv == v {
				continue
			}
			if !mixed {
				return v, fmt.Errorf("%w: cannot append to %s: data file %s has version %s but the dataset's data storage version is %s",
					ErrUnsupported, d.root, df.Path, fv, v)
			}
			if _, err := file.ParseVersion(fv.String()); err != nil {
				return v, fmt.Errorf("%w: cannot append to %s: data file %s has version %s, which this package does not read",
					ErrUnsupported, d.root, df.Path, fv)
			}
		}
	}
	return v, nil
}

// compareSchemas checks that got has the same top-level fields as want
// (names, types, order), naming the first field that differs.
func compareSchemas(want, got *arrow.Schema) error {
	wf, gf := want.Fields(), got.Fields()
	for i := 0; i < len(wf) || i < len(gf); i++ {
		switch {
		case i >= len(gf):
			return fmt.Errorf("%w: field %q is missing (position %d)", ErrSchemaMismatch, wf[i].Name, i)
		case i >= len(wf):
			return fmt.Errorf("%w: unexpected field %q (position %d)", ErrSchemaMismatch, gf[i].Name, i)
		case wf[i].Name != gf[i].Name:
			return fmt.Errorf("%w: field %d is %q, want %q", ErrSchemaMismatch, i, gf[i].Name, wf[i].Name)
		case !schema.TypeEqual(wf[i].Type, gf[i].Type):
			return fmt.Errorf("%w: field %q has type %s, want %s", ErrSchemaMismatch, gf[i].Name, gf[i].Type, wf[i].Type)
		}
	}
	return nil
}

// sameFields checks that two Lance schemas describe the same fields.
func sameFields(want, got []schema.Field) error {
	if len(want) != len(got) {
		return fmt.Errorf("%w: the dataset schema changed concurrently (%d fields, want %d)", ErrSchemaMismatch, len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if w.ID != g.ID || w.ParentID != g.ParentID || w.Name != g.Name || w.LogicalType != g.LogicalType {
			return fmt.Errorf("%w: field %q changed concurrently (now %q id %d type %s)", ErrSchemaMismatch, w.Name, g.Name, g.ID, g.LogicalType)
		}
	}
	return nil
}

// checkNullsNow checks recs, checked against want, against the fields of a
// version committed since (got, the same fields by sameFields): pylance's
// alter_columns(nullable=False) may have made one not nullable meanwhile, and
// nulls written there leave a dataset pylance cannot read ("Found unmasked
// nulls for non-nullable ... field"). A nested field made not nullable is
// refused outright: its nulls are not counted here.
func checkNullsNow(want, got []schema.Field, recs []arrow.Record) error {
	for i, g := range got {
		if g.ParentID != -1 && !g.Nullable && want[i].Nullable {
			return fmt.Errorf("%w: field %q was made not nullable concurrently", ErrSchemaMismatch, g.Name)
		}
	}
	return checkNulls(got, recs)
}

// checkNulls refuses nulls in top-level columns the dataset declares
// non-nullable.
func checkNulls(fields []schema.Field, recs []arrow.Record) error {
	col := 0
	for _, f := range fields {
		if f.ParentID != -1 {
			continue
		}
		if !f.Nullable {
			for _, r := range recs {
				if col < int(r.NumCols()) && r.Column(col).NullN() > 0 {
					return fmt.Errorf("%w: field %q is not nullable but has %d nulls", ErrSchemaMismatch, f.Name, r.Column(col).NullN())
				}
			}
		}
		col++
	}
	return nil
}
