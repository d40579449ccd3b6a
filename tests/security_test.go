package tests

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestInitExeSealed: while created, the container's init runs the runtime
// from a sealed copy or a read-only view of it (CVE-2019-5736): writing
// through /proc/<pid>/exe fails, so a container cannot overwrite the host's
// binary.
func TestInitExeSealed(t *testing.T) {
	t.Parallel()
	id, _ := createContainer(t, sleepBundle(t))
	pid := state(t, id).Pid
	exe := fmt.Sprintf("/proc/%d/exe", pid)
	target, err := os.Readlink(exe)
	if err != nil {
		t.Fatalf("readlink %s: %v", exe, err)
	}
	// The init runs from a sealed memfd copy (EPERM on write) or through a
	// detached read-only overlayfs (EROFS), never from the binary itself.
	if target == runtimeBin {
		t.Errorf("created container's init runs the runtime binary %s itself", target)
	}
	before, err := os.ReadFile(runtimeBin)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(exe, os.O_WRONLY, 0)
	if err == nil {
		_, werr := f.Write([]byte{0x7f})
		f.Close()
		if werr == nil || !(errors.Is(werr, syscall.EPERM) || errors.Is(werr, syscall.EROFS)) {
			t.Errorf("write through %s (-> %s): %v, want EPERM or EROFS", exe, target, werr)
		}
	} else if !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.EROFS) && !errors.Is(err, syscall.ETXTBSY) {
		t.Errorf("open %s (-> %s) for writing: %v, want EROFS, EPERM or ETXTBSY", exe, target, err)
	}
	if after, _ := os.ReadFile(runtimeBin); !bytes.Equal(before, after) {
		t.Errorf("the runtime binary %s changed", runtimeBin)
	}
	deleteContainer(t, id, true)
}

// fdsOf parses `testinit fds` into the list of fd numbers.
func fdsOf(out string) []string {
	var fds []string
	for _, l := range lines(out) {
		n, _, _ := strings.Cut(l, " -> ")
		fds = append(fds, n)
	}
	return fds
}

// TestNoLeakedFds: the container's process has only its stdio open (plus
// what --preserve-fds passes): no descriptor of the runtime leaks in
// (CVE-2024-21626).
func TestNoLeakedFds(t *testing.T) {
	t.Parallel()
	t.Run("default", func(t *testing.T) {
		t.Parallel()
		out := runArgs(t, nil, "testinit", "fds")
		if got := fdsOf(out); strings.Join(got, ",") != "0,1,2" {
			t.Errorf("fds inside: %q, want 0,1,2:\n%s", got, out)
		}
	})
	t.Run("preserve-fds", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		var files []*os.File
		for _, name := range []string{"extra3", "extra4", "extra5"} {
			f, err := os.Create(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			files = append(files, f)
		}
		bundle := newBundle(t, withArgs("testinit", "fds"))
		stdout, stderr, code := taboxOpts(t, cmdOpts{extraFiles: files}, "run", "--preserve-fds", "2", "--bundle", bundle, newID(t))
		if code != 0 {
			t.Fatalf("run --preserve-fds 2: exit %d: %s", code, stderr)
		}
		if got := fdsOf(stdout); strings.Join(got, ",") != "0,1,2,3,4" {
			t.Errorf("fds inside: %q, want 0,1,2,3,4:\n%s", got, stdout)
		}
		for _, l := range lines(stdout) {
			if strings.HasPrefix(l, "3 -> ") && !strings.HasSuffix(l, "extra3") || strings.HasPrefix(l, "4 -> ") && !strings.HasSuffix(l, "extra4") {
				t.Errorf("preserved fd %q is not the passed file", l)
			}
		}
	})
}

// TestMountSymlinkEscape: a rootfs whose /mnt is a symlink to /etc (or to
// ../../etc) must not let a mount at /mnt/x land on the host's /etc: it is
// made inside the rootfs, or refused.
func TestMountSymlinkEscape(t *testing.T) {
	t.Parallel()
	for _, link := range []string{"/etc", "../../../../../../../../etc"} {
		name := "absolute"
		if !strings.HasPrefix(link, "/") {
			name = "relative"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			target := "tabox-escape-" + newID(t)
			hostPath := filepath.Join("/etc", target)
			bundle := newBundle(t, func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt/" + target, Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}})
				s.Process.Args = []string{"testinit", "mountinfo"}
			})
			t.Cleanup(func() {
				unix.Unmount(hostPath, unix.MNT_DETACH)
				os.Remove(hostPath)
			})
			mnt := filepath.Join(bundle, "rootfs/mnt")
			if err := os.Remove(mnt); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(link, mnt); err != nil {
				t.Fatal(err)
			}
			id := newID(t)
			stdout, stderr, code := tabox(t, "run", "--bundle", bundle, id)
			if _, err := os.Lstat(hostPath); err == nil {
				t.Errorf("the container's mount created %s on the host", hostPath)
			}
			if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), target) {
				t.Errorf("a mount of the container is in the host's mount table")
			}
			if code == 0 {
				// Accepted: the mount must be inside the rootfs.
				if m := findMount(stdout, "/etc/"+target); m == nil || m.fstype != "tmpfs" {
					t.Errorf("mount accepted but not at the rootfs's /etc/%s:\n%s", target, stdout)
				}
				if _, err := os.Lstat(filepath.Join(bundle, "rootfs/etc", target)); err != nil {
					t.Errorf("mount point not made inside the rootfs: %v", err)
				}
			} else if strings.TrimSpace(stderr) == "" {
				t.Errorf("run refused the bundle without an error message")
			}
			assertNoLeftovers(t, rootDir(t), id)
		})
	}
}

// TestBundleMountsNotOnHost: the mounts of a running container are in its
// own mount namespace only: none appears in the host's mount table.
func TestBundleMountsNotOnHost(t *testing.T) {
	t.Parallel()
	bundle := newBundle(t, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt/t", Type: "tmpfs", Source: "tmpfs"})
		s.Process.Args = []string{"testinit", "sleep", "120"}
	})
	id, _ := createContainer(t, bundle)
	mustTabox(t, "start", id)
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(mi), "\n") {
		if strings.Contains(l, bundle) {
			t.Errorf("container mount visible on the host: %s", l)
		}
	}
	deleteContainer(t, id, true)
}
