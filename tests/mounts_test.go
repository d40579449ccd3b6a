package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// mountEntry is one line of /proc/<pid>/mountinfo.
type mountEntry struct {
	mountpoint string
	options    string // per-mount options (ro, nosuid, ...)
	optional   string // propagation fields (shared:N master:N ...)
	fstype     string
	source     string
	superOpts  string
}

// parseMountinfo parses mountinfo text.
func parseMountinfo(text string) []mountEntry {
	var out []mountEntry
	for _, line := range strings.Split(text, "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 6 || len(g) < 3 {
			continue
		}
		out = append(out, mountEntry{
			mountpoint: unescapeMountinfo(f[4]), options: f[5], optional: strings.Join(f[6:], " "),
			fstype: g[0], source: g[1], superOpts: g[2],
		})
	}
	return out
}

func unescapeMountinfo(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}

// findMount returns the last (topmost) mount at mountpoint in mountinfo
// text, or nil.
func findMount(text, mountpoint string) *mountEntry {
	var found *mountEntry
	for _, m := range parseMountinfo(text) {
		if m.mountpoint == mountpoint {
			m := m
			found = &m
		}
	}
	return found
}

func hasOption(opts, opt string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == opt {
			return true
		}
	}
	return false
}

// TestReadonlyRootfs: with root.readonly, writes anywhere on the rootfs
// fail with EROFS, and the root mount is ro.
func TestReadonlyRootfs(t *testing.T) {
	t.Parallel()
	out := runArgs(t, func(s *specs.Spec) { s.Root.Readonly = true },
		"testinit", "write", "/x", "data", "--", "write", "/tmp/x", "data", "--", "mountinfo")
	l := lines(out)
	if len(l) < 2 || l[0] != "errno=EROFS" || l[1] != "errno=EROFS" {
		t.Errorf("writes on a read-only rootfs: %q, want errno=EROFS twice", l)
	}
	if m := findMount(out, "/"); m == nil || !hasOption(m.options, "ro") {
		t.Errorf("root mount %+v is not ro", m)
	}
	// The default is writable: the same write succeeds.
	out = runArgs(t, nil, "testinit", "write", "/tmp/x", "data")
	if strings.TrimSpace(out) != "ok" {
		t.Errorf("write on a writable rootfs: %q, want ok", out)
	}
}

// TestTmpfsMount: a tmpfs mount with options is made as configured.
func TestTmpfsMount(t *testing.T) {
	t.Parallel()
	out := runArgs(t, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt/scratch", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "size=1m", "mode=700"}})
	}, "testinit", "mountinfo", "--", "stat", "/mnt/scratch", "--", "write", "/mnt/scratch/f", "x")
	m := findMount(out, "/mnt/scratch")
	if m == nil {
		t.Fatalf("no /mnt/scratch in mountinfo:\n%s", out)
	}
	if m.fstype != "tmpfs" || !hasOption(m.superOpts, "size=1024k") || !hasOption(m.options, "nosuid") || !hasOption(m.options, "nodev") {
		t.Errorf("/mnt/scratch: %+v, want tmpfs with size=1024k, nosuid, nodev", *m)
	}
	if !strings.Contains(out, "type=dir mode=0700 ") {
		t.Errorf("/mnt/scratch is not a 0700 directory:\n%s", out)
	}
	if !strings.Contains(out, "\nok\n") {
		t.Errorf("cannot write to the tmpfs:\n%s", out)
	}
}

// TestBindMountReadonly: a read-only bind mount of a host directory shows
// its content and refuses writes.
func TestBindMountReadonly(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "hello"), []byte("from the host"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := runArgs(t, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: src, Options: []string{"rbind", "ro"}})
	}, "testinit", "cat", "/data/hello", "--", "echo", "", "--", "write", "/data/new", "x", "--", "mountinfo")
	l := lines(out)
	if len(l) < 2 || l[0] != "from the host" {
		t.Errorf("reading the bind mount: %q, want %q", l, "from the host")
	}
	if len(l) < 2 || l[1] != "errno=EROFS" {
		t.Errorf("writing into a ro bind mount: %q, want errno=EROFS", l)
	}
	if m := findMount(out, "/data"); m == nil || !hasOption(m.options, "ro") {
		t.Errorf("/data mount %+v is not ro", m)
	}
	if _, err := os.Stat(filepath.Join(src, "new")); err == nil {
		t.Errorf("a file was created in the host directory")
	}
}

// TestBindMountFile: a single host file can be bind-mounted (read-write by
// default), and writes go to the host file.
func TestBindMountFile(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "file.txt")
	if err := os.WriteFile(src, []byte("original"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := runArgs(t, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/etc/bound.txt", Type: "bind", Source: src, Options: []string{"bind"}})
	}, "testinit", "cat", "/etc/bound.txt", "--", "echo", "", "--", "write", "/etc/bound.txt", "changed")
	if l := lines(out); len(l) != 2 || l[0] != "original" || l[1] != "ok" {
		t.Errorf("inside: %q, want [original ok]", l)
	}
	if data, _ := os.ReadFile(src); string(data) != "changed" {
		t.Errorf("host file holds %q after the write, want %q", data, "changed")
	}
}

// TestMaskedPaths: masked files read as empty, masked directories as empty
// (read-only) directories.
func TestMaskedPaths(t *testing.T) {
	t.Parallel()
	// Readable by root on the host (no capability needed), so a masking
	// failure shows as content.
	for _, p := range []string{"/proc/timer_list", "/sys/firmware"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("host has no %s to mask", p)
		}
	}
	if ents, _ := os.ReadDir("/sys/firmware"); len(ents) == 0 {
		t.Skip("host /sys/firmware is empty")
	}
	out := runArgs(t, nil, "testinit", "cat", "/proc/timer_list", "--", "echo", "--end-of-timer_list--", "--", "ls", "/sys/firmware", "--", "echo", "--end-of-ls--", "--", "write", "/sys/firmware/x", "y")
	before, after, _ := strings.Cut(out, "--end-of-timer_list--\n")
	if strings.TrimSpace(before) != "" {
		t.Errorf("masked /proc/timer_list is readable: %.200q", before)
	}
	ls, rest, _ := strings.Cut(after, "--end-of-ls--\n")
	if strings.TrimSpace(ls) != "" {
		t.Errorf("masked /sys/firmware lists %q, want nothing", lines(ls))
	}
	if w := strings.TrimSpace(rest); w == "ok" {
		t.Errorf("masked /sys/firmware is writable")
	}
}

// TestReadonlyPaths: readonly paths are mounted read-only.
func TestReadonlyPaths(t *testing.T) {
	t.Parallel()
	out := runArgs(t, func(s *specs.Spec) {
		// CAP_SYS_ADMIN would let root write /proc/sys; only the ro
		// mount can stop it then.
		s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_SYS_ADMIN")
		s.Process.Capabilities.Effective = append(s.Process.Capabilities.Effective, "CAP_SYS_ADMIN")
		s.Process.Capabilities.Permitted = append(s.Process.Capabilities.Permitted, "CAP_SYS_ADMIN")
	}, "testinit", "write", "/proc/sys/kernel/domainname", "x", "--", "mountinfo")
	l := lines(out)
	if len(l) < 1 || l[0] != "errno=EROFS" {
		t.Errorf("write to /proc/sys/kernel/domainname: %q, want errno=EROFS", l[:min(1, len(l))])
	}
	for _, p := range templateSpec("").Linux.ReadonlyPaths {
		if _, err := os.Stat(p); err != nil {
			continue // the runtime skips paths that do not exist
		}
		if m := findMount(out, p); m == nil || !hasOption(m.options, "ro") {
			t.Errorf("%s mount %+v is not ro", p, m)
		}
	}
}

// TestDefaultDevices: /dev has the default devices and links, and nothing
// of the host's /dev.
func TestDefaultDevices(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"/dev/null":    "type=char mode=0666 uid=0 gid=0 rdev=1:3",
		"/dev/zero":    "type=char mode=0666 uid=0 gid=0 rdev=1:5",
		"/dev/full":    "type=char mode=0666 uid=0 gid=0 rdev=1:7",
		"/dev/random":  "type=char mode=0666 uid=0 gid=0 rdev=1:8",
		"/dev/urandom": "type=char mode=0666 uid=0 gid=0 rdev=1:9",
		"/dev/tty":     "type=char mode=0666 uid=0 gid=0 rdev=5:0",
		"/dev/fd":      "link=/proc/self/fd",
		"/dev/stdin":   "link=/proc/self/fd/0",
		"/dev/stdout":  "link=/proc/self/fd/1",
		"/dev/stderr":  "link=/proc/self/fd/2",
		"/dev/pts":     "type=dir",
		"/dev/shm":     "type=dir",
	}
	paths := []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty",
		"/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/pts", "/dev/shm", "/dev/ptmx"}
	var cmds [][]string
	for _, p := range paths {
		cmds = append(cmds, []string{"stat", p})
	}
	cmds = append(cmds, []string{"ls", "/dev"})
	out := runArgs(t, nil, testinitArgs(cmds...)...)
	l := lines(out)
	if len(l) < len(paths) {
		t.Fatalf("output:\n%s", out)
	}
	for i, p := range paths {
		got := l[i]
		switch {
		case p == "/dev/ptmx":
			// A link to pts/ptmx, or a device node 5:2.
			if !strings.HasSuffix(got, "link=pts/ptmx") && !strings.HasSuffix(got, "rdev=5:2") {
				t.Errorf("%s: %q, want a link to pts/ptmx", p, got)
			}
		case strings.HasPrefix(want[p], "type="):
			if !strings.HasPrefix(got, want[p]) {
				t.Errorf("%s: %q, want %q", p, got, want[p])
			}
		default:
			if !strings.HasSuffix(got, want[p]) {
				t.Errorf("%s: %q, want %q", p, got, want[p])
			}
		}
	}
	// Nothing of the host's /dev is visible (e.g. its disks).
	hostOnly := map[string]bool{}
	if ents, err := os.ReadDir("/dev"); err == nil {
		for _, e := range ents {
			if e.Type()&os.ModeDevice != 0 && !strings.HasPrefix(e.Name(), "tty") && e.Name() != "ptmx" && e.Name() != "console" {
				hostOnly[e.Name()] = true
			}
		}
	}
	for _, n := range []string{"null", "zero", "full", "random", "urandom"} {
		delete(hostOnly, n)
	}
	for _, name := range l[len(paths):] {
		if hostOnly[name] {
			t.Errorf("host device /dev/%s is visible in the container", name)
		}
	}
}

// TestLinuxDevices: a linux.devices entry is created with its type,
// numbers, mode and owner, and works (for its owner: a root without
// CAP_DAC_OVERRIDE may not write it).
func TestLinuxDevices(t *testing.T) {
	t.Parallel()
	mode := os.FileMode(0o640)
	uid, gid := uint32(1000), uint32(100)
	out := runArgs(t, func(s *specs.Spec) {
		s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: "/dev/mynull", Type: "c", Major: 1, Minor: 3, FileMode: &mode, UID: &uid, GID: &gid})
		s.Process.User = specs.User{UID: 1000, GID: 1000}
	}, "testinit", "stat", "/dev/mynull", "--", "write", "/dev/mynull", "discarded")
	want := []string{"type=char mode=0640 uid=1000 gid=100 rdev=1:3", "ok"}
	if l := lines(out); len(l) != 2 || l[0] != want[0] || l[1] != want[1] {
		t.Errorf("inside: %q, want %q", l, want)
	}
}

// TestTmpCopyUp: a tmpfs with "tmpcopyup" (podman's --read-only uses it
// for /tmp, /var/tmp and /run) starts with what the directory held, owners
// and modes kept, and is writable over a read-only root.
func TestTmpCopyUp(t *testing.T) {
	t.Parallel()
	bundle := newBundle(t, func(s *specs.Spec) {
		s.Root.Readonly = true
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/etc", Type: "tmpfs", Source: "tmpfs",
			Options: []string{"tmpcopyup", "nosuid", "mode=755"}})
		s.Process.Args = []string{"testinit", "cat", "/etc/passwd", "--", "stat", "/etc/secret", "--",
			"readlink", "/etc/link", "--", "write", "/etc/new", "x", "--", "write", "/bin/new", "x"}
	})
	rootfs := filepath.Join(bundle, "rootfs")
	if err := os.WriteFile(filepath.Join(rootfs, "etc", "secret"), []byte("s"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(rootfs, "etc", "secret"), 1000, 1000); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("passwd", filepath.Join(rootfs, "etc", "link")); err != nil {
		t.Fatal(err)
	}
	passwd, _ := os.ReadFile(filepath.Join(rootfs, "etc", "passwd"))
	stdout, stderr, _ := runContainer(t, bundle)
	if !strings.HasPrefix(stdout, string(passwd)) {
		t.Errorf("/etc/passwd in the tmpfs %q, want the image's %q (stderr %s)", stdout, passwd, stderr)
	}
	rest := strings.TrimPrefix(stdout, string(passwd))
	for _, want := range []string{"uid=1000", "gid=1000", "640", "passwd"} {
		if !strings.Contains(rest, want) {
			t.Errorf("copied /etc/secret or /etc/link: %q lacks %q", rest, want)
		}
	}
	l := lines(rest)
	if len(l) < 2 || strings.Contains(l[len(l)-2], "errno") {
		t.Errorf("writing /etc/new in the tmpfs failed: %q", rest)
	}
	if !strings.Contains(l[len(l)-1], "EROFS") {
		t.Errorf("writing /bin/new on the read-only root: %q, want EROFS", l[len(l)-1])
	}
	// The copy went into the tmpfs, not into the image.
	if _, err := os.Stat(filepath.Join(rootfs, "etc", "new")); err == nil {
		t.Errorf("/etc/new was written into the bundle's rootfs")
	}
}
