package main

import (
	"fmt"
	"os"
	"os/signal"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/tabox/tabox/libtabox"
)

var runCommand = &cli.Command{
	Name:      "run",
	Usage:     "create and start a container, wait for it, and delete it",
	ArgsUsage: "<container-id>",
	Flags: append([]cli.Flag{
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "return once the container started"},
		&cli.BoolFlag{Name: "keep", Usage: "do not delete the container after it exits"},
	}, createFlags...),
	Action: func(c *cli.Context) error {
		id, err := containerID(c)
		if err != nil {
			return err
		}
		root := c.String("root")
		// In the foreground, a terminal without a console socket is
		// tabox's own: it receives the pty and joins it to its stdio.
		var fc *foregroundConsole
		if !c.Bool("detach") && c.String("console-socket") == "" {
			if fc, err = newForegroundConsole(); err != nil {
				return err
			}
		}
		var console *os.File
		if fc != nil {
			console = fc.theirs
		}
		ctr, err := createContainerConsole(c, id, console)
		if err != nil {
			return err
		}
		if fc != nil && (ctr.Config().Process == nil || !ctr.Config().Process.Terminal) {
			fc.ours.Close()
			fc.theirs.Close()
			fc = nil
		}
		if fc != nil {
			wait, err := fc.attach()
			if err != nil {
				libtabox.Delete(root, id, true, log.Warnf)
				return err
			}
			defer wait()
		}
		// Forward the signals a user sends tabox to the container, from
		// before start so that none is lost.
		sigs := make(chan os.Signal, 16)
		if !c.Bool("detach") {
			signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
		}
		if err := libtabox.Start(root, id, log.Warnf); err != nil {
			libtabox.Delete(root, id, true, log.Warnf)
			return fmt.Errorf("start container %q: %w", id, err)
		}
		if err := writePidFile(c.String("pid-file"), ctr.Pid()); err != nil {
			return err
		}
		if c.Bool("detach") {
			return nil
		}
		go func() {
			for s := range sigs {
				ctr.Process().Signal(s)
			}
		}()
		code, err := ctr.Wait()
		signal.Stop(sigs)
		if err != nil {
			return err
		}
		if !c.Bool("keep") {
			if err := libtabox.Delete(root, id, true, log.Warnf); err != nil {
				log.Warnf("delete %q: %v", id, err)
			}
		}
		if code != 0 {
			return exitCode(code)
		}
		return nil
	},
}
