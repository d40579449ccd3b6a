package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v3"

	"github.com/tabox/tabox/libtabox"
	"github.com/tabox/tabox/specconv"
)

var execCommand = &cli.Command{
	Name:      "exec",
	Usage:     "execute a new process in a running container",
	ArgsUsage: "<container-id> [command [args…]]",
	// Flags end at the first argument, as in runc: what follows it
	// (the command's own flags) is passed on untouched.
	StopOnNthArg: new(1),
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "a process.json with the whole process"},
		&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a terminal"},
		&cli.StringFlag{Name: "console-socket", Usage: "AF_UNIX socket to send the terminal's master fd to"},
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "return once the process runs"},
		&cli.StringFlag{Name: "pid-file", Usage: "write the process's PID to this file"},
		&cli.StringFlag{Name: "cwd", Usage: "working directory in the container"},
		&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "add NAME=VALUE to the environment"},
		&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "UID[:GID], numeric"},
		&cli.StringSliceFlag{Name: "additional-gids", Aliases: []string{"g"}, Usage: "additional group IDs"},
		&cli.StringSliceFlag{Name: "cap", Aliases: []string{"c"}, Usage: "add a capability"},
		&cli.BoolFlag{Name: "no-new-privs", Usage: "set no_new_privs"},
		&cli.StringFlag{Name: "process-label", Usage: "SELinux label of the process"},
		&cli.StringFlag{Name: "apparmor", Usage: "AppArmor profile of the process"},
		&cli.IntFlag{Name: "preserve-fds", Usage: "pass this many fds from 3 up to the process"},
		&cli.BoolFlag{Name: "ignore-paused", Usage: "exec even into a paused container"},
		&cli.StringFlag{Name: "cgroup", Usage: "sub-cgroup to run in (not available)"},
		&cli.StringFlag{Name: "pidfd-socket", Usage: "AF_UNIX socket to send a pidfd of the process to"},
	},
	Action: func(_ context.Context, c *cli.Command) error {
		if c.NArg() < 1 {
			return errors.New("exec: expected a container ID")
		}
		id := c.Args().First()
		if err := libtabox.ValidateID(id); err != nil {
			return err
		}
		if err := checkPreservedFds(c.Int("preserve-fds")); err != nil {
			return err
		}
		if c.String("cgroup") != "" {
			return errors.New("exec --cgroup: joining a sub-cgroup of the container is not supported")
		}
		ctr, err := libtabox.Load(c.String("root"), id)
		if err != nil {
			return fmt.Errorf("exec in %q: %w", id, err)
		}
		opts := specconv.ExecOpts{
			Args: c.Args().Tail(), Env: c.StringSlice("env"), Cwd: c.String("cwd"), User: c.String("user"),
			AdditionalGids: c.StringSlice("additional-gids"), Caps: c.StringSlice("cap"),
			NoNewPrivs: c.Bool("no-new-privs"), Terminal: c.Bool("tty"),
			Apparmor: c.String("apparmor"), ProcessLabel: c.String("process-label"),
		}
		if path := c.String("process"); path != "" {
			data, err := os.ReadFile(path)
			if err != nil {
				return fmt.Errorf("exec --process: %w", err)
			}
			opts.Process = &specs.Process{}
			if err := json.Unmarshal(data, opts.Process); err != nil {
				return fmt.Errorf("exec --process %s: parse: %w", path, err)
			}
		}
		proc, err := specconv.ExecProcess(ctr.Config().Process, opts)
		if err != nil {
			return err
		}
		if err := catchSignals(c); err != nil {
			return err
		}
		eo := libtabox.ExecOpts{
			Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
			PreserveFds: c.Int("preserve-fds"), IgnorePaused: c.Bool("ignore-paused"),
			ConsoleSocket: c.String("console-socket"),
		}
		var fc *foregroundConsole
		if proc.Terminal && eo.ConsoleSocket == "" && !c.Bool("detach") {
			if fc, err = newForegroundConsole(); err != nil {
				return err
			}
			eo.Console = fc.theirs
		}
		p, err := ctr.Exec(proc, eo)
		if err != nil {
			return fmt.Errorf("exec in %q: %w", id, err)
		}
		if fc != nil {
			wait, err := fc.attach()
			if err != nil {
				p.Process().Kill()
				return err
			}
			defer wait()
		}
		if path := c.String("pidfd-socket"); path != "" {
			if err := libtabox.SendPidfd(path, p.Pid()); err != nil {
				p.Process().Kill()
				return err
			}
		}
		if err := writePidFile(c.String("pid-file"), p.Pid()); err != nil {
			return err
		}
		if c.Bool("detach") {
			return nil
		}
		if err := p.Process().ForwardSignals(); err != nil {
			p.Process().Kill()
			return err
		}
		code, err := p.Wait()
		if err != nil {
			return err
		}
		if code != 0 {
			return exitCode(code)
		}
		return nil
	},
}
