package main

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/persisting/persisting/engine"
)

// openOptions is the JSON object persisting_open accepts.
type openOptions struct {
	BucketID       int64 `json:"bucket_id"`
	FlushThreshold int   `json:"flush_threshold"`
}

func parseOptions(path, text string) (engine.Options, error) {
	var o openOptions
	if text != "" {
		dec := json.NewDecoder(bytes.NewReader([]byte(text)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&o); err != nil {
			return engine.Options{}, fmt.Errorf("%w: options_json: %v", engine.ErrInvalidOption, err)
		}
	}
	if text != "" && o.FlushThreshold == 0 && bytes.Contains([]byte(text), []byte(`"flush_threshold"`)) {
		return engine.Options{}, fmt.Errorf("%w: flush_threshold must be positive, got 0", engine.ErrInvalidOption)
	}
	return engine.Options{Path: path, BucketID: o.BucketID, FlushThreshold: o.FlushThreshold}, nil
}
