package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/urfave/cli/v3"

	"github.com/tabox/tabox/libtabox"
)

var stateCommand = &cli.Command{
	Name:      "state",
	Usage:     "print the OCI state of a container",
	ArgsUsage: "<container-id>",
	Action: func(_ context.Context, c *cli.Command) error {
		id, err := containerID(c)
		if err != nil {
			return err
		}
		ctr, err := libtabox.Load(c.String("root"), id)
		if err != nil {
			return fmt.Errorf("state of %q: %w", id, err)
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(ctr.State())
	},
}
