package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/urfave/cli/v3"

	"github.com/tabox/tabox/libtabox"
)

var deleteCommand = &cli.Command{
	Name:      "delete",
	Usage:     "delete a stopped container (any container with --force)",
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill the container first if it is not stopped"},
	},
	Action: func(_ context.Context, c *cli.Command) error {
		id, err := containerID(c)
		if err != nil {
			return err
		}
		err = libtabox.Delete(c.String("root"), id, c.Bool("force"), log.Warnf)
		// Shims delete again during their cleanup: with --force, a
		// container that is already gone is not an error.
		if errors.Is(err, libtabox.ErrNotExist) && c.Bool("force") {
			return nil
		}
		if err != nil {
			return fmt.Errorf("delete %q: %w", id, err)
		}
		return nil
	},
}
