package main

import (
	"context"

	"github.com/urfave/cli/v3"
)

var createCommand = &cli.Command{
	Name:      "create",
	Usage:     "create a container from a bundle; it waits for start",
	ArgsUsage: "<container-id>",
	Flags:     createFlags,
	Action: func(_ context.Context, c *cli.Command) error {
		id, err := containerID(c)
		if err != nil {
			return err
		}
		ctr, err := createContainer(c, id)
		if err != nil {
			return err
		}
		// Last: containerd takes the pid file as the end of create.
		return writePidFile(c.String("pid-file"), ctr.Pid())
	},
}
