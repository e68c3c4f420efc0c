package lance

import (
	"fmt"
	"math/bits"
)

// Feature flag bits of Manifest.ReaderFlags / WriterFlags, as Lance defines
// them (rust/lance-table/src/feature_flags.rs). A reader must understand
// every bit of ReaderFlags and a writer every bit of WriterFlags (and of
// ReaderFlags: a writer also reads).
const (
	FlagDeletionFiles          uint64 = 1 << 0
	FlagStableRowIDs           uint64 = 1 << 1
	FlagUseV2FormatDeprecated  uint64 = 1 << 2
	FlagTableConfig            uint64 = 1 << 3
	FlagBasePaths              uint64 = 1 << 4
	FlagDisableTransactionFile uint64 = 1 << 5
	// Unreleased in Lance: its release builds (pylance 14) refuse it.
	FlagDataOverlayFiles     uint64 = 1 << 6
	FlagCoveredIndexMetadata uint64 = 1 << 7
	// Data files of one dataset may have different file versions (pylance
	// sets it when an append names another data_storage_version).
	FlagMixedDataFileVersions uint64 = 1 << 8
	// Reserved by Lance ahead of its implementation: refused by pylance 14.
	FlagFragReuseWithStableRowIDs uint64 = 1 << 9
	FlagFragmentReuseIndex        uint64 = 1 << 10
	// Set on tables created at data storage version 2.3 and later.
	FlagSemanticTypes uint64 = 1 << 11
	// flagUnknown is the first bit Lance does not define.
	flagUnknown uint64 = 1 << 12
)

var flagNames = map[uint64]string{
	FlagDeletionFiles:             "deletion files",
	FlagStableRowIDs:              "stable row ids",
	FlagUseV2FormatDeprecated:     "use v2 format (deprecated)",
	FlagTableConfig:               "table config",
	FlagBasePaths:                 "base paths",
	FlagDisableTransactionFile:    "disable transaction file",
	FlagDataOverlayFiles:          "data overlay files",
	FlagCoveredIndexMetadata:      "covered index metadata",
	FlagMixedDataFileVersions:     "mixed data file versions",
	FlagFragReuseWithStableRowIDs: "fragment reuse with stable row ids",
	FlagFragmentReuseIndex:        "fragment reuse index",
	FlagSemanticTypes:             "semantic types",
}

// pylanceSupportedFlags are the bits pylance 14 opens a dataset under, for
// reading and for writing alike (measured: it refuses overlays, bit 9 and
// every bit from 12 on).
const pylanceSupportedFlags = (flagUnknown - 1) &^ (FlagDataOverlayFiles | FlagFragReuseWithStableRowIDs)

// Bits pylance 14 accepts whose handling this package lacks, refused so
// that nothing is silently misread or left inconsistent:
//   - stable row ids, for writing: new fragments would need row id
//     sequences, which this package does not write;
//   - semantic types, only set on 2.3 tables, whose type contract this
//     package does not implement (it reads and writes up to 2.2).
//
// Everything else pylance accepts is safe here: base paths (a data file
// that lives under another base is refused when read), covered index
// metadata and fragment reuse indexes (index lookups fall back to a scan;
// appends leave indexes alone; compaction refuses indexed datasets),
// mixed data file versions (each file is decoded by its own version).
const (
	readerSupportedFlags = pylanceSupportedFlags &^ FlagSemanticTypes
	writerSupportedFlags = readerSupportedFlags &^ FlagStableRowIDs
)

// stickyPairedFlags are set in ReaderFlags and WriterFlags together and,
// once set, stay set in every later version (as in Lance).
const stickyPairedFlags = FlagMixedDataFileVersions | FlagSemanticTypes

func flagError(kind string, flags, supported uint64) error {
	unsupported := flags &^ supported
	if unsupported == 0 {
		return nil
	}
	bit := uint64(1) << bits.TrailingZeros64(unsupported)
	name, ok := flagNames[bit]
	if !ok {
		name = "unknown"
	}
	who := "this implementation does not support it"
	if bit&pylanceSupportedFlags == 0 {
		who = "pylance 14 and this implementation refuse it"
	}
	return fmt.Errorf("%w: dataset requires %s feature flag %d (%s); %s",
		ErrUnsupported, kind, bit, name, who)
}

// checkPairedFlags refuses a manifest whose paired reader and writer bits
// disagree: Lance never writes that, so its meaning is undefined.
func (m *Manifest) checkPairedFlags() error {
	if half := (m.ReaderFlags ^ m.WriterFlags) & stickyPairedFlags; half != 0 {
		bit := uint64(1) << bits.TrailingZeros64(half)
		return corruptf("manifest sets only one of the reader and writer feature flags %d (%s)", bit, flagNames[bit])
	}
	return nil
}

// checkReadable reports an error naming the first reader feature flag this
// package does not implement.
func (m *Manifest) checkReadable() error {
	if err := m.checkPairedFlags(); err != nil {
		return err
	}
	return flagError("reader", m.ReaderFlags, readerSupportedFlags)
}

// checkWritable reports an error naming the first writer feature flag this
// package does not implement.
func (m *Manifest) checkWritable() error {
	if err := m.checkPairedFlags(); err != nil {
		return err
	}
	if err := flagError("writer", m.WriterFlags, writerSupportedFlags); err != nil {
		return err
	}
	return flagError("reader", m.ReaderFlags, writerSupportedFlags)
}

// applyFeatureFlags recomputes the flags from the manifest content the way
// Lance does on every commit. Bits that content does not show (covered
// index metadata, which lives in the index section, and the sticky pairs)
// are carried over from the flags m had.
func (m *Manifest) applyFeatureFlags() {
	carried := (m.ReaderFlags | m.WriterFlags) & FlagCoveredIndexMetadata
	carried |= m.ReaderFlags & m.WriterFlags & stickyPairedFlags
	m.ReaderFlags, m.WriterFlags = 0, 0
	for i := range m.Fragments {
		if m.Fragments[i].DeletionFile != nil {
			m.ReaderFlags |= FlagDeletionFiles
			m.WriterFlags |= FlagDeletionFiles
			break
		}
	}
	if len(m.Config) > 0 {
		m.WriterFlags |= FlagTableConfig
	}
	if len(m.BasePaths) > 0 {
		m.ReaderFlags |= FlagBasePaths
		m.WriterFlags |= FlagBasePaths
	}
	m.ReaderFlags |= carried
	m.WriterFlags |= carried
}
