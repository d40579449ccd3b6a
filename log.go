package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v3"
)

// logger writes log lines to --log, in text or JSON (the format
// containerd's shim and conmon read), and errors also to stderr.
type logger struct {
	w          io.Writer
	json       bool
	debug      bool
	configured bool
}

var log = &logger{}

func setupLogging(c *cli.Command) error {
	format := c.String("log-format")
	switch format {
	case "text", "json":
	default:
		return fmt.Errorf("unknown --log-format %q: use text or json", format)
	}
	log.json = format == "json"
	log.debug = c.Bool("debug")
	if path := c.String("log"); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
		if err != nil {
			return fmt.Errorf("open log file: %w", err)
		}
		log.w = f
	} else if log.debug {
		log.w = os.Stderr
	}
	log.configured = true
	return nil
}

func (l *logger) write(level, msg string) {
	if l.w == nil {
		return
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if l.json {
		b, _ := json.Marshal(struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Time  string `json:"time"`
		}{level, msg, now})
		l.w.Write(append(b, '\n'))
		return
	}
	fmt.Fprintf(l.w, "time=%q level=%s msg=%q\n", now, level, msg)
}

func (l *logger) Debugf(format string, args ...any) {
	if l.debug {
		l.write("debug", fmt.Sprintf(format, args...))
	}
}

func (l *logger) Warnf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.write("warning", msg)
	if l.w != os.Stderr {
		fmt.Fprintln(os.Stderr, "tabox: warning: "+msg)
	}
}

// fatal prints err once, on one line, to stderr and the log, and exits 1.
func fatal(err error) { fatalCode(err, 1) }

// fatalCode is fatal with another exit code.
func fatalCode(err error, code int) {
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	log.write("error", msg)
	if log.w != os.Stderr {
		fmt.Fprintln(os.Stderr, "tabox: "+msg)
	}
	os.Exit(code)
}
