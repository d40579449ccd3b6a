package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/tabox/tabox/libtabox"
)

var listCommand = &cli.Command{
	Name:  "list",
	Usage: "list the containers",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the IDs"},
	},
	Action: func(_ context.Context, c *cli.Command) error {
		ctrs, err := libtabox.List(c.String("root"))
		if err != nil {
			return err
		}
		states := make([]*libtabox.State, 0, len(ctrs))
		for _, ctr := range ctrs {
			states = append(states, ctr.State())
		}
		if c.Bool("quiet") {
			for _, s := range states {
				fmt.Println(s.ID)
			}
			return nil
		}
		switch c.String("format") {
		case "json":
			return json.NewEncoder(os.Stdout).Encode(states)
		case "table":
			w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
			fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
			for _, s := range states {
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle,
					s.Created.Format(time.RFC3339Nano), s.Owner)
			}
			return w.Flush()
		}
		return fmt.Errorf("unknown --format %q: use table or json", c.String("format"))
	},
}
