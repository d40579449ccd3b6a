package tests

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// subIDFiles are the subordinate id files newuidmap and newgidmap read.
var subIDFiles = []string{"/etc/subuid", "/etc/subgid"}

// subIDLock serialises this test binary's edits of the subordinate id
// files with those of any other test run on the machine.
const subIDLock = "/run/tabox-tests-subid.lock"

const subIDSize = 65536

// grantSubIDs gives user a range of subordinate uids and gids of
// subIDSize ids, the same start in both files, and returns its start. A
// range the user already has in both files is used as it is; otherwise a
// free one is added, and removed when the test ends.
func grantSubIDs(t *testing.T, user string) uint32 {
	t.Helper()
	lock, err := os.OpenFile(subIDLock, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	var end uint64 = 1 << 20 // above the ranges useradd hands out by default
	owned := map[uint32]int{}
	for _, file := range subIDFiles {
		ranges, err := readSubIDs(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range ranges {
			if r.user == user && r.count >= subIDSize {
				owned[r.start]++
			}
			end = max(end, uint64(r.start)+uint64(r.count))
		}
	}
	for start, n := range owned {
		if n == len(subIDFiles) {
			return start
		}
	}
	start := uint32((end + subIDSize - 1) / subIDSize * subIDSize)
	line := fmt.Sprintf("%s:%d:%d\n", user, start, subIDSize)
	for _, file := range subIDFiles {
		if err := appendLine(file, line); err != nil {
			t.Fatal(err)
		}
		file := file
		t.Cleanup(func() {
			if err := removeLine(file, line); err != nil {
				t.Errorf("remove %q from %s: %v", strings.TrimSpace(line), file, err)
			}
		})
	}
	return start
}

type subIDRange struct {
	user         string
	start, count uint32
}

func readSubIDs(file string) ([]subIDRange, error) {
	f, err := os.Open(file)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []subIDRange
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(parts) != 3 {
			continue
		}
		start, err1 := strconv.ParseUint(parts[1], 10, 32)
		count, err2 := strconv.ParseUint(parts[2], 10, 32)
		if err1 == nil && err2 == nil {
			out = append(out, subIDRange{parts[0], uint32(start), uint32(count)})
		}
	}
	return out, sc.Err()
}

func appendLine(file, line string) error {
	f, err := os.OpenFile(file, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	// A last line without its newline would swallow ours.
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		b := make([]byte, 1)
		if _, err := f.ReadAt(b, fi.Size()-1); err == nil && b[0] != '\n' {
			line = "\n" + line
		}
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// removeLine removes one occurrence of line from file, replacing the file
// atomically so that newuidmap never reads half of it.
func removeLine(file, line string) error {
	lock, err := os.OpenFile(subIDLock, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	i := strings.Index("\n"+string(data), "\n"+line)
	if i < 0 {
		return nil
	}
	rest := string(data[:i]) + string(data[i+len(line):])
	tmp := filepath.Join(filepath.Dir(file), "."+filepath.Base(file)+".tabox-test")
	if err := os.WriteFile(tmp, []byte(rest), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// rootlessRangesBundle writes the rootless user's bundle with the user's
// own ids as 0 and its subordinate range from 1 on, and args.
func rootlessRangesBundle(t *testing.T, e *rootlessEnv, sub uint32, args ...string) {
	t.Helper()
	os.Remove(filepath.Join(e.home, "bundle", "config.json"))
	if _, stderr, code := e.run(t, "spec", "--rootless"); code != 0 {
		t.Fatalf("spec --rootless: exit %d: %s", code, stderr)
	}
	bundle := filepath.Join(e.home, "bundle")
	spec := readSpec(t, bundle)
	spec.Process.Terminal = false
	spec.Process.Args = args
	spec.Root.Readonly = false
	c := spec.Process.Capabilities
	c.Bounding, c.Effective, c.Permitted = append(c.Bounding, "CAP_CHOWN"), append(c.Effective, "CAP_CHOWN"), append(c.Permitted, "CAP_CHOWN")
	spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: e.uid, Size: 1}, {ContainerID: 1, HostID: sub, Size: subIDSize}}
	spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: e.gid, Size: 1}, {ContainerID: 1, HostID: sub, Size: subIDSize}}
	writeSpec(t, bundle, spec)
	os.Lchown(filepath.Join(bundle, "config.json"), int(e.uid), int(e.gid))
}

// TestRootlessSubordinateIDs: an unprivileged user maps its own ids to 0
// and its subordinate range (/etc/subuid, /etc/subgid) from 1 on; tabox
// has newuidmap and newgidmap write the maps. Inside, both ranges are in
// the maps, and root may chown to 1000, which is the range's id on the
// host.
func TestRootlessSubordinateIDs(t *testing.T) {
	e := setupRootless(t)
	if _, err := os.Stat("/usr/bin/newuidmap"); err != nil {
		t.Skip("no newuidmap (package uidmap)")
	}
	sub := grantSubIDs(t, rootlessUser)
	rootlessRangesBundle(t, e, sub, "testinit", "cat", "/proc/self/uid_map", "--", "cat", "/proc/self/gid_map", "--",
		"id", "--", "write", "/tmp/f", "x", "--", "chown", "/tmp/f", "1000", "1000", "--", "stat", "/tmp/f")
	stdout, stderr, code := e.run(t, "run", "rlsub")
	if code != 0 {
		t.Fatalf("rootless run: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	l := lines(stdout)
	if len(l) != 8 {
		t.Fatalf("inside: %q", l)
	}
	for i, what := range []struct {
		name string
		own  uint32
	}{{"uid_map", e.uid}, {"gid_map", e.gid}} {
		first, second := strings.Fields(l[2*i]), strings.Fields(l[2*i+1])
		if !slices.Equal(first, []string{"0", fmt.Sprint(what.own), "1"}) || !slices.Equal(second, []string{"1", fmt.Sprint(sub), fmt.Sprint(subIDSize)}) {
			t.Errorf("%s inside: %q, want \"0 %d 1\" and \"1 %d %d\"", what.name, l[2*i:2*i+2], what.own, sub, subIDSize)
		}
	}
	if !strings.HasPrefix(l[4], "uid=0 gid=0") {
		t.Errorf("id inside: %q, want root", l[4])
	}
	if l[5] != "ok" || l[6] != "ok" || !strings.Contains(l[7], "uid=1000 gid=1000") {
		t.Errorf("write, chown, stat inside: %q", l[5:])
	}
	fi, err := os.Lstat(filepath.Join(e.home, "bundle", "rootfs", "tmp", "f"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != sub+999 || st.Gid != sub+999 {
		t.Errorf("the file chowned to 1000 inside is %d:%d on the host, want %d:%d", st.Uid, st.Gid, sub+999, sub+999)
	}
}

// TestRootlessSubordinateIDsRefused: a range the user was not given, and a
// host without newuidmap, fail create with a one-line error that says
// why, and leave no state and no process.
func TestRootlessSubordinateIDsRefused(t *testing.T) {
	e := setupRootless(t)
	if _, err := os.Stat("/usr/bin/newuidmap"); err != nil {
		t.Skip("no newuidmap (package uidmap)")
	}
	sub := grantSubIDs(t, rootlessUser)
	for _, tc := range []struct {
		name, path string
		sub        uint32
		want       []string
	}{
		{"not granted", "/usr/sbin:/usr/bin:/sbin:/bin", sub + subIDSize, []string{"newuidmap", "/etc/subuid", "not allowed"}},
		{"no newuidmap", "/nonexistent", sub, []string{"newuidmap", "uidmap", "not found"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rootlessRangesBundle(t, e, tc.sub, "testinit", "id")
			_, stderr, code := e.runPath(t, tc.path, "create", "rlbad")
			t.Logf("create: %s", strings.TrimSpace(stderr))
			assertOneLineError(t, stderr, code, tc.want...)
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("error %q lacks %q", strings.TrimSpace(stderr), w)
				}
			}
			if ents, err := os.ReadDir(filepath.Join(e.xdg, "tabox")); err == nil && len(ents) != 0 {
				t.Errorf("state root after a failed create holds %d entries", len(ents))
			}
			if procs := findContainerProcs("", "", filepath.Join(e.home, "bundle")); len(procs) != 0 {
				t.Errorf("processes left: %v", procs)
			}
		})
	}
}

// TestRootlessSubordinateIDsNoInheritable: the init waits for its maps
// with every capability ambient, which needs them inheritable too; none
// of that may reach a process whose config gives it no capabilities, or
// a file with inheritable capabilities would grant them at its exec.
func TestRootlessSubordinateIDsNoInheritable(t *testing.T) {
	e := setupRootless(t)
	if _, err := os.Stat("/usr/bin/newuidmap"); err != nil {
		t.Skip("no newuidmap (package uidmap)")
	}
	sub := grantSubIDs(t, rootlessUser)
	rootlessRangesBundle(t, e, sub, "grep", "^Cap[IA]", "/proc/self/status")
	bundle := filepath.Join(e.home, "bundle")
	spec := readSpec(t, bundle)
	spec.Process.Capabilities = nil
	spec.Process.User.UID, spec.Process.User.GID = 1000, 1000
	writeSpec(t, bundle, spec)
	stdout, stderr, code := e.run(t, "run", "rlinh")
	if code != 0 {
		t.Fatalf("rootless run: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	want := []string{"CapInh:\t0000000000000000", "CapAmb:\t0000000000000000"}
	if l := lines(stdout); !slices.Equal(l, want) {
		t.Errorf("capabilities of a process without any: %q, want %q", l, want)
	}
}
