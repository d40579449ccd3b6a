package main

import (
	"context"
	"fmt"
	"os"

	"github.com/urfave/cli/v3"

	"github.com/tabox/tabox/libtabox"
)

var reportCommand = &cli.Command{
	Name:      "report",
	Usage:     "print the resource-usage report (JSON) of a container started with judge limits",
	ArgsUsage: "<container-id>",
	Action: func(_ context.Context, c *cli.Command) error {
		id, err := containerID(c)
		if err != nil {
			return err
		}
		data, err := libtabox.ReadReport(c.String("root"), id)
		if err != nil {
			return fmt.Errorf("report of %q: %w", id, err)
		}
		_, err = os.Stdout.Write(data)
		return err
	},
}
