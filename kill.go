package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v3"
	"golang.org/x/sys/unix"

	"github.com/tabox/tabox/libtabox"
)

var killCommand = &cli.Command{
	Name:      "kill",
	Usage:     "send a signal (default SIGTERM) to a container's init",
	ArgsUsage: "<container-id> [signal]",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "signal every process of the container"},
	},
	Action: func(_ context.Context, c *cli.Command) error {
		if c.NArg() < 1 || c.NArg() > 2 {
			return fmt.Errorf("kill: expected a container ID and an optional signal, got %d arguments", c.NArg())
		}
		id := c.Args().Get(0)
		sigName := "SIGTERM"
		if c.NArg() == 2 {
			sigName = c.Args().Get(1)
		}
		sig, err := parseSignal(sigName)
		if err != nil {
			return err
		}
		ctr, err := libtabox.Load(c.String("root"), id)
		if err != nil {
			return fmt.Errorf("kill %q: %w", id, err)
		}
		if err := ctr.Signal(sig, c.Bool("all")); err != nil {
			return fmt.Errorf("kill %q: %w", id, err)
		}
		return nil
	},
}

// parseSignal accepts KILL, SIGKILL and 9 alike.
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal %q", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	sig := unix.SignalNum(name)
	if sig == 0 {
		return 0, fmt.Errorf("invalid signal %q", s)
	}
	return sig, nil
}
