package tests

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestNoPivot: with --no-pivot the rootfs is moved onto / and chrooted
// into; the container works the same and sees its own rootfs as /.
func TestNoPivot(t *testing.T) {
	t.Parallel()
	bundle := newBundle(t, withArgs("testinit", "ls", "/bin", "--", "cwd"))
	stdout, stderr, code := runContainer(t, bundle, "--no-pivot")
	if code != 0 {
		t.Fatalf("run --no-pivot: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "testinit") || !strings.Contains(stdout, "busybox") {
		t.Errorf("/bin inside with --no-pivot: %q, want the bundle's rootfs", stdout)
	}
}

// TestDomainname: the domain name is set in the container's UTS namespace.
func TestDomainname(t *testing.T) {
	t.Parallel()
	out := runArgs(t, func(s *specs.Spec) { s.Domainname = "example.test" },
		"testinit", "cat", "/proc/sys/kernel/domainname")
	if strings.TrimSpace(out) != "example.test" {
		t.Errorf("domainname inside %q, want example.test", out)
	}
}

// TestOOMScoreAdj: process.oomScoreAdj is the container process's
// oom_score_adj (raised here: lowering needs CAP_SYS_RESOURCE).
func TestOOMScoreAdj(t *testing.T) {
	t.Parallel()
	adj := 700
	out := runArgs(t, func(s *specs.Spec) { s.Process.OOMScoreAdj = &adj },
		"testinit", "cat", "/proc/self/oom_score_adj")
	if strings.TrimSpace(out) != "700" {
		t.Errorf("oom_score_adj inside %q, want 700", out)
	}
}

// TestOOMScoreAdjLowering: lowering oom_score_adj (containerd asks -998
// for a pod's pause container) needs CAP_SYS_RESOURCE; without it, create
// fails with one line that names the setting and the capability, and
// leaves nothing behind.
func TestOOMScoreAdjLowering(t *testing.T) {
	t.Parallel()
	skipWithCapSysResource(t, "lowering oom_score_adj works")
	adj := -998
	bundle := newBundle(t, func(s *specs.Spec) { s.Process.OOMScoreAdj = &adj })
	id := newID(t)
	_, stderr, code := tabox(t, "create", "--bundle", bundle, id)
	assertOneLineError(t, stderr, code, "CAP_SYS_RESOURCE")
	if !strings.Contains(stderr, "oom_score_adj") {
		t.Errorf("error %q does not name oom_score_adj", stderr)
	}
	assertNoLeftovers(t, rootDir(t), id)
}

// TestSessionKeyring: each container gets a session keyring of its own,
// named after it, unless --no-new-keyring.
func TestSessionKeyring(t *testing.T) {
	t.Parallel()
	bundle := newBundle(t, withArgs("testinit", "keyring"))
	id := newID(t)
	stdout, stderr, code := tabox(t, "run", "--bundle", bundle, id)
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	if !strings.HasSuffix(strings.TrimSpace(stdout), ";_ses."+id) {
		t.Errorf("session keyring %q, want one named _ses.%s", stdout, id)
	}
	stdout, stderr, code = runContainer(t, bundle, "--no-new-keyring")
	if code != 0 {
		t.Fatalf("run --no-new-keyring: exit %d: %s", code, stderr)
	}
	if strings.Contains(stdout, ";_ses.t") || strings.Contains(stdout, "_ses."+id) {
		t.Errorf("with --no-new-keyring the session keyring is %q, a new one", stdout)
	}
}

// TestPreserveFdsMissing: --preserve-fds N with fewer fds passed is an
// error that names the missing fd, and nothing is left behind.
func TestPreserveFdsMissing(t *testing.T) {
	t.Parallel()
	bundle := newBundle(t, withArgs("testinit", "fds"))
	id := newID(t)
	_, stderr, code := tabox(t, "create", "--preserve-fds", "3", "--bundle", bundle, id)
	assertOneLineError(t, stderr, code, "fd 3")
	assertNoLeftovers(t, rootDir(t), id)

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	_, stderr, code = taboxOpts(t, cmdOpts{extraFiles: []*os.File{r}}, "create", "--preserve-fds", "2", "--bundle", bundle, id)
	assertOneLineError(t, stderr, code, "fd 4")
	assertNoLeftovers(t, rootDir(t), id)
}

// TestFeatures: `tabox features` is the runtime-spec features JSON, and
// claims only what tabox does: NOTIFY only on a kernel with seccomp user
// notification, no AppArmor or SELinux on this host, all six hooks, the
// eight namespaces.
func TestFeatures(t *testing.T) {
	t.Parallel()
	out := mustTabox(t, "features")
	var f struct {
		OCIVersionMin string            `json:"ociVersionMin"`
		OCIVersionMax string            `json:"ociVersionMax"`
		Hooks         []string          `json:"hooks"`
		MountOptions  []string          `json:"mountOptions"`
		Annotations   map[string]string `json:"annotations"`
		Linux         struct {
			Namespaces   []string `json:"namespaces"`
			Capabilities []string `json:"capabilities"`
			Seccomp      struct {
				Enabled bool     `json:"enabled"`
				Actions []string `json:"actions"`
			} `json:"seccomp"`
			Apparmor        struct{ Enabled bool } `json:"apparmor"`
			MountExtensions struct {
				IDMap struct{ Enabled bool } `json:"idmap"`
			} `json:"mountExtensions"`
		} `json:"linux"`
	}
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatalf("features is not JSON: %v\n%s", err, out)
	}
	if !strings.HasPrefix(f.OCIVersionMax, "1.") || f.OCIVersionMin == "" {
		t.Errorf("ociVersionMin %q, ociVersionMax %q", f.OCIVersionMin, f.OCIVersionMax)
	}
	if len(f.Hooks) != 6 || len(f.Linux.Namespaces) != 8 {
		t.Errorf("hooks %v, namespaces %v", f.Hooks, f.Linux.Namespaces)
	}
	if !slices.Contains(f.MountOptions, "rbind") || !slices.Contains(f.Linux.Capabilities, "CAP_SYS_ADMIN") {
		t.Errorf("mount options %v or capabilities %v incomplete", f.MountOptions, f.Linux.Capabilities)
	}
	for _, o := range []string{"rro", "rnosuid", "rnoatime", "idmap", "ridmap"} {
		if !slices.Contains(f.MountOptions, o) {
			t.Errorf("mount options %v lack %q", f.MountOptions, o)
		}
	}
	// Root, on a kernel with mount_setattr (5.12): EBADF, not ENOSYS.
	hasSetattr := unix.MountSetattr(-1, "", unix.AT_EMPTY_PATH, &unix.MountAttr{}) != unix.ENOSYS
	if f.Linux.MountExtensions.IDMap.Enabled != hasSetattr {
		t.Errorf("mountExtensions.idmap.enabled is %v for root, want %v", f.Linux.MountExtensions.IDMap.Enabled, hasSetattr)
	}
	// NOTIFY only where the kernel has user notification.
	notify := seccompNotifyAvailable()
	if !f.Linux.Seccomp.Enabled || slices.Contains(f.Linux.Seccomp.Actions, "SCMP_ACT_NOTIFY") != notify || !slices.Contains(f.Linux.Seccomp.Actions, "SCMP_ACT_ERRNO") {
		t.Errorf("seccomp actions %v: want ERRNO, and NOTIFY: %v", f.Linux.Seccomp.Actions, notify)
	}
	if f.Linux.Apparmor.Enabled {
		t.Errorf("apparmor claimed on a host without it")
	}
	if f.Annotations["io.github.seccomp.libseccomp.version"] == "" {
		t.Errorf("annotations %v lack the libseccomp version", f.Annotations)
	}
}
