package lance

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// NamingScheme is how manifest files in _versions/ are named.
type NamingScheme int

const (
	// NamingV1 names version v "{v}.manifest" (no padding).
	NamingV1 NamingScheme = 1
	// NamingV2 names version v "{2^64-1-v}.manifest" as 20 zero-padded
	// digits, so lexical order lists the newest version first. pylance 14
	// uses it for new datasets.
	NamingV2 NamingScheme = 2
)

func (s NamingScheme) String() string {
	switch s {
	case NamingV1:
		return "V1"
	case NamingV2:
		return "V2"
	}
	return "NamingScheme(" + strconv.Itoa(int(s)) + ")"
}

const (
	versionsDir      = "_versions"
	dataDir          = "data"
	transactionsDir  = "_transactions"
	manifestSuffix   = ".manifest"
	v2ManifestNameLn = 20 + len(manifestSuffix)
)

// ManifestName returns the file name of version v under scheme s.
func ManifestName(s NamingScheme, v uint64) string {
	if s == NamingV2 {
		return fmt.Sprintf("%020d%s", math.MaxUint64-v, manifestSuffix)
	}
	return strconv.FormatUint(v, 10) + manifestSuffix
}

// ParseManifestName classifies a file name found in _versions/. ok is false
// for names that are not committed manifests of the main line (temporary
// files, detached "d…" manifests, hints, garbage).
func ParseManifestName(name string) (v uint64, s NamingScheme, ok bool) {
	if !strings.HasSuffix(name, manifestSuffix) || strings.HasPrefix(name, "d") {
		return 0, 0, false
	}
	stem := strings.TrimSuffix(name, manifestSuffix)
	if stem == "" || strings.ContainsAny(stem, "+-. ") {
		return 0, 0, false
	}
	x, err := strconv.ParseUint(stem, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	if len(name) == v2ManifestNameLn {
		if x == math.MaxUint64 { // would be version 0
			return 0, 0, false
		}
		return math.MaxUint64 - x, NamingV2, true
	}
	if x == 0 {
		return 0, 0, false
	}
	return x, NamingV1, true
}

// versionListing is the set of committed versions found in _versions/.
type versionListing struct {
	scheme   NamingScheme
	versions []uint64 // unsorted
	latest   uint64
	// stored: on an object store, when each manifest was stored (full
	// listings only)
	stored map[uint64]time.Time
	stamp  string // what the listing tells of the latest manifest file (LatestVersionStamp)
}

// listVersions scans <root>/_versions. It returns ErrNotFound when the
// directory is missing or holds no manifest, and an error if both naming
// schemes are present (as Lance does).
func listVersions(root string) (*versionListing, error) {
	if isRemote(root) {
		return listVersionsRemote(root, false)
	}
	entries, err := os.ReadDir(joinPath(root, versionsDir))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, root)
		}
		return nil, fmt.Errorf("lance: list versions: %w", err)
	}
	l := &versionListing{}
	for _, e := range entries {
		// An entry with a manifest's name is that version even when it is
		// not a file (a directory put in its place): skipping it would open
		// an older version silently, and every commit would then fail on
		// the name it takes. Reading it says what is wrong, as pylance does.
		v, s, ok := ParseManifestName(e.Name())
		if !ok {
			continue
		}
		if l.scheme != 0 && l.scheme != s {
			return nil, fmt.Errorf("lance: %s: multiple manifest naming schemes (V1 and V2) in %s", root, versionsDir)
		}
		l.scheme = s
		l.versions = append(l.versions, v)
		if v > l.latest {
			l.latest = v
		}
	}
	if len(l.versions) == 0 {
		return nil, fmt.Errorf("%w: %s (no manifests)", ErrNotFound, root)
	}
	return l, nil
}

// localStamp names one file on a local disk: its inode, size and
// modification time. A file written again in its place (a dataset deleted
// and made again up to the same version) gets another.
func localStamp(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	var ino uint64
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		ino = sys.Ino
	}
	return fmt.Sprintf("ino %d size %d mtime %d", ino, st.Size(), st.ModTime().UnixNano()), nil
}

// manifestPath finds the manifest file of version v, trying the V2 name
// first and then the V1 name (what Lance does for checkout_version).
func manifestPath(root string, v uint64) (string, NamingScheme, error) {
	for _, s := range []NamingScheme{NamingV2, NamingV1} {
		p := joinPath(root, versionsDir, ManifestName(s, v))
		if err := statFile(p); err == nil {
			return p, s, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", 0, fmt.Errorf("lance: %w", err)
		}
	}
	return "", 0, fmt.Errorf("%w: version %d of %s", ErrVersionNotFound, v, root)
}

// LatestVersionStamp is the newest committed version at root, found by
// listing _versions/ only (no manifest is read: a local directory read and
// one stat, or on an object store one LIST, where V2 names sort newest
// first), and a stamp of its manifest file: the stamp differs when the
// file is not the one it was, so a reader holding version N can tell the
// dataset was deleted and made again up to version N. ErrNotFound when
// there is no manifest yet.
func LatestVersionStamp(root string) (uint64, string, error) {
	l, err := listVersionsAt(root)
	if err != nil {
		return 0, "", err
	}
	if l.stamp == "" { // local: the listing read names only
		p, _, err := manifestPath(root, l.latest)
		if err != nil {
			return 0, "", err
		}
		if l.stamp, err = localStamp(p); err != nil {
			return 0, "", fmt.Errorf("lance: %w", err)
		}
	}
	return l.latest, l.stamp, nil
}

// listVersionsAt lists _versions/ at root, local or on an object store.
func listVersionsAt(root string) (*versionListing, error) {
	if isRemote(root) {
		return listVersionsRemote(root, true)
	}
	return listVersions(root)
}
