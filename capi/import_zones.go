package main

/*
#include "persisting.h"
*/
import "C"

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/persisting/persisting/engine"
)

// Arrow Go's schema importer splits a format string at every ':', so a
// timestamp's time zone that holds one ("tsu:+05:30", "tss:-03:30") comes in
// cut short ("+05"): a different zone, under which the values read back as
// other wall-clock times, and a column pylance wrote with the zone no longer
// takes the same type. cZones records every timestamp's full zone from the C
// schema before the import; restoreZones puts them into the imported types.
type cZones struct {
	zone     string
	stamp    bool // a timestamp: zone is its time zone
	children []cZones
	dict     *cZones
}

// collectZones walks s as checkCSchema did (children and dictionary non-NULL
// to the depth it allows).
func collectZones(s *C.struct_ArrowSchema) cZones {
	var z cZones
	format := C.GoString(s.format)
	if len(format) > 3 && strings.HasPrefix(format, "ts") && format[3] == ':' {
		z.zone, z.stamp = format[4:], true
	}
	for _, child := range unsafe.Slice(s.children, int(s.n_children)) {
		z.children = append(z.children, collectZones(child))
	}
	if s.dictionary != nil {
		d := collectZones(s.dictionary)
		z.dict = &d
	}
	return z
}

// restoreZones sets each timestamp type in t (just imported, not yet shared)
// to the zone z recorded for its place in the C schema.
func restoreZones(t arrow.DataType, z cZones) {
	switch t := t.(type) {
	case *arrow.TimestampType:
		if z.stamp {
			t.TimeZone = z.zone
		}
	case *arrow.DictionaryType:
		if z.dict != nil {
			restoreZones(t.ValueType, *z.dict)
		}
	case arrow.ExtensionType:
		restoreZones(t.StorageType(), z)
	case arrow.NestedType:
		for i, f := range t.Fields() {
			if i < len(z.children) {
				restoreZones(f.Type, z.children[i])
			}
		}
	}
}

// checkDecimalWidths refuses decimal32 and decimal64 ("d:P,S,32", "d:P,S,64")
// by field: Arrow Go's importer knows neither and its error names no
// field, and Lance stores only decimal128 and decimal256 (pylance refuses
// them too).
func checkDecimalWidths(s *C.struct_ArrowSchema, path string) error {
	format := C.GoString(s.format)
	if spec, ok := strings.CutPrefix(format, "d:"); ok {
		if parts := strings.Split(spec, ","); len(parts) == 3 && (parts[2] == "32" || parts[2] == "64") {
			return fmt.Errorf("%w: field %q: decimal%s(%s, %s) is not supported (Lance stores decimal128 and decimal256): "+
				"cast it to decimal128", engine.ErrUnsupported, path, parts[2], parts[0], parts[1])
		}
	}
	for i, child := range unsafe.Slice(s.children, int(s.n_children)) {
		name := fmt.Sprintf("child %d", i)
		if child.name != nil {
			name = C.GoString(child.name)
		}
		if path != "" {
			name = path + "." + name
		}
		if err := checkDecimalWidths(child, name); err != nil {
			return err
		}
	}
	if s.dictionary != nil {
		return checkDecimalWidths(s.dictionary, path)
	}
	return nil
}
