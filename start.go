package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v3"

	"github.com/tabox/tabox/libtabox"
)

var startCommand = &cli.Command{
	Name:      "start",
	Usage:     "start the process of a created container",
	ArgsUsage: "<container-id>",
	Action: func(_ context.Context, c *cli.Command) error {
		id, err := containerID(c)
		if err != nil {
			return err
		}
		if err := libtabox.Start(c.String("root"), id, libtabox.StartOpts{Warnf: log.Warnf}); err != nil {
			return fmt.Errorf("start container %q: %w", id, err)
		}
		return nil
	},
}
