package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v3"

	"github.com/tabox/tabox/libtabox"
)

var pauseCommand = &cli.Command{
	Name:      "pause",
	Usage:     "freeze every process of a container",
	ArgsUsage: "<container-id>",
	Action: func(_ context.Context, c *cli.Command) error {
		id, err := containerID(c)
		if err != nil {
			return err
		}
		if err := libtabox.Pause(c.String("root"), id); err != nil {
			return fmt.Errorf("pause %q: %w", id, err)
		}
		return nil
	},
}

var resumeCommand = &cli.Command{
	Name:      "resume",
	Usage:     "thaw a paused container",
	ArgsUsage: "<container-id>",
	Action: func(_ context.Context, c *cli.Command) error {
		id, err := containerID(c)
		if err != nil {
			return err
		}
		if err := libtabox.Resume(c.String("root"), id); err != nil {
			return fmt.Errorf("resume %q: %w", id, err)
		}
		return nil
	},
}
