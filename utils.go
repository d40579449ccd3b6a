package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/urfave/cli/v3"
	"golang.org/x/sys/unix"

	"github.com/tabox/tabox/libtabox"
	"github.com/tabox/tabox/libtabox/sigfwd"
	"github.com/tabox/tabox/specconv"
)

// containerID returns the command's single container-ID argument.
func containerID(c *cli.Command) (string, error) {
	if c.NArg() != 1 {
		return "", fmt.Errorf("%s: expected exactly one container ID, got %d arguments", c.Name, c.NArg())
	}
	id := c.Args().First()
	if err := libtabox.ValidateID(id); err != nil {
		return "", err
	}
	return id, nil
}

// loadConfig reads the bundle's config.json and converts it.
func loadConfig(bundle, id string, noPivot bool) (*libtabox.Config, error) {
	if bundle == "" {
		bundle = "."
	}
	abs, err := filepath.Abs(bundle)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", bundle, err)
	}
	if fi, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("bundle %s is not a directory", abs)
	}
	spec, err := specconv.LoadSpec(abs)
	if err != nil {
		return nil, err
	}
	return specconv.Convert(spec, specconv.Opts{Bundle: abs, ID: id, NoPivot: noPivot,
		Rootless: os.Geteuid() != 0 || libtabox.InUserNS(), InUserNS: libtabox.InUserNS()})
}

// checkPreservedFds makes sure fds 3 … 3+n-1 were really passed: tabox
// must not hand the container an fd it opened itself in their place.
func checkPreservedFds(n int) error {
	if n < 0 {
		return fmt.Errorf("--preserve-fds %d: must not be negative", n)
	}
	for fd := 3; fd < 3+n; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			return fmt.Errorf("--preserve-fds %d: fd %d is not open", n, fd)
		}
	}
	return nil
}

// writePidFile writes pid atomically: containerd takes the file's
// appearance as the end of create.
func writePidFile(path string, pid int) error {
	if path == "" {
		return nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(abs), "."+filepath.Base(abs)+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	if err := os.Rename(tmp, abs); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write pid file: %w", err)
	}
	return nil
}

// catchSignals has run and exec in the foreground catch the signals they
// pass on to the container's process (Child.ForwardSignals names it),
// from before it runs, so that none is lost.
func catchSignals(c *cli.Command) error {
	if c.Bool("detach") {
		return nil
	}
	return sigfwd.Catch(unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
}

// createContainer is create's work, shared by run.
func createContainer(c *cli.Command, id string) (*libtabox.Container, error) {
	return createContainerConsole(c, id, nil, nil, nil)
}

// createContainerConsole creates the container, with console as the
// terminal's socket if it has a terminal; with start it starts it too
// (libtabox.Run), beforeStart running before the process is released.
func createContainerConsole(c *cli.Command, id string, console *os.File, start *libtabox.StartOpts, beforeStart func(*libtabox.Container) error) (*libtabox.Container, error) {
	if err := checkPreservedFds(c.Int("preserve-fds")); err != nil {
		return nil, err
	}
	if c.Bool("systemd-cgroup") {
		return nil, errors.New("--systemd-cgroup: the systemd cgroup driver is not supported; use the default cgroupfs driver")
	}
	cfg, err := loadConfig(c.String("bundle"), id, c.Bool("no-pivot"))
	if err != nil {
		return nil, err
	}
	if err := judgeFlags(c, &cfg.Limits); err != nil {
		return nil, err
	}
	if console != nil && (cfg.Process == nil || !cfg.Process.Terminal) {
		console = nil
	}
	opts := libtabox.CreateOpts{
		Stdin:         os.Stdin,
		Stdout:        os.Stdout,
		Stderr:        os.Stderr,
		ConsoleSocket: c.String("console-socket"),
		Console:       console,
		PreserveFds:   c.Int("preserve-fds"),
		NoNewKeyring:  c.Bool("no-new-keyring"),
		Debugf:        log.Debugf,
		BeforeStart:   beforeStart,
	}
	var ctr *libtabox.Container
	if start != nil {
		ctr, err = libtabox.Run(c.String("root"), id, cfg, opts, *start)
	} else {
		ctr, err = libtabox.Create(c.String("root"), id, cfg, opts)
	}
	if err != nil {
		if errors.Is(err, libtabox.ErrExist) || errors.Is(err, libtabox.ErrInvalidID) {
			return nil, err
		}
		var se *libtabox.StartError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("start container %q: %w", id, se.Err)
		}
		return nil, fmt.Errorf("create container %q: %w", id, err)
	}
	if path := c.String("pidfd-socket"); path != "" {
		if err := libtabox.SendPidfd(path, ctr.Pid()); err != nil {
			libtabox.Delete(c.String("root"), id, true, log.Warnf)
			return nil, err
		}
	}
	return ctr, nil
}

var createFlags = []cli.Flag{
	&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "bundle directory (default: the current directory)"},
	&cli.StringFlag{Name: "pid-file", Usage: "write the container's PID to this file"},
	&cli.StringFlag{Name: "console-socket", Usage: "AF_UNIX socket to send the terminal's master fd to"},
	&cli.BoolFlag{Name: "no-pivot", Usage: "use MS_MOVE and chroot instead of pivot_root"},
	&cli.BoolFlag{Name: "no-new-keyring", Usage: "keep the caller's session keyring"},
	&cli.IntFlag{Name: "preserve-fds", Usage: "pass this many fds from 3 up to the container"},
	&cli.StringFlag{Name: "pidfd-socket", Usage: "AF_UNIX socket to send a pidfd of the container's init to"},
}
