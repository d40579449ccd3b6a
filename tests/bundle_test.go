package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// bundleMarkerEnv is added to every container's process.env, with the
// bundle path as its value, so that assertNoLeftovers can find a container's
// processes on the host.
const bundleMarkerEnv = "TABOX_TEST_BUNDLE"

// defaultCaps is the capability set of `runc spec`.
var defaultCaps = []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}

// defaultCapsMask is defaultCaps as the hex mask of /proc/self/status.
const defaultCapsMask = "0000000020000420"

// templateSpec returns the config of `runc spec` (runc 1.1) with these
// differences, each needed by the tests: process.terminal is false (no tty
// here), root.readonly is false (tests write into the rootfs), no ambient
// capabilities (runc ≥1.2 dropped them from its template too), and no
// cgroup mount or linux.resources (cgroups are not under test).
func templateSpec(bundle string) *specs.Spec {
	caps := func() []string { return append([]string(nil), defaultCaps...) }
	return &specs.Spec{
		Version: "1.0.2",
		Process: &specs.Process{
			Terminal: false,
			User:     specs.User{UID: 0, GID: 0},
			Args:     []string{"testinit", "hostname"},
			Env: []string{
				"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"TERM=xterm",
				bundleMarkerEnv + "=" + bundle,
			},
			Cwd: "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  caps(),
				Effective: caps(),
				Permitted: caps(),
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: "rootfs", Readonly: false},
		Hostname: "tabox-test",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace},
				{Type: specs.NetworkNamespace},
				{Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace},
				{Type: specs.MountNamespace},
			},
			MaskedPaths: []string{
				"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
			},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
	}
}

// newBundle makes a bundle in a fresh directory: a private copy of the base
// rootfs and a config.json from templateSpec, changed by mutate (if not
// nil). It returns the bundle's absolute path.
func newBundle(t *testing.T, mutate func(*specs.Spec)) string {
	t.Helper()
	bundle := t.TempDir()
	if err := copyRootfs(filepath.Join(bundle, "rootfs")); err != nil {
		t.Fatalf("copy rootfs: %v", err)
	}
	spec := templateSpec(bundle)
	if mutate != nil {
		mutate(spec)
	}
	writeSpec(t, bundle, spec)
	return bundle
}

// writeSpec (re)writes bundle/config.json.
func writeSpec(t *testing.T, bundle string, spec *specs.Spec) {
	t.Helper()
	data, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		t.Fatalf("marshal config: %v", err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644); err != nil {
		t.Fatalf("write config.json: %v", err)
	}
}

// readSpec reads bundle/config.json.
func readSpec(t *testing.T, bundle string) *specs.Spec {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		t.Fatalf("read config.json: %v", err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatalf("parse config.json: %v", err)
	}
	return &spec
}

// bundleOf returns the bundle path of a spec made by newBundle (for
// mutators, which run before newBundle returns it).
func bundleOf(s *specs.Spec) string {
	for _, e := range s.Process.Env {
		if v, ok := strings.CutPrefix(e, bundleMarkerEnv+"="); ok {
			return v
		}
	}
	return ""
}

// withMappedRoot gives the container a user namespace of its own, whose
// root is uid and gid 100000 on the host.
func withMappedRoot(s *specs.Spec) {
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
}

// withArgs is a mutator setting process.args.
func withArgs(args ...string) func(*specs.Spec) {
	return func(s *specs.Spec) { s.Process.Args = args }
}

// testinitArgs builds the args of a testinit invocation; commands are
// separated by "--" (see tests/testinit).
func testinitArgs(cmds ...[]string) []string {
	args := []string{"testinit"}
	for i, c := range cmds {
		if i > 0 {
			args = append(args, "--")
		}
		args = append(args, c...)
	}
	return args
}

// removeNamespace drops the namespace of type typ from the spec.
func removeNamespace(s *specs.Spec, typ specs.LinuxNamespaceType) {
	var ns []specs.LinuxNamespace
	for _, n := range s.Linux.Namespaces {
		if n.Type != typ {
			ns = append(ns, n)
		}
	}
	s.Linux.Namespaces = ns
}
