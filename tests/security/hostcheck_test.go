package security

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// hostSnapshot is the host state a test must leave as it found it.
type hostSnapshot struct {
	binHash string
	mounts  map[string]int
	etc     map[string]string
	sysctls map[string]string
	// watched are the host paths an attack aims at, by path.
	watched map[string]map[string]string
}

// hostSysctls are host settings an escape would change: compared before
// and after every test (and core_pattern restored if it changed).
var hostSysctls = []string{
	"kernel/core_pattern", "kernel/hostname", "kernel/domainname",
	"net/ipv4/tcp_keepalive_time", "net/ipv4/ip_forward",
}

func takeSnapshot(t *testing.T) *hostSnapshot {
	t.Helper()
	s := &hostSnapshot{binHash: fileHash(runtimeBin), mounts: hostMounts(), etc: treeOf("/etc"),
		sysctls: map[string]string{}, watched: map[string]map[string]string{}}
	for _, k := range hostSysctls {
		s.sysctls[k] = readTrim("/proc/sys/" + k)
	}
	if s.binHash == "" {
		t.Fatalf("cannot hash the runtime binary %s", runtimeBin)
	}
	return s
}

// watch records path (a directory tree, a file, or nothing) as it is now:
// the test fails if it is different at the end.
func (h *harness) watch(path string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.snap.watched[path] = treeOf(path)
}

// checkHost compares the host with the snapshot, after the cleanup.
func (h *harness) checkHost() {
	t, s := h.t, h.snap
	defer func() {
		for _, d := range h.hostDirs {
			removeAll(d)
		}
	}()
	if got := fileHash(runtimeBin); got != s.binHash {
		t.Errorf("HOST CHANGED: the runtime binary %s changed (sha256 %s, was %s)", runtimeBin, got, s.binHash)
	}
	for _, d := range diffCounts(s.mounts, hostMounts()) {
		t.Errorf("HOST CHANGED: host mount table: %s", d)
	}
	for _, d := range diffTrees(s.etc, treeOf("/etc")) {
		t.Errorf("HOST CHANGED: /etc: %s", d)
	}
	for _, k := range hostSysctls {
		if got := readTrim("/proc/sys/" + k); got != s.sysctls[k] {
			t.Errorf("HOST CHANGED: /proc/sys/%s is %q, was %q", k, got, s.sysctls[k])
			if k == "kernel/core_pattern" {
				os.WriteFile("/proc/sys/"+k, []byte(s.sysctls[k]), 0)
			}
		}
	}
	paths := make([]string, 0, len(s.watched))
	for p := range s.watched {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		for _, d := range diffTrees(s.watched[p], treeOf(p)) {
			t.Errorf("HOST CHANGED: %s: %s", p, d)
		}
	}
}

func fileHash(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	hs := sha256.New()
	if _, err := io.Copy(hs, f); err != nil {
		return ""
	}
	return hex.EncodeToString(hs.Sum(nil))
}

// hostMounts is the host's mount table as a multiset of "root mountpoint
// fstype source options". Network namespace files (ip netns, used by
// other test suites) are left out.
func hostMounts() map[string]int {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	m := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		pre, post, ok := strings.Cut(l, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 6 || len(g) < 2 || g[0] == "nsfs" || strings.HasPrefix(f[4], "/run/netns") {
			continue
		}
		m[strings.Join([]string{f[3], f[4], g[0], g[1], f[5]}, " ")]++
	}
	return m
}

func diffCounts(before, after map[string]int) []string {
	var d []string
	for k, n := range after {
		if n > before[k] {
			d = append(d, "new mount: "+k)
		}
	}
	for k, n := range before {
		if n > after[k] {
			d = append(d, "mount gone: "+k)
		}
	}
	sort.Strings(d)
	return d
}

// treeOf describes every entry under root: type, mode, size and content
// hash of files, link targets, device numbers.
func treeOf(root string) map[string]string {
	tree := map[string]string{}
	if _, err := os.Lstat(root); err != nil {
		tree["."] = "absent"
		return tree
	}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(root, p)
		if err != nil {
			tree[rel] = "unreadable"
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		desc := fmt.Sprintf("%v", fi.Mode())
		switch {
		case fi.Mode().IsRegular():
			desc += fmt.Sprintf(" size=%d sha=%s", fi.Size(), fileHash(p))
		case fi.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			desc += " -> " + target
		}
		tree[rel] = desc
		return nil
	})
	return tree
}

func diffTrees(before, after map[string]string) []string {
	var d []string
	for k, v := range after {
		if b, ok := before[k]; !ok {
			d = append(d, fmt.Sprintf("%s created (%s)", k, v))
		} else if b != v {
			d = append(d, fmt.Sprintf("%s changed (%s, was %s)", k, v, b))
		}
	}
	for k, v := range before {
		if _, ok := after[k]; !ok {
			d = append(d, fmt.Sprintf("%s removed (was %s)", k, v))
		}
	}
	sort.Strings(d)
	return d
}
