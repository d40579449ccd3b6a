package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v3"

	"github.com/tabox/tabox/libtabox"
	"github.com/tabox/tabox/specconv"
)

var updateCommand = &cli.Command{
	Name:      "update",
	Usage:     "change the resource limits of a running container",
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "resources", Aliases: []string{"r"}, Usage: "a linux.resources JSON file, or - for stdin"},
		&cli.StringFlag{Name: "memory", Usage: "memory limit (bytes, or with a k, m or g suffix)"},
		&cli.StringFlag{Name: "memory-reservation", Usage: "memory soft limit"},
		&cli.StringFlag{Name: "memory-swap", Usage: "memory plus swap limit; -1 for unlimited"},
		&cli.StringFlag{Name: "cpu-quota", Usage: "CPU time (µs) per period"},
		&cli.StringFlag{Name: "cpu-period", Usage: "CPU CFS period (µs)"},
		&cli.StringFlag{Name: "cpu-burst", Usage: "CPU burst (µs)"},
		&cli.StringFlag{Name: "cpu-share", Usage: "CPU shares (relative weight)"},
		&cli.StringFlag{Name: "cpu-rt-period", Usage: "real-time period (µs)"},
		&cli.StringFlag{Name: "cpu-rt-runtime", Usage: "real-time runtime (µs) per period"},
		&cli.StringFlag{Name: "cpuset-cpus", Usage: "CPUs to run on (e.g. 0-1)"},
		&cli.StringFlag{Name: "cpuset-mems", Usage: "memory nodes to use"},
		&cli.StringFlag{Name: "blkio-weight", Usage: "block I/O weight (10-1000)"},
		&cli.StringFlag{Name: "pids-limit", Usage: "maximum number of tasks; -1 for unlimited"},
	},
	Action: func(_ context.Context, c *cli.Command) error {
		id, err := containerID(c)
		if err != nil {
			return err
		}
		r, err := updateResources(c)
		if err != nil {
			return fmt.Errorf("update %q: %w", id, err)
		}
		ctr, err := libtabox.Load(c.String("root"), id)
		if err != nil {
			return fmt.Errorf("update %q: %w", id, err)
		}
		res, err := specconv.Resources(r, ctr.Config())
		if err != nil {
			return fmt.Errorf("update %q: %w", id, err)
		}
		if err := libtabox.Update(c.String("root"), id, res); err != nil {
			return fmt.Errorf("update %q: %w", id, err)
		}
		return nil
	},
}

// updateResources builds the linux.resources to apply: the --resources
// file, then each flag given.
func updateResources(c *cli.Command) (*specs.LinuxResources, error) {
	r := &specs.LinuxResources{}
	if path := c.String("resources"); path != "" {
		var in io.Reader = os.Stdin
		if path != "-" {
			f, err := os.Open(path)
			if err != nil {
				return nil, fmt.Errorf("--resources: %w", err)
			}
			defer f.Close()
			in = f
		}
		if err := json.NewDecoder(in).Decode(r); err != nil {
			return nil, fmt.Errorf("--resources: parse: %w", err)
		}
	}
	ensureMem := func() *specs.LinuxMemory {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		return r.Memory
	}
	ensureCPU := func() *specs.LinuxCPU {
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		return r.CPU
	}
	for _, f := range []struct {
		name string
		set  func(string) error
	}{
		{"memory", func(v string) error { return setBytes(v, &ensureMem().Limit) }},
		{"memory-reservation", func(v string) error { return setBytes(v, &ensureMem().Reservation) }},
		{"memory-swap", func(v string) error { return setBytes(v, &ensureMem().Swap) }},
		{"cpu-quota", func(v string) error { return setInt(v, &ensureCPU().Quota) }},
		{"cpu-period", func(v string) error { return setUint(v, &ensureCPU().Period) }},
		{"cpu-burst", func(v string) error { return setUint(v, &ensureCPU().Burst) }},
		{"cpu-share", func(v string) error { return setUint(v, &ensureCPU().Shares) }},
		{"cpu-rt-period", func(v string) error { return setUint(v, &ensureCPU().RealtimePeriod) }},
		{"cpu-rt-runtime", func(v string) error { return setInt(v, &ensureCPU().RealtimeRuntime) }},
		{"cpuset-cpus", func(v string) error { ensureCPU().Cpus = v; return nil }},
		{"cpuset-mems", func(v string) error { ensureCPU().Mems = v; return nil }},
		{"blkio-weight", func(v string) error {
			n, err := strconv.ParseUint(v, 10, 16)
			if err != nil {
				return err
			}
			w := uint16(n)
			r.BlockIO = &specs.LinuxBlockIO{Weight: &w}
			return nil
		}},
		{"pids-limit", func(v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return err
			}
			r.Pids = &specs.LinuxPids{Limit: &n}
			return nil
		}},
	} {
		if !c.IsSet(f.name) {
			continue
		}
		if err := f.set(c.String(f.name)); err != nil {
			return nil, fmt.Errorf("--%s %q: %w", f.name, c.String(f.name), err)
		}
	}
	return r, nil
}

func setInt(v string, dst **int64) error {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return err
	}
	*dst = &n
	return nil
}

func setUint(v string, dst **uint64) error {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return err
	}
	*dst = &n
	return nil
}

// setBytes parses a size: bytes, or with a k, m, g or t suffix (binary);
// -1 means unlimited.
func setBytes(v string, dst **int64) error {
	if v == "-1" {
		n := int64(-1)
		*dst = &n
		return nil
	}
	s := strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(v, "b"), "B"))
	mult := int64(1)
	if len(s) > 0 {
		switch s[len(s)-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		case 't':
			mult = 1 << 40
		}
		if mult != 1 {
			s = s[:len(s)-1]
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("not a size")
	}
	n *= mult
	*dst = &n
	return nil
}
