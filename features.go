package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/urfave/cli/v3"

	"github.com/tabox/tabox/libtabox"
	"github.com/tabox/tabox/specconv"
)

var featuresCommand = &cli.Command{
	Name:  "features",
	Usage: "print what this tabox supports, as the runtime-spec features JSON",
	Action: func(_ context.Context, c *cli.Command) error {
		f := specconv.Features(map[string]string{
			"org.opencontainers.runtime-spec.features.version": "1.3",
			"dev.tabox.version":                    version,
			"dev.tabox.commit":                     gitCommit,
			"io.github.seccomp.libseccomp.version": libtabox.SeccompVersion(),
		})
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "    ")
		return enc.Encode(f)
	},
}
