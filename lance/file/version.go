package file

import (
	"fmt"
	"strings"
)

// Version is a Lance data file format version, as DataFile.file_major_version
// and file_minor_version record it (2.0 files say 0.3 in their footer).
type Version struct{ Major, Minor uint32 }

// The file versions this package writes. V2_0 is the zero value of
// WriteOptions.Version's default; pylance 14 writes V2_2 by default.
var (
	V2_0 = Version{2, 0}
	V2_1 = Version{2, 1}
	V2_2 = Version{2, 2}
)

// WritableVersions lists the file versions WriteFile produces, oldest first.
var WritableVersions = []Version{V2_0, V2_1, V2_2}

func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// structural reports whether files of this version use the 2.1+ page
// layouts (mini-block, full-zip, constant) and rep/def levels.
func (v Version) structural() bool { return v.Major == 2 && v.Minor >= 1 }

// ParseVersion parses a data storage version as pylance spells it: "2.0",
// "2.1", "2.2" ("0.3" is an alias of 2.0). Versions this package cannot
// write are an error.
func ParseVersion(s string) (Version, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "2.0", "0.3":
		return V2_0, nil
	case "2.1":
		return V2_1, nil
	case "2.2":
		return V2_2, nil
	}
	return Version{}, fmt.Errorf("lance file: data storage version %q is not supported for writing (supported: 2.0, 2.1, 2.2)", s)
}

// normalize maps the zero Version to 2.0 and checks the version is writable.
func (v Version) normalize() (Version, error) {
	if v == (Version{}) {
		return V2_0, nil
	}
	for _, w := range WritableVersions {
		if v == w {
			return v, nil
		}
	}
	return v, fmt.Errorf("lance file: file version %s is not supported for writing", v)
}

// Compression codecs for WriteOptions.Compression. Lance has exactly these
// general-purpose codecs (plus FSST for strings); there is no snappy.
const (
	CompressionNone = ""
	CompressionZstd = "zstd"
	CompressionLZ4  = "lz4"
)

// CompressionMetadataKey is the Arrow field metadata key pylance reads to
// choose a column's compression ("zstd", "lz4" or "none"); a field carrying
// it overrides WriteOptions.Compression for its column.
const CompressionMetadataKey = "lance-encoding:compression"

// ParseCompression checks a compression name: "", "none", "zstd" or "lz4"
// (case-insensitive); "none" is returned as "".
func ParseCompression(s string) (string, error) {
	switch c := strings.ToLower(strings.TrimSpace(s)); c {
	case "", "none":
		return CompressionNone, nil
	case CompressionZstd, CompressionLZ4:
		return c, nil
	case "snappy":
		return "", fmt.Errorf("lance file: compression %q is not available: Lance has no snappy codec (use \"zstd\" or \"lz4\")", s)
	default:
		return "", fmt.Errorf("lance file: unknown compression %q (Lance supports \"zstd\" and \"lz4\")", s)
	}
}
