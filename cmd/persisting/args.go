package main

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// The command line is parsed the way Python's argparse parsed it when the
// CLI was Python (scripts rely on it): options before or after PATH,
// "--name value" and "--name=value", unique prefixes of long names, "--"
// ending the options, and negative numbers taken as values.

// flagKind says how an option takes its value.
type flagKind int

const (
	flagBool       flagKind = iota // --json
	flagValue                      // --from OFFSET
	flagBoolOrNot                  // --progress / --no-progress
	flagRepeatable                 // --storage-option KEY=VALUE, any number of times
)

// flagSpec is one option of a command.
type flagSpec struct {
	long    string // "--from"
	short   string // "-f" or ""
	metavar string
	help    string
	kind    flagKind
	// set receives the value ("" for flagBool; "true"/"false" for
	// flagBoolOrNot); its error is a usage error naming the option.
	set func(value string) error
}

// names is how the option is written in usage and help lines.
func (f *flagSpec) names() string {
	switch {
	case f.kind == flagBoolOrNot:
		return f.long + ", --no-" + strings.TrimPrefix(f.long, "--")
	case f.short != "" && f.kind == flagBool:
		return f.short + ", " + f.long
	case f.short != "":
		return f.short + " " + f.metavar + ", " + f.long + " " + f.metavar
	case f.kind == flagBool:
		return f.long
	default:
		return f.long + " " + f.metavar
	}
}

// usageWord is the option's part of the usage line.
func (f *flagSpec) usageWord() string {
	name := f.long
	if f.short != "" {
		name = f.short
	}
	switch f.kind {
	case flagBool:
		return "[" + name + "]"
	case flagBoolOrNot:
		return "[" + f.long + " | --no-" + strings.TrimPrefix(f.long, "--") + "]"
	default:
		return "[" + name + " " + f.metavar + "]"
	}
}

// usageError is a bad argument: exit status 2, with the command's usage.
type usageError struct {
	cmd *command // nil: the top level
	msg string
}

func (e *usageError) Error() string { return e.msg }

// helpRequested: -h or --help was given.
type helpRequested struct{ cmd *command }

func (helpRequested) Error() string { return "help requested" }

var negativeNumber = regexp.MustCompile(`^-\d+$|^-\d*\.\d+$`)

// parseArgs fills the command's options from args and returns PATH.
func parseArgs(c *command, args []string) (string, error) {
	var positional []string
	bad := func(format string, a ...any) error { return &usageError{cmd: c, msg: fmt.Sprintf(format, a...)} }
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--":
			positional = append(positional, args[i+1:]...)
			i = len(args)
			continue
		case arg == "-h" || arg == "--help":
			return "", helpRequested{cmd: c}
		case !strings.HasPrefix(arg, "-") || arg == "-" || negativeNumber.MatchString(arg):
			positional = append(positional, arg)
			continue
		}
		name, value, hasValue := strings.Cut(arg, "=")
		f, negated, err := c.lookup(name)
		if err != nil {
			return "", bad("%v", err)
		}
		switch f.kind {
		case flagBool, flagBoolOrNot:
			if hasValue {
				return "", bad("argument %s: ignored explicit argument '%s'", f.names(), value)
			}
			value = strconv.FormatBool(!negated)
		default:
			if !hasValue {
				if i+1 >= len(args) || (strings.HasPrefix(args[i+1], "-") && !negativeNumber.MatchString(args[i+1])) {
					return "", bad("argument %s: expected one argument", f.names())
				}
				i++
				value = args[i]
			}
		}
		if err := f.set(value); err != nil {
			return "", bad("argument %s: %v", f.names(), err)
		}
	}
	switch len(positional) {
	case 0:
		return "", bad("the following arguments are required: PATH")
	case 1:
		if positional[0] == "" { // an unset shell variable: acting on every bucket under . would surprise
			return "", bad("PATH is empty (write . for the current directory)")
		}
		return positional[0], nil
	default:
		return "", bad("unrecognized arguments: %s", strings.Join(positional[1:], " "))
	}
}

// lookup finds the option an argument names: exactly, or by a unique prefix
// of a long name; negated is true for --no-NAME of a flagBoolOrNot.
func (c *command) lookup(name string) (f *flagSpec, negated bool, err error) {
	type match struct {
		f       *flagSpec
		negated bool
	}
	var found []match
	for _, f := range c.flags {
		if name == f.long || (f.short != "" && name == f.short) {
			return f, false, nil
		}
		if f.kind == flagBoolOrNot && name == "--no-"+strings.TrimPrefix(f.long, "--") {
			return f, true, nil
		}
	}
	if strings.HasPrefix(name, "--") && len(name) > 2 {
		for _, f := range c.flags {
			if strings.HasPrefix(f.long, name) {
				found = append(found, match{f, false})
			}
			if neg := "--no-" + strings.TrimPrefix(f.long, "--"); f.kind == flagBoolOrNot && strings.HasPrefix(neg, name) {
				found = append(found, match{f, true})
			}
		}
	}
	switch len(found) {
	case 1:
		return found[0].f, found[0].negated, nil
	case 0:
		return nil, false, fmt.Errorf("unrecognized arguments: %s", name)
	default:
		var names []string
		for _, m := range found {
			names = append(names, m.f.long)
		}
		return nil, false, fmt.Errorf("ambiguous option: %s could match %s", name, strings.Join(names, ", "))
	}
}

// ---- value parsers ----

func parseInt(text string) (int64, error) {
	v, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", text)
	}
	return v, nil
}

func parseNonNegativeInt(text string) (int64, error) {
	v, err := parseInt(text)
	if err != nil {
		return 0, err
	}
	if v < 0 {
		return 0, fmt.Errorf("%q must not be negative", text)
	}
	return v, nil
}

func parsePositiveInt(text string) (int64, error) {
	v, err := parseNonNegativeInt(text)
	if err == nil && v == 0 {
		err = fmt.Errorf("must be positive")
	}
	return v, err
}

func parsePositiveSeconds(text string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", text)
	}
	if !(v > 0) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q must be a positive number of seconds", text)
	}
	return v, nil
}

var durationSyntax = regexp.MustCompile(`^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$`)

// parseAge reads '90', '90s', '15m', '2h', '7d', '1w' as seconds.
func parseAge(text string) (float64, error) {
	m := durationSyntax.FindStringSubmatch(text)
	if m == nil {
		return 0, fmt.Errorf("%q is not a duration (e.g. 3600, 90s, 15m, 2h, 7d, 1w)", text)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a duration (e.g. 3600, 90s, 15m, 2h, 7d, 1w)", text)
	}
	scale := map[string]float64{"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m[2]]
	return v * scale, nil
}
