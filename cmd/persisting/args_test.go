package main

import (
	"errors"
	"strings"
	"testing"
)

func commandNamed(t *testing.T, name string) *command {
	t.Helper()
	for _, c := range buildCommands() {
		if c.name == name {
			return c
		}
	}
	t.Fatalf("no command %s", name)
	return nil
}

func TestParseArgsLikeArgparse(t *testing.T) {
	for _, c := range []struct {
		name  string
		cmd   string
		args  []string
		check func(s *settings) bool
	}{
		{"options after PATH", "tail", []string{"p", "--from", "5", "--limit=3"}, func(s *settings) bool { return s.from == 5 && s.limit == 3 }},
		{"negative number as a value", "tail", []string{"--from", "-5", "p"}, func(s *settings) bool { return s.from == -5 }},
		{"short flag", "tail", []string{"-f", "p"}, func(s *settings) bool { return s.follow }},
		{"unique prefix", "inspect", []string{"p", "--all"}, func(s *settings) bool { return s.all }},
		{"negated bool", "compact", []string{"p", "--no-progress"}, func(s *settings) bool { return s.progress != nil && !*s.progress }},
		{"durations", "cleanup", []string{"p", "--older-than", "2h"}, func(s *settings) bool { return s.olderThan == 7200 }},
		{"storage options merged, later wins", "inspect",
			[]string{"p", "--storage-options", `{"aws_region": "a", "allow_http": true}`, "--storage-option", "aws_region=b"},
			func(s *settings) bool {
				return string(s.storage.options["aws_region"]) == `"b"` && string(s.storage.options["allow_http"]) == "true"
			}},
		{"-- ends options", "tail", []string{"--", "-weird"}, func(*settings) bool { return true }},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := commandNamed(t, c.cmd)
			path, err := parseArgs(cmd, c.args)
			if err != nil {
				t.Fatal(err)
			}
			if path == "" || !c.check(cmd.s) {
				t.Errorf("path %q, settings %+v", path, *cmd.s)
			}
		})
	}
}

func TestParseArgsRefusesWithUsageErrors(t *testing.T) {
	for _, c := range []struct {
		cmd  string
		args []string
		want string
	}{
		{"tail", nil, "required: PATH"},
		{"tail", []string{"a", "b"}, "unrecognized arguments: b"},
		{"tail", []string{"p", "--poll", "0"}, "positive"},
		{"tail", []string{"p", "--from"}, "expected one argument"},
		{"tail", []string{"p", "--from", "x"}, "not an integer"},
		{"inspect", []string{"p", "--versions", "-1"}, "must not be negative"},
		{"cleanup", []string{"p", "--older-than", "soon"}, "not a duration"},
		{"inspect", []string{"p", "--frobnicate"}, "unrecognized arguments: --frobnicate"},
		{"inspect", []string{"p", "--storage-option", "novalue"}, "not KEY=VALUE"},
		{"inspect", []string{"p", "--storage-options", "[]"}, "not a JSON object"},
		{"inspect", []string{"p", "--json=yes"}, "ignored explicit argument"},
		{"compact", []string{"p", "--stor", "x"}, "ambiguous option"},
		{"cleanup", []string{""}, "PATH is empty"}, // an unset $QUEUE_DIR must not mean "every bucket under ."
		{"inspect", []string{"--json", ""}, "PATH is empty"},
	} {
		_, err := parseArgs(commandNamed(t, c.cmd), c.args)
		var usage *usageError
		if !errors.As(err, &usage) || !strings.Contains(usage.msg, c.want) {
			t.Errorf("%s %q: got %v, want a usage error with %q", c.cmd, c.args, err, c.want)
		}
	}
}

func TestEveryCommandHelpIsAManual(t *testing.T) {
	for _, c := range buildCommands() {
		help := commandHelp(c)
		for _, want := range []string{"usage: persisting " + c.name, "examples:\n  persisting " + c.name, "exit status:", "PATH", "s3://"} {
			if !strings.Contains(help, want) {
				t.Errorf("%s --help lacks %q", c.name, want)
			}
		}
		for _, line := range strings.Split(commandUsage(c), "\n") {
			if len(line) > helpWidth {
				t.Errorf("%s usage line longer than %d: %q", c.name, helpWidth, line)
			}
		}
	}
}

func TestCleanPathSpellsPathAsFoundBucketsAre(t *testing.T) {
	for in, want := range map[string]string{
		"q/bucket_0/": "q/bucket_0", "file:///data/q/": "/data/q", "s3://b/q/": "s3://b/q", "s3://b/": "s3://b", "./q": "q",
	} {
		if got := cleanPath(in); got != want {
			t.Errorf("cleanPath(%q) = %q, want %q", in, got, want)
		}
	}
}
