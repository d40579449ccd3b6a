package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/tabox/tabox/libtabox"
)

var psCommand = &cli.Command{
	Name:      "ps",
	Usage:     "list the processes of a container",
	ArgsUsage: "<container-id> [ps options]",
	// Flags end at the first argument, as in runc: what follows it
	// (ps's options) is passed on untouched.
	StopOnNthArg: new(1),
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table (ps's own output) or json (host PIDs)"},
	},
	Action: func(_ context.Context, c *cli.Command) error {
		if c.NArg() < 1 {
			return fmt.Errorf("ps: expected a container ID")
		}
		id := c.Args().First()
		ctr, err := libtabox.Load(c.String("root"), id)
		if err != nil {
			return fmt.Errorf("ps %q: %w", id, err)
		}
		pids, err := ctr.Processes()
		if err != nil {
			return fmt.Errorf("ps %q: %w", id, err)
		}
		switch c.String("format") {
		case "json":
			if pids == nil {
				pids = []int{}
			}
			return json.NewEncoder(os.Stdout).Encode(pids)
		case "table":
			return psTable(pids, c.Args().Tail())
		}
		return fmt.Errorf("unknown --format %q: use table or json", c.String("format"))
	},
}

// psTable runs ps(1) with the user's options and keeps its header and the
// lines of the container's processes, as runc ps does.
func psTable(pids []int, args []string) error {
	if len(args) == 0 {
		args = []string{"-ef"}
	}
	out, err := exec.Command("ps", args...).Output()
	if err != nil {
		return fmt.Errorf("ps %s: %w", strings.Join(args, " "), err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	col := -1
	for i, f := range strings.Fields(lines[0]) {
		if f == "PID" {
			col = i
		}
	}
	if col < 0 {
		return fmt.Errorf("ps %s: its output has no PID column", strings.Join(args, " "))
	}
	in := map[int]bool{}
	for _, p := range pids {
		in[p] = true
	}
	fmt.Println(lines[0])
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if col < len(f) {
			if p, err := strconv.Atoi(f[col]); err == nil && in[p] {
				fmt.Println(l)
			}
		}
	}
	return nil
}
