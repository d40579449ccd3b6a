// Command pause is the sandbox ("pause") container of the CRI tests: it
// holds the pod's namespaces open, reaps the orphans reparented to it when
// the pod shares one PID namespace, and exits 0 on SIGINT or SIGTERM, as
// Kubernetes' pause does.
package main

import (
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGCHLD)
	for s := range sigs {
		if s != unix.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws unix.WaitStatus
			if pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}
