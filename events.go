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
)

var eventsCommand = &cli.Command{
	Name:      "events",
	Usage:     "print a container's statistics and OOM events",
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "stats", Usage: "print the statistics once and exit"},
		&cli.DurationFlag{Name: "interval", Value: 5 * time.Second, Usage: "time between statistics"},
	},
	Action: func(_ context.Context, c *cli.Command) error {
		id, err := containerID(c)
		if err != nil {
			return err
		}
		if c.Duration("interval") <= 0 {
			return errors.New("--interval must be positive")
		}
		ctr, err := libtabox.Load(c.String("root"), id)
		if err != nil {
			return fmt.Errorf("events %q: %w", id, err)
		}
		enc := json.NewEncoder(os.Stdout)
		stats := func() error {
			s, err := ctr.Stats()
			if err != nil {
				return fmt.Errorf("events %q: %w", id, err)
			}
			return enc.Encode(libtabox.Event{Type: "stats", ID: id, Data: s})
		}
		if c.Bool("stats") {
			return stats()
		}
		return watchEvents(ctr, c.Duration("interval"), stats, func() error {
			return enc.Encode(libtabox.Event{Type: "oom", ID: id})
		})
	},
}

// watchEvents prints statistics every interval and an oom event as soon as
// the OOM killer strikes, until the container stops.
func watchEvents(ctr *libtabox.Container, interval time.Duration, stats, oom func() error) error {
	stop := make(chan struct{})
	defer close(stop)
	ooms, err := ctr.NotifyOOM(stop)
	if err != nil {
		return err
	}
	if err := stats(); err != nil {
		return err
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	alive := time.NewTicker(100 * time.Millisecond)
	defer alive.Stop()
	for {
		select {
		case _, ok := <-ooms:
			if !ok {
				// The cgroup is gone: so is the container.
				return nil
			}
			if err := oom(); err != nil {
				return err
			}
		case <-tick.C:
			if err := stats(); err != nil && ctr.Status() != libtabox.Stopped {
				return err
			}
		case <-alive.C:
			if ctr.Status() == libtabox.Stopped {
				// An OOM kill that stopped the container is on its way:
				// take what the notifier has before leaving.
				for {
					select {
					case _, ok := <-ooms:
						if !ok {
							return nil
						}
						if err := oom(); err != nil {
							return err
						}
					case <-time.After(50 * time.Millisecond):
						return nil
					}
				}
			}
		}
	}
}
