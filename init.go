package main

import (
	"os"

	"github.com/tabox/tabox/libtabox"
)

// The container's init is tabox re-executed as "tabox init": catch it
// before the command-line parser, which it does not need.
func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		libtabox.Init()
	}
}
