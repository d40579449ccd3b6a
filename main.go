// Command tabox is an OCI container runtime that is also a sandbox for
// running untrusted programs.
//
// The Go runtime would otherwise read the cgroup's CPU limit at start-up
// and keep two cgroup files open on fds 3 and 4: time spent on every
// command, and fds taken from --preserve-fds before it can check them.
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"github.com/urfave/cli/v3"

	"github.com/tabox/tabox/libtabox"
	"github.com/tabox/tabox/libtabox/nsenter"
)

// Set at build time with -ldflags "-X main.version=… -X main.gitCommit=…".
var (
	version   = "0.1.0-dev"
	gitCommit = ""
)

func main() {
	// A command is one short sequence of steps: a second P only buys
	// threads, thread switches and the scheduler's checks on them (about
	// a tenth of a run's CPU time). Blocking system calls still leave
	// the P to other goroutines. The runtime has started with one P
	// already, unless the environment was empty.
	if !nsenter.RestoreEnv() && os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	if err := newApp().Run(context.Background(), os.Args); err != nil {
		var ec exitCode
		if errors.As(err, &ec) {
			os.Exit(int(ec))
		}
		fatal(err)
	}
}

func newApp() *cli.Command {
	cli.VersionPrinter = func(*cli.Command) {
		fmt.Print(versionText())
	}
	app := &cli.Command{
		Name:            "tabox",
		Usage:           "run OCI containers and sandboxed programs",
		Version:         version,
		HideHelpCommand: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Value: defaultRoot(), Usage: "directory for container state"},
			&cli.StringFlag{Name: "log", Usage: "write log lines to this file"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format: text or json"},
			&cli.BoolFlag{Name: "debug", Usage: "log debug messages"},
			&cli.BoolFlag{Name: "systemd-cgroup", Usage: "use the systemd cgroup driver (not available)"},
		},
		Before: func(ctx context.Context, c *cli.Command) (context.Context, error) { return ctx, setupLogging(c) },
		Commands: []*cli.Command{
			createCommand,
			startCommand,
			stateCommand,
			killCommand,
			deleteCommand,
			runCommand,
			listCommand,
			specCommand,
			pauseCommand,
			resumeCommand,
			psCommand,
			eventsCommand,
			updateCommand,
			execCommand,
			featuresCommand,
			sandboxCommand,
			reportCommand,
		},
		// Errors are printed once, by main.
		ExitErrHandler: func(context.Context, *cli.Command, error) {},
	}
	for _, c := range append([]*cli.Command{app}, app.Commands...) {
		// A usage error is one line on stderr, like any other error,
		// rather than urfave/cli's message followed by the whole help.
		c.OnUsageError = usageError
		// A value is one value, commas and all (--env A=1,2), as in runc.
		c.DisableSliceFlagSeparator = true
	}
	return app
}

func usageError(_ context.Context, c *cli.Command, err error, isSubcommand bool) error {
	// A subcommand's flags are parsed before the root's Before runs: the
	// error still goes to --log.
	if !log.configured {
		setupLogging(c.Root())
	}
	if isSubcommand {
		return fmt.Errorf("%s: %w (see %s %s --help)", c.Name, err, c.Root().Name, c.Name)
	}
	return fmt.Errorf("%w (see %s --help)", err, c.Name)
}

func versionText() string {
	commit := gitCommit
	if commit == "" {
		commit = "unknown"
	}
	return fmt.Sprintf("tabox version %s\ncommit: %s\nspec: %s\nlibseccomp: %s\n",
		version, commit, specVersion(), libtabox.SeccompVersion())
}

// defaultRoot is /run/tabox for root, $XDG_RUNTIME_DIR/tabox for others
// (and for root of a user's user namespace, as rootless podman runs it).
func defaultRoot() string {
	if libtabox.UseXDGRuntimeDir() {
		return filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "tabox")
	}
	if os.Geteuid() == 0 {
		return "/run/tabox"
	}
	return filepath.Join(os.TempDir(), "tabox-"+strconv.Itoa(os.Geteuid()))
}

// exitCode is returned by commands that exit with a status of their own
// (run, with the container's) and have nothing to print.
type exitCode int

func (e exitCode) Error() string { return "exit status " + strconv.Itoa(int(e)) }
