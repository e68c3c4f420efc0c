package main

import (
	"log"

	"github.com/persisting/persisting/engine"
)

var warnings = log.New(log.Writer(), "", log.LstdFlags)

// parseOptions translates persisting_open's arguments: the engine reads and
// checks the JSON; the C layer adds what only it knows (its allocator, so
// replayed rows can be exported, and where warnings go).
func parseOptions(path, text string) (engine.Options, error) {
	opts, err := engine.ParseOptionsJSON(path, text)
	if err != nil {
		return engine.Options{}, err
	}
	opts.Allocator = cAlloc
	opts.Logger = warnings.Printf
	return opts, nil
}
