package libtabox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"
)

// NotifyOOM returns a channel that receives a value each time the OOM
// killer strikes in the container, as it happens: on v1 an eventfd
// registered on memory.oom_control, on v2 inotify on memory.events. The
// channel is closed once the cgroup is gone or stop is closed.
func (c *Container) NotifyOOM(stop <-chan struct{}) (<-chan struct{}, error) {
	m, err := c.cgroup()
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errNoCgroup
	}
	if cgroups.IsCgroup2UnifiedMode() {
		return notifyOOMv2(m.Path(""), stop)
	}
	dir := m.Path("memory")
	if dir == "" {
		return nil, errors.New("the memory cgroup controller is not available on this host")
	}
	return notifyOOMv1(dir, stop)
}

func notifyOOMv1(dir string, stop <-chan struct{}) (<-chan struct{}, error) {
	ctl, err := os.Open(filepath.Join(dir, "memory.oom_control"))
	if err != nil {
		return nil, fmt.Errorf("open memory.oom_control: %w", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		ctl.Close()
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	ev := os.NewFile(uintptr(efd), "oom-eventfd")
	reg := strconv.Itoa(efd) + " " + strconv.Itoa(int(ctl.Fd()))
	if err := os.WriteFile(filepath.Join(dir, "cgroup.event_control"), []byte(reg), 0); err != nil {
		ctl.Close()
		ev.Close()
		return nil, fmt.Errorf("register OOM notification: %w", err)
	}
	ch := make(chan struct{}, 16)
	go func() {
		defer close(ch)
		defer ctl.Close()
		defer ev.Close()
		buf := make([]byte, 8)
		for {
			if _, err := ev.Read(buf); err != nil {
				return
			}
			// The count of events since the last read, reported as one
			// OOM event, as runc does. The removal of the cgroup is one
			// too, and may come in the same read as the OOM kill that
			// stopped the container.
			n := binary.NativeEndian.Uint64(buf)
			_, err := os.Stat(filepath.Join(dir, "memory.oom_control"))
			gone := err != nil
			if gone {
				n--
			}
			if n > 0 {
				select {
				case ch <- struct{}{}:
				case <-stop:
					return
				}
			}
			if gone {
				return
			}
		}
	}()
	go func() {
		<-stop
		ev.Close()
	}()
	return ch, nil
}

func notifyOOMv2(dir string, stop <-chan struct{}) (<-chan struct{}, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	events := filepath.Join(dir, "memory.events")
	if _, err := unix.InotifyAddWatch(fd, events, unix.IN_MODIFY); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("watch %s: %w", events, err)
	}
	in := os.NewFile(uintptr(fd), "inotify")
	ch := make(chan struct{}, 16)
	last := oomKillsV2(events)
	go func() {
		defer close(ch)
		defer in.Close()
		buf := make([]byte, 4096)
		for {
			if _, err := in.Read(buf); err != nil {
				return
			}
			n := oomKillsV2(events)
			if n < 0 {
				return
			}
			for ; last < n; last++ {
				select {
				case ch <- struct{}{}:
				case <-stop:
					return
				}
			}
		}
	}()
	go func() {
		<-stop
		in.Close()
	}()
	return ch, nil
}

// oomKillsV2 reads the oom_kill count of memory.events, or -1.
func oomKillsV2(path string) int64 {
	kv, err := cgroups.ReadFile(filepath.Dir(path), filepath.Base(path))
	if err != nil {
		return -1
	}
	var n int64
	for _, line := range splitLines(kv) {
		var k string
		var v int64
		if _, err := fmt.Sscan(line, &k, &v); err == nil && k == "oom_kill" {
			n = v
		}
	}
	return n
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}
