package main

import (
	"fmt"
	"math"
	"strconv"

	"github.com/persisting/persisting/engine"
)

// storageOptionStrings turns the storage_options JSON object into the
// string map pylance's storage_options are: Python callers write
// {"allow_http": True} as often as {"allow_http": "true"}.
func storageOptionStrings(in map[string]any) (map[string]string, error) {
	if in == nil {
		return nil, nil
	}
	out := make(map[string]string, len(in))
	for k, v := range in {
		switch x := v.(type) {
		case string:
			out[k] = x
		case bool:
			out[k] = strconv.FormatBool(x)
		case float64:
			if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
				out[k] = strconv.FormatInt(int64(x), 10)
			} else {
				out[k] = strconv.FormatFloat(x, 'g', -1, 64)
			}
		default:
			return nil, fmt.Errorf("%w: storage_options[%q] must be a string, boolean or number, got %T", engine.ErrInvalidOption, k, v)
		}
	}
	return out, nil
}
