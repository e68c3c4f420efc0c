package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/persisting/persisting/engine"
	"github.com/persisting/persisting/lance/objstore"
)

// storageFlags collect --storage-options JSON and --storage-option
// KEY=VALUE (later ones win) into the bucket option storage_options, which
// the engine checks (engine.ParseOptionsJSON is the one authority on them).
type storageFlags struct {
	options map[string]json.RawMessage
}

func (sf *storageFlags) flags() []*flagSpec {
	put := func(k string, v json.RawMessage) {
		if sf.options == nil {
			sf.options = map[string]json.RawMessage{}
		}
		sf.options[k] = v
	}
	return []*flagSpec{
		{long: "--storage-options", metavar: "JSON", kind: flagRepeatable,
			help: `object store settings of an s3:// PATH as a JSON object, pylance's storage_options (e.g. '{"aws_endpoint": "http://127.0.0.1:9000", "allow_http": true}')`,
			set: func(v string) error {
				var m map[string]json.RawMessage
				if err := json.Unmarshal([]byte(v), &m); err != nil || m == nil {
					return fmt.Errorf("%q is not a JSON object", v)
				}
				for k, raw := range m {
					put(k, raw)
				}
				return nil
			}},
		{long: "--storage-option", metavar: "KEY=VALUE", kind: flagRepeatable,
			help: "one storage option (repeatable; a later setting of a key wins)",
			set: func(v string) error {
				k, val, ok := strings.Cut(v, "=")
				if !ok || k == "" {
					return fmt.Errorf("%q is not KEY=VALUE", v)
				}
				raw, _ := json.Marshal(val)
				put(k, raw)
				return nil
			}},
	}
}

// callerError is the caller's mistake (a bad storage option): exit 2.
type callerError struct{ err error }

func (e *callerError) Error() string { return e.err.Error() }
func (e *callerError) Unwrap() error { return e.err }

// bucketOptions are the engine's options for opening the bucket at path:
// extra (e.g. "read_only") and the storage options given.
func (s *settings) bucketOptions(path string, extra map[string]any) (engine.Options, error) {
	obj := map[string]any{}
	for k, v := range extra {
		obj[k] = v
	}
	if len(s.storage.options) > 0 {
		obj["storage_options"] = s.storage.options
	}
	text, err := json.Marshal(obj)
	if err != nil {
		return engine.Options{}, err
	}
	o, err := engine.ParseOptionsJSON(path, string(text))
	if err != nil {
		return engine.Options{}, &callerError{err}
	}
	return o, nil
}

// configureStore makes path's object store use the storage options given
// (for the path-level engine.Inspect and engine.Verify; opening a bucket
// configures its store itself). Local paths need nothing.
func (s *settings) configureStore(path string) error {
	o, err := s.bucketOptions(path, nil)
	if err != nil {
		return err
	}
	if !objstore.IsRemote(path) {
		return nil
	}
	if err := objstore.Configure(path, o.StorageOptions); err != nil {
		return &callerError{err}
	}
	return nil
}
