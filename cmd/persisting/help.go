package main

import (
	"strings"
)

// The help is laid out as argparse laid it out when the CLI was Python:
// usage, description, options in two columns, examples, exit statuses.

const (
	helpColumn = 30 // where an option's help starts
	helpWidth  = 78
)

const topDescription = `Look at, check and maintain persisting buckets: the Lance datasets and write-ahead
logs that persisting's queue backends keep, on local disk or in S3.

inspect, verify and tail only read (they are safe beside a running queue); compact
and cleanup write a new dataset version and open the bucket as its writer, so run
them while no queue process has the bucket open.

Run ` + "`persisting COMMAND --help`" + ` for a command's manual.`

const topExamples = `examples:
  persisting inspect /data/events/bucket_0
  persisting verify /data/events && echo intact
  persisting tail /data/events/bucket_0 --from -10 --follow
  persisting cleanup /data/events --older-than 7d
  persisting inspect s3://queues/events --storage-options '{"aws_endpoint": "http://127.0.0.1:9000"}'`

func topUsage([]*command) string {
	return "usage: persisting [-h] [--version] COMMAND ...\n"
}

func topHelp(cs []*command) string {
	var b strings.Builder
	b.WriteString(topUsage(cs) + "\n" + topDescription + "\n\noptions:\n")
	b.WriteString(twoColumns("-h, --help", "show this help message and exit"))
	b.WriteString(twoColumns("--version", "show the version number and exit"))
	b.WriteString("\ncommands:\n  COMMAND\n")
	for _, c := range cs {
		b.WriteString(twoColumns("  "+c.name, c.summary))
	}
	b.WriteString("\n" + topExamples + "\n\n" + exitCodes + "\n")
	return b.String()
}

func commandUsage(c *command) string {
	line := "usage: persisting " + c.name
	words := []string{"[-h]"}
	for _, f := range c.flags {
		words = append(words, f.usageWord())
	}
	words = append(words, "PATH")
	indent := strings.Repeat(" ", len(line)+1)
	var b strings.Builder
	b.WriteString(line)
	width := len(line)
	for _, w := range words {
		if width+1+len(w) > helpWidth {
			b.WriteString("\n" + indent[:len(indent)-1])
			width = len(indent) - 1
		}
		b.WriteString(" " + w)
		width += 1 + len(w)
	}
	return b.String() + "\n"
}

func commandHelp(c *command) string {
	var b strings.Builder
	b.WriteString(commandUsage(c) + "\n" + c.summary + "\n\n" + c.description + "\n\n" + pathsHelp + "\n\n")
	b.WriteString("positional arguments:\n")
	b.WriteString(twoColumns("PATH", "a bucket, a Lance dataset or a queue directory (local, file:// or s3://)"))
	b.WriteString("\noptions:\n")
	b.WriteString(twoColumns("-h, --help", "show this help message and exit"))
	for _, f := range c.flags {
		b.WriteString(twoColumns(f.names(), f.help))
	}
	b.WriteString("\nexamples:\n" + c.examples + "\n\n" + exitCodes + "\n")
	return b.String()
}

// twoColumns lays out "  name  help", the help wrapped at helpWidth and
// starting on the next line when the name is too long.
func twoColumns(name, help string) string {
	var b strings.Builder
	b.WriteString("  " + name)
	pad := helpColumn - 2 - len(name)
	if pad < 2 {
		b.WriteString("\n")
		pad = helpColumn
	}
	lines := wrap(help, helpWidth-helpColumn)
	for i, l := range lines {
		if i == 0 {
			b.WriteString(strings.Repeat(" ", pad) + l + "\n")
		} else {
			b.WriteString(strings.Repeat(" ", helpColumn) + l + "\n")
		}
	}
	return b.String()
}

func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(lines, line)
}
