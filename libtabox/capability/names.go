// Package capability names Linux capabilities and changes the capability
// sets of the calling thread.
//
// It deliberately does not import libtabox, so that libtabox may use it.
package capability

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/tabox/tabox/internal/sysfile"
)

// names is indexed by capability number; it ends at the newest capability
// tabox knows, which Last falls back to.
var names = [...]string{
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_DAC_READ_SEARCH",
	"CAP_FOWNER",
	"CAP_FSETID",
	"CAP_KILL",
	"CAP_SETGID",
	"CAP_SETUID",
	"CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST",
	"CAP_NET_ADMIN",
	"CAP_NET_RAW",
	"CAP_IPC_LOCK",
	"CAP_IPC_OWNER",
	"CAP_SYS_MODULE",
	"CAP_SYS_RAWIO",
	"CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE",
	"CAP_SYS_PACCT",
	"CAP_SYS_ADMIN",
	"CAP_SYS_BOOT",
	"CAP_SYS_NICE",
	"CAP_SYS_RESOURCE",
	"CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG",
	"CAP_MKNOD",
	"CAP_LEASE",
	"CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL",
	"CAP_SETFCAP",
	"CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN",
	"CAP_SYSLOG",
	"CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND",
	"CAP_AUDIT_READ",
	"CAP_PERFMON",
	"CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// lastKnown is the highest capability number in names.
const lastKnown = len(names) - 1

var byName = func() map[string]int {
	m := make(map[string]int, len(names))
	for i, n := range names {
		m[n] = i
	}
	return m
}()

// Parse returns the number of the capability called name, which must be
// spelled exactly as in the kernel headers ("CAP_SYS_ADMIN").
func Parse(name string) (int, error) {
	if n, ok := byName[name]; ok {
		return n, nil
	}
	return 0, fmt.Errorf("unknown capability %q", name)
}

// Name returns the name of capability n. A number tabox has no name for
// (a kernel newer than tabox) is rendered as "CAP_<n>" so that error
// messages still say which one.
func Name(n int) string {
	if n >= 0 && n <= lastKnown {
		return names[n]
	}
	return "CAP_" + strconv.Itoa(n)
}

// All returns the numbers of every capability tabox has a name for.
func All() []int {
	all := make([]int, len(names))
	for i := range all {
		all[i] = i
	}
	return all
}

// capLastCapPath is a variable so that tests can point it elsewhere.
var capLastCapPath = "/proc/sys/kernel/cap_last_cap"

var (
	lastOnce sync.Once
	last     int
)

// Last returns the highest capability number the running kernel knows.
// Older kernels lack the newest capabilities, and asking them to change one
// fails with EINVAL, so callers skip anything above Last. When /proc is not
// readable, it assumes the newest capability tabox knows.
func Last() int {
	lastOnce.Do(func() { last = readLast(capLastCapPath) })
	return last
}

func readLast(path string) int {
	b, err := sysfile.ReadFile(path)
	if err != nil {
		return lastKnown
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	// The kernel has had 31 capabilities since 2.6.25; anything smaller is
	// not a real cap_last_cap.
	if err != nil || n < 31 || n > 63 {
		return lastKnown
	}
	return n
}
