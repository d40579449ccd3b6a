package libtabox

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/cgroups"
	cgroupfs "github.com/opencontainers/cgroups/fs"
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
