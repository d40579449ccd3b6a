package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/urfave/cli/v3"

	"github.com/tabox/tabox/libtabox"
	"github.com/tabox/tabox/specconv"
)

var sandboxCommand = &cli.Command{
	Name:      "sandbox",
	Usage:     "run one program in a fresh sandbox, without a bundle, and report what it used",
	ArgsUsage: "-- PROGRAM [ARGS…]",
	// Flags end at the first argument, as in runc: what follows it
	// (the program's flags) is passed on untouched.
	StopOnNthArg: new(1),
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "time", Usage: "CPU time limit (1.5, 1500ms, 2s)"},
		&cli.StringFlag{Name: "wall-time", Usage: "wall-clock limit"},
		&cli.StringFlag{Name: "memory", Usage: "memory limit, swap included (bytes, or 64K, 256M, 1G)"},
		&cli.Int64Flag{Name: "pids", Value: 1, Usage: "how many processes may run at once"},
		&cli.StringFlag{Name: "fsize", Usage: "largest file the program may write"},
		&cli.StringFlag{Name: "stack", Usage: "stack size limit"},
		&cli.Uint64Flag{Name: "nofile", Usage: "open files limit"},
		&cli.StringFlag{Name: "cpu", Usage: "CPUs to run on (e.g. 1, or 0-1)"},
		&cli.StringFlag{Name: "workdir", Usage: "host directory bound read-write at the same path; the program starts there"},
		&cli.StringSliceFlag{Name: "mount", Usage: "bind SRC[:DST[:rw]] read-only (default: the host's /usr, /lib*, /bin, /sbin, /etc)"},
		&cli.StringFlag{Name: "tmp-size", Value: "64M", Usage: "size of /tmp, a tmpfs"},
		&cli.BoolFlag{Name: "proc", Usage: "mount /proc"},
		&cli.StringSliceFlag{Name: "env", Usage: "NAME=VALUE for the program"},
		&cli.Int64Flag{Name: "uid", Value: -1, Usage: "user inside (default: the workdir's owner, or 65534)"},
		&cli.Int64Flag{Name: "gid", Value: -1, Usage: "group inside"},
		&cli.StringFlag{Name: "stdin", Usage: "the program's stdin (a file)"},
		&cli.StringFlag{Name: "stdout", Usage: "the program's stdout (a file, truncated)"},
		&cli.StringFlag{Name: "stderr", Usage: "the program's stderr (a file, truncated)"},
		&cli.StringFlag{Name: "seccomp", Usage: "a linux.seccomp section (JSON) instead of the default filter"},
		&cli.StringFlag{Name: "report", Usage: "write the report (JSON) to this file"},
		&cli.BoolFlag{Name: "json", Usage: "print the report (JSON) on stdout at the end"},
		&cli.StringFlag{Name: "meta", Usage: "write an isolate-compatible meta file"},
	},
	Action: func(_ context.Context, c *cli.Command) error {
		// Like isolate: 0 when the sandbox worked, whatever the program
		// did (that is in the report), 2 when it did not.
		if err := runSandbox(c); err != nil {
			fatalCode(err, 2)
		}
		return nil
	},
}

func runSandbox(c *cli.Command) error {
	o := specconv.SandboxOpts{Args: c.Args().Slice(), Workdir: c.String("workdir"), Mounts: c.StringSlice("mount"),
		Env: c.StringSlice("env"), Proc: c.Bool("proc"), Pids: c.Int64("pids"), NoFile: c.Uint64("nofile"), CPUs: c.String("cpu")}
	var err error
	for _, d := range []struct {
		flag string
		dst  *libtabox.Limits
		wall bool
	}{{"time", &o.Limits, false}, {"wall-time", &o.Limits, true}} {
		if !c.IsSet(d.flag) {
			continue
		}
		v, err := specconv.ParseDuration(c.String(d.flag))
		if err != nil {
			return fmt.Errorf("--%s: %w", d.flag, err)
		}
		if d.wall {
			d.dst.WallTime = v
		} else {
			d.dst.CPUTime = v
		}
	}
	for _, s := range []struct {
		flag string
		dst  any
	}{{"memory", &o.Memory}, {"fsize", &o.FSize}, {"stack", &o.Stack}, {"tmp-size", &o.TmpSize}} {
		if !c.IsSet(s.flag) && s.flag != "tmp-size" {
			continue
		}
		n, err := parseSize(c.String(s.flag))
		if err != nil {
			return fmt.Errorf("--%s %q: %w", s.flag, c.String(s.flag), err)
		}
		switch p := s.dst.(type) {
		case *int64:
			*p = int64(n)
		case *uint64:
			*p = n
		}
	}
	if o.Pids < 1 {
		return fmt.Errorf("--pids %d: at least 1", o.Pids)
	}
	o.UID, o.GID = 65534, 65534
	if fi, err := os.Stat(o.Workdir); o.Workdir != "" && err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
			o.UID, o.GID = st.Uid, st.Gid
		}
	}
	if v := c.Int64("uid"); v >= 0 {
		o.UID = uint32(v)
	}
	if v := c.Int64("gid"); v >= 0 {
		o.GID = uint32(v)
	}
	if os.Geteuid() != 0 {
		o.Rootless, o.HostUID, o.HostGID = true, uint32(os.Geteuid()), uint32(os.Getegid())
	}
	o.Seccomp = specconv.GraderSeccomp()
	if path := c.String("seccomp"); path != "" {
		if o.Seccomp, err = specconv.SeccompFile(path); err != nil {
			return err
		}
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	o.ID = "sandbox-" + hex.EncodeToString(rnd[:])
	root := c.String("root")
	if err := os.MkdirAll(root, 0o711); err != nil {
		return err
	}
	o.Rootfs, err = os.MkdirTemp(root, ".rootfs-")
	if err != nil {
		return fmt.Errorf("sandbox root: %w", err)
	}
	defer os.RemoveAll(o.Rootfs)
	os.Chmod(o.Rootfs, 0o755)
	cfg, err := specconv.Sandbox(o)
	if err != nil {
		return err
	}
	// The program as PID 2 under a reaper, so that it dies of the signals
	// the kernel spares a PID 1 (SIGXFSZ, SIGPIPE, …). Unprivileged, tabox
	// cannot join a PID namespace from outside: the program stays PID 1.
	if !o.Rootless {
		reaper, err := libtabox.StartReaper(cfg)
		if err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
		defer reaper.Stop()
	}
	stdio, closeAll, err := sandboxStdio(c)
	if err != nil {
		return err
	}
	defer closeAll()
	// The monitor is made before the program is released.
	var mon *libtabox.Monitor
	newMonitor := func(ctr *libtabox.Container) (err error) {
		mon, err = ctr.NewMonitor(o.Limits)
		return err
	}
	ctr, err := libtabox.Run(root, o.ID, cfg, libtabox.CreateOpts{
		Stdin: stdio[0], Stdout: stdio[1], Stderr: stdio[2], Debugf: log.Debugf,
		BeforeStart: newMonitor,
	}, libtabox.StartOpts{Warnf: log.Warnf, Watched: true})
	if mon != nil {
		defer mon.Close()
	}
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	defer func() {
		libtabox.Delete(root, o.ID, true, log.Warnf)
		// Reaped here if the monitor did not get to it: the reaper's
		// end waits for it.
		ctr.Wait()
	}()
	r, err := mon.Run(ctr.Started())
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	data, _ := json.MarshalIndent(r, "", "  ")
	if path := c.String("report"); path != "" {
		if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
			return fmt.Errorf("--report: %w", err)
		}
	}
	if path := c.String("meta"); path != "" {
		if err := os.WriteFile(path, []byte(r.Meta()), 0o644); err != nil {
			return fmt.Errorf("--meta: %w", err)
		}
	}
	if c.Bool("json") {
		fmt.Println(string(data))
	}
	return nil
}

// sandboxStdio opens --stdin, --stdout and --stderr; without them the
// program has tabox's own.
func sandboxStdio(c *cli.Command) ([3]*os.File, func(), error) {
	files := [3]*os.File{os.Stdin, os.Stdout, os.Stderr}
	var opened []*os.File
	closeAll := func() {
		for _, f := range opened {
			f.Close()
		}
	}
	for i, f := range []struct {
		flag string
		mode int
	}{{"stdin", os.O_RDONLY}, {"stdout", os.O_WRONLY | os.O_CREATE | os.O_TRUNC}, {"stderr", os.O_WRONLY | os.O_CREATE | os.O_TRUNC}} {
		path := c.String(f.flag)
		if path == "" {
			continue
		}
		fd, err := os.OpenFile(path, f.mode|syscall.O_CLOEXEC, 0o644)
		if err != nil {
			closeAll()
			return files, nil, fmt.Errorf("--%s: %w", f.flag, err)
		}
		opened = append(opened, fd)
		files[i] = fd
	}
	return files, closeAll, nil
}

// parseSize reads bytes, or a size with a binary suffix (64K, 256M, 1G).
func parseSize(s string) (uint64, error) {
	t := strings.ToUpper(strings.TrimSuffix(strings.TrimSuffix(s, "B"), "i"))
	mult := uint64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		}
		if mult != 1 {
			t = t[:n-1]
		}
	}
	v, err := strconv.ParseUint(t, 10, 64)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("not a size (bytes, or 64K, 256M, 1G)")
	}
	return v * mult, nil
}
