package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/tabox/tabox/libtabox"
	"github.com/tabox/tabox/specconv"
)

var runCommand = &cli.Command{
	Name:      "run",
	Usage:     "create and start a container, wait for it, and delete it",
	ArgsUsage: "<container-id>",
	Flags: append([]cli.Flag{
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "return once the container started"},
		&cli.BoolFlag{Name: "keep", Usage: "do not delete the container after it exits"},
		&cli.StringFlag{Name: "wall-time", Usage: "wall-clock limit, from start (1.5, 1500ms, 2s); overrides the bundle's " + specconv.AnnotationWallTime},
		&cli.StringFlag{Name: "time", Usage: "CPU time limit of the whole container; overrides " + specconv.AnnotationCPUTime},
		&cli.StringFlag{Name: "report", Usage: "write the resource-usage report (JSON) to this file"},
		&cli.StringFlag{Name: "meta", Usage: "write an isolate-compatible meta file"},
	}, createFlags...),
	Action: func(_ context.Context, c *cli.Command) error {
		id, err := containerID(c)
		if err != nil {
			return err
		}
		root := c.String("root")
		// In the foreground, a terminal without a console socket is
		// tabox's own: it receives the pty and joins it to its stdio.
		var fc *foregroundConsole
		if !c.Bool("detach") && c.String("console-socket") == "" {
			if fc, err = newForegroundConsole(); err != nil {
				return err
			}
		}
		var console *os.File
		if fc != nil {
			console = fc.theirs
		}
		if err := catchSignals(c); err != nil {
			return err
		}
		// Before the process is released: the terminal joined to tabox's
		// stdio, and, with judge limits or a report to write, a monitor
		// that watches the container from the start (with --detach, start
		// leaves one).
		var mon *libtabox.Monitor
		detachConsole := func() {}
		beforeStart := func(ctr *libtabox.Container) error {
			if fc != nil && (ctr.Config().Process == nil || !ctr.Config().Process.Terminal) {
				fc.ours.Close()
				fc.theirs.Close()
				fc = nil
			}
			if fc != nil {
				var err error
				if detachConsole, err = fc.attach(); err != nil {
					return err
				}
			}
			limits := ctr.Config().Limits
			if c.Bool("detach") || (limits == (libtabox.Limits{}) && c.String("report") == "" && c.String("meta") == "") {
				return nil
			}
			var err error
			mon, err = ctr.NewMonitor(limits)
			return err
		}
		start := libtabox.StartOpts{Warnf: log.Warnf, Watched: !c.Bool("detach")}
		ctr, err := createContainerConsole(c, id, console, &start, beforeStart)
		defer detachConsole()
		if mon != nil {
			defer mon.Close()
		}
		if err != nil {
			return err
		}
		if err := writePidFile(c.String("pid-file"), ctr.Pid()); err != nil {
			return err
		}
		if c.Bool("detach") {
			return nil
		}
		// The signals stay caught after the wait: one that comes while
		// the container is deleted is dropped rather than stopping tabox
		// half-way.
		if err := ctr.Process().ForwardSignals(); err != nil {
			libtabox.Delete(root, id, true, log.Warnf)
			return err
		}
		code, err := waitOrMonitor(c, ctr, mon)
		if err != nil {
			libtabox.Delete(root, id, true, log.Warnf)
			return err
		}
		if !c.Bool("keep") {
			if err := libtabox.Delete(root, id, true, log.Warnf); err != nil {
				log.Warnf("delete %q: %v", id, err)
			}
		}
		if code != 0 {
			return exitCode(code)
		}
		return nil
	},
}

// judgeFlags applies run's --wall-time and --time over the bundle's
// limits.
func judgeFlags(c *cli.Command, limits *libtabox.Limits) error {
	for _, f := range []struct {
		flag string
		dst  *time.Duration
	}{{"wall-time", &limits.WallTime}, {"time", &limits.CPUTime}} {
		if !c.IsSet(f.flag) {
			continue
		}
		d, err := specconv.ParseDuration(c.String(f.flag))
		if err != nil {
			return fmt.Errorf("--%s: %w", f.flag, err)
		}
		*f.dst = d
	}
	if c.Bool("detach") && (c.String("report") != "" || c.String("meta") != "") {
		return errors.New("--report and --meta need run in the foreground; with --detach, tabox report prints the report once the container exited")
	}
	return nil
}

// waitOrMonitor waits for the container; with a monitor, it writes the
// report.
func waitOrMonitor(c *cli.Command, ctr *libtabox.Container, mon *libtabox.Monitor) (int, error) {
	if mon == nil {
		return ctr.Wait()
	}
	r, err := mon.Run(ctr.Started())
	if err != nil {
		return -1, err
	}
	if path := c.String("report"); path != "" {
		data, _ := json.MarshalIndent(r, "", "  ")
		if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
			return -1, fmt.Errorf("--report: %w", err)
		}
	}
	if path := c.String("meta"); path != "" {
		if err := os.WriteFile(path, []byte(r.Meta()), 0o644); err != nil {
			return -1, fmt.Errorf("--meta: %w", err)
		}
	}
	if c.Bool("keep") {
		if err := ctr.SaveReport(r); err != nil {
			return -1, err
		}
	}
	return r.Code(), nil
}
