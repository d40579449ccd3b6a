package libtabox

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/opencontainers/cgroups"
	devices "github.com/opencontainers/cgroups/devices/config"
	cgroupfs "github.com/opencontainers/cgroups/fs"
	"golang.org/x/sys/unix"
)

// TestV1RelativePaths: the directories tabox works out for a relative
// cgroup path are the ones the cgroup library would, on this host.
func TestV1RelativePaths(t *testing.T) {
	if cgroups.IsCgroup2UnifiedMode() {
		t.Skip("this host has cgroup v2 only: the v1 paths are not used")
	}
	for _, path := range []string{"c1", "a/b/c", "../up", "./x/", "tabox-test"} {
		got, err := v1RelativePaths(path)
		if err != nil {
			t.Fatalf("v1RelativePaths(%q): %v", path, err)
		}
		m, err := cgroupfs.NewManager(&cgroups.Cgroup{Path: path, Resources: &cgroups.Resources{}, Rootless: os.Geteuid() != 0}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := m.GetPaths(); !reflect.DeepEqual(got, want) {
			t.Errorf("v1RelativePaths(%q) = %v\nthe library's paths: %v", path, got, want)
		}
	}
	for _, path := range []string{"", "/abs/c1"} {
		if _, err := v1RelativePaths(path); err == nil {
			t.Errorf("v1RelativePaths(%q) did not leave it to the library", path)
		}
	}
}

// TestDeleteHeaderOnlyState: a create that died after saving only the
// state's header (before its cgroup's limits and the whole state) leaves
// nothing behind once deleted: delete finds the cgroup by its paths.
func TestDeleteHeaderOnlyState(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a cgroup")
	}
	root := t.TempDir()
	d, err := newStateDir(root, "hdr")
	if err != nil {
		t.Fatal(err)
	}
	cg := &Cgroup{Path: "tabox-test-hdr-" + strconv.Itoa(os.Getpid())}
	m, parents, err := planCgroup(cg)
	if err != nil {
		t.Fatal(err)
	}
	if err := makeCgroup(m, cg, parents, -1); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Destroy() })
	st := &savedState{stateHeader: stateHeader{ID: "hdr", Creating: true, CgroupPaths: m.GetPaths(), CgroupParents: parents},
		Config: Config{Cgroup: cg, Hostname: "not saved"}}
	if err := d.saveHeader(st); err != nil {
		t.Fatal(err)
	}
	d.unlock()
	data, err := os.ReadFile(filepath.Join(root, "hdr", stateFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "not saved") || !strings.Contains(string(data), cg.Path) {
		t.Fatalf("header-only state.json = %s", data)
	}
	if err := Delete(root, "hdr", false, nil); err != nil {
		t.Fatalf("delete: %v", err)
	}
	for _, p := range m.GetPaths() {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("cgroup %s left after delete: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "hdr")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("state directory left after delete: %v", err)
	}
}

// v2Root returns where this host's cgroup v2 hierarchy is mounted, or "".
func v2Root() string {
	for _, dir := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var st unix.Statfs_t
		if unix.Statfs(dir, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			return dir
		}
	}
	return ""
}

// devicesSeen runs a shell in the v2 cgroup dir and reports which of a
// few device accesses it was allowed.
func devicesSeen(t *testing.T, dir string) string {
	t.Helper()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	script := `ok=""
(echo >/dev/null) 2>/dev/null && ok="${ok}null-w "
(head -c1 /dev/zero >/dev/null) 2>/dev/null && ok="${ok}zero-r "
(echo >/dev/zero) 2>/dev/null && ok="${ok}zero-w "
(head -c1 /dev/full >/dev/null) 2>/dev/null && ok="${ok}full-r "
echo "$ok"`
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(d.Fd())}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("shell in %s: %v", dir, err)
	}
	return strings.TrimSpace(string(out))
}

// TestDeviceFilterV2: the eBPF program tabox attaches to a v2 cgroup
// lets its processes open the devices the rules allow, for the accesses
// they allow, later rules winning, and nothing else; setting new rules
// replaces the program.
func TestDeviceFilterV2(t *testing.T) {
	root := v2Root()
	if os.Geteuid() != 0 || root == "" {
		t.Skip("needs root and a cgroup v2 hierarchy")
	}
	dir := filepath.Join(root, "tabox-test-devfilter-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(dir)
	if got := devicesSeen(t, dir); got != "null-w zero-r zero-w full-r" {
		t.Fatalf("without a filter the shell saw %q", got)
	}
	rule := func(allow bool, typ devices.Type, major, minor int64, perms string) *devices.Rule {
		return &devices.Rule{Allow: allow, Type: typ, Major: major, Minor: minor, Permissions: devices.Permissions(perms)}
	}
	for _, tc := range []struct {
		rules []*devices.Rule
		want  string
	}{
		// /dev/null is 1:3, /dev/zero 1:5, /dev/full 1:7.
		{[]*devices.Rule{rule(true, devices.CharDevice, devices.Wildcard, devices.Wildcard, "m"), rule(true, devices.CharDevice, 1, 3, "rwm"), rule(true, devices.CharDevice, 1, 5, "r")}, "null-w zero-r"},
		{[]*devices.Rule{rule(true, devices.CharDevice, 1, devices.Wildcard, "rw"), rule(false, devices.CharDevice, 1, 5, "w"), rule(false, devices.BlockDevice, 1, 7, "r")}, "null-w zero-r full-r"},
		{[]*devices.Rule{rule(true, devices.WildcardDevice, 0, 0, ""), rule(false, devices.CharDevice, 1, 7, "rw")}, "null-w zero-r zero-w"},
		{[]*devices.Rule{rule(true, devices.CharDevice, 1, 3, "r"), rule(true, devices.CharDevice, 1, 3, "w")}, "null-w"},
		{nil, ""},
	} {
		if err := setDevicesV2(dir, tc.rules); err != nil {
			t.Fatal(err)
		}
		if got := devicesSeen(t, dir); got != tc.want {
			t.Errorf("rules %v: the shell saw %q, want %q", tc.rules, got, tc.want)
		}
		d, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		progs, err := attachedDeviceFilters(d)
		unix.Close(d)
		if err != nil {
			t.Fatal(err)
		}
		closeFds(progs)
		if len(progs) != 1 {
			t.Errorf("%d device filters attached, want 1", len(progs))
		}
	}
}
