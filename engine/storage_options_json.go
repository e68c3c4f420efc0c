package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// storageOptionStrings reads the storage_options option, a JSON object, into
// the string map pylance's storage_options are: Python callers write
// {"allow_http": True} as often as {"allow_http": "true"}. Anything but an
// object, or a value that is not a string, bool or number, is ErrType; the
// keys themselves are checked by validateStorage.
func storageOptionStrings(key string, v json.RawMessage) (map[string]string, error) {
	var in map[string]json.RawMessage
	if jsonKind(v) != "an object" || json.Unmarshal(v, &in) != nil {
		return nil, fmt.Errorf("%w: option %s must be an object, got %s", ErrType, key, jsonKind(v))
	}
	out := make(map[string]string, len(in))
	for k, raw := range in {
		switch jsonKind(raw) {
		case "a string":
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, fmt.Errorf("%w: %s[%q]: %v", ErrInvalidArgument, key, k, err)
			}
			out[k] = s
		case "a bool":
			var b bool
			if err := json.Unmarshal(raw, &b); err != nil {
				return nil, fmt.Errorf("%w: %s[%q] must be a string, bool or number, got %s", ErrType, key, k, bytes.TrimSpace(raw))
			}
			out[k] = strconv.FormatBool(b)
		case "a number":
			s, err := storageOptionNumber(raw)
			if err != nil {
				return nil, fmt.Errorf("%w: %s[%q] must be a string, bool or number, got %s", ErrType, key, k, bytes.TrimSpace(raw))
			}
			out[k] = s
		default:
			return nil, fmt.Errorf("%w: %s[%q] must be a string, bool or number, got %s", ErrType, key, k, jsonKind(raw))
		}
	}
	return out, nil
}

// storageOptionNumber spells a JSON number the way a Python caller would
// as a string: 30 and 30.0 are "30", 0.5 is "0.5".
func storageOptionNumber(raw json.RawMessage) (string, error) {
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return "", err
	}
	if i, err := n.Int64(); err == nil {
		return strconv.FormatInt(i, 10), nil
	}
	f, err := n.Float64()
	if err != nil {
		return "", err
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return strconv.FormatInt(int64(f), 10), nil
	}
	return strconv.FormatFloat(f, 'g', -1, 64), nil
}
