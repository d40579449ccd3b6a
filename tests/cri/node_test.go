package cri

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Pod subnet of the CNI bridge, inside the node's private network namespace.
const (
	podSubnet  = "10.250.77.0/24"
	podGateway = "10.250.77.1"
	bridgeName = "tbcri0"
)

// node is a private containerd with the CRI plugin, the way a Kubernetes
// node runs it, in a network namespace of its own.
type node struct {
	dir     string
	sock    string
	netns   string
	crictlY string // crictl's config file
	// rtRoot is the runtime's state directory (the handler's Root option).
	rtRoot string
	// callLog records every invocation of the runtime, for failure reports.
	callLog string
	log     string
	// cgroupRoot is the cgroup every pod's cgroup_parent is under.
	cgroupRoot string
}

// containerdConfig is the node's config.toml: the CRI plugin with the
// handler "tabox", the pause image the tests build, the CNI bridge.
const containerdConfig = `version = 2
root = "{{dir}}/root"
state = "{{dir}}/state"
disabled_plugins = [
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing",
  "io.containerd.internal.v1.opt",
]
[grpc]
  address = "{{sock}}"
[ttrpc]
  address = "{{sock}}.ttrpc"
[debug]
  level = "info"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{{pause}}"
  # containerd asks for oomScoreAdj -998 on the pause container; lowering
  # it needs CAP_SYS_RESOURCE, which root lacks on the test machines.
  restrict_oom_score_adj = {{restrict}}
  # The pods' network namespaces are bound under the state directory.
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{{handler}}]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{{handler}}.options]
        BinaryName = "{{binary}}"
        Root = "{{dir}}/rt-root"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{{dir}}/cni"
`

// cniConfig is a bridge network on podSubnet, with host-local addresses
// kept under the node's directory.
const cniConfig = `{
  "cniVersion": "0.4.0",
  "name": "tabox-cri-{{run}}",
  "plugins": [{
    "type": "bridge",
    "bridge": "{{bridge}}",
    "isGateway": true,
    "ipMasq": false,
    "hairpinMode": true,
    "ipam": {
      "type": "host-local",
      "dataDir": "{{dir}}/ipam",
      "ranges": [[{"subnet": "{{subnet}}", "gateway": "{{gateway}}"}]],
      "routes": [{"dst": "0.0.0.0/0"}]
    }
  }]
}
`

// nodeOpts vary the node's containerd config.
type nodeOpts struct {
	// unrestrictedOOM leaves out restrict_oom_score_adj.
	unrestrictedOOM bool
}

// startNode starts the node called name; its cleanup removes every pod,
// stops containerd and checks that nothing is left: processes, mounts,
// cgroups, runtime state, the network namespace.
func startNode(t *testing.T, name string, o nodeOpts) *node {
	dir := filepath.Join(workDir, name)
	n := &node{
		dir:        dir,
		sock:       filepath.Join(dir, "c.sock"),
		netns:      filepath.Join(dir, "netns"),
		crictlY:    filepath.Join(dir, "crictl.yaml"),
		rtRoot:     filepath.Join(dir, "rt-root"),
		callLog:    filepath.Join(dir, "calls.log"),
		log:        filepath.Join(dir, "containerd.log"),
		cgroupRoot: "/tabox-cri-" + runID + "-" + name,
	}
	for _, d := range []string{"root", "state", "cni", "ipam", "logs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o711); err != nil {
			t.Fatal(err)
		}
	}
	// The runtime behind a wrapper that logs its command lines.
	wrapper := filepath.Join(dir, runtimeName)
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$*\" >> %s\nexec %s \"$@\"\n", n.callLog, runtimeBin)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	expand := strings.NewReplacer("{{dir}}", dir, "{{sock}}", n.sock, "{{pause}}", pauseImage,
		"{{handler}}", handler, "{{binary}}", wrapper, "{{run}}", runID, "{{bridge}}", bridgeName,
		"{{subnet}}", podSubnet, "{{gateway}}", podGateway,
		"{{restrict}}", strconv.FormatBool(!o.unrestrictedOOM))
	cfgPath := filepath.Join(dir, "config.toml")
	files := map[string]string{
		cfgPath: expand.Replace(containerdConfig),
		filepath.Join(dir, "cni", "10-tabox.conflist"): expand.Replace(cniConfig),
		n.crictlY: fmt.Sprintf("runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 60\n", n.sock, n.sock),
	}
	for p, c := range files {
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	if err := newNetns(n.netns); err != nil {
		t.Fatal(err)
	}
	stop, err := startBg(cmdOpts{}, n.log, "nsenter", "--net="+n.netns, "containerd", "--config", cfgPath)
	if err != nil {
		removeNetns(n.netns)
		t.Fatal(err)
	}
	t.Cleanup(func() { n.shutdown(t, stop) })

	if !poll(20*time.Second, func() bool { return n.crictl(cmdOpts{}, "info").Code == 0 }) {
		t.Fatalf("containerd's CRI did not come up:\n%s", lastLines(n.log, 30))
	}
	for name, archive := range archives {
		r := run(cmdOpts{Timeout: 2 * time.Minute}, "ctr", "-a", n.sock, "-n", "k8s.io", "images", "import", archive)
		if r.Code != 0 {
			t.Fatalf("ctr -n k8s.io images import %s: %v", name, r)
		}
	}
	// The CRI plugin learns of imported images from containerd's events.
	for name := range archives {
		if !poll(10*time.Second, func() bool {
			return n.crictl(cmdOpts{}, "inspecti", name).Code == 0
		}) {
			t.Fatalf("crictl inspecti %s: the CRI does not see the imported image", name)
		}
	}
	return n
}

// shutdown removes what is left of the pods, stops containerd and checks
// that nothing of the node remains.
func (n *node) shutdown(t *testing.T, stop func(unix.Signal) error) {
	if r := n.crictl(cmdOpts{}, "pods", "-q"); strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("pods left at the end: %s", r.Stdout)
		n.crictl(cmdOpts{Timeout: 2 * time.Minute}, "rmp", "--force", "--all")
	}
	if err := stop(unix.SIGTERM); err != nil {
		t.Errorf("stopping containerd: %v", err)
	}
	// The shims exit when their pods are removed; give them a moment.
	var left []string
	poll(10*time.Second, func() bool { left = procsMatching(n.dir, n.cgroupRoot); return len(left) == 0 })
	if len(left) > 0 {
		t.Errorf("processes left after containerd stopped:\n%s", strings.Join(left, "\n"))
	}
	if err := removeNetns(n.netns); err != nil {
		t.Errorf("removing the node's network namespace: %v", err)
	}
	if m := mountsUnder(n.dir); len(m) > 0 {
		t.Errorf("mounts left under %s: %v", n.dir, m)
		for i := len(m) - 1; i >= 0; i-- {
			unix.Unmount(m[i], unix.MNT_DETACH)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(n.rtRoot, "k8s.io")); len(ents) > 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("%s state left in %s: %v", runtimeName, n.rtRoot, names)
	}
	// The pods' cgroup parents are the kubelet's to make and remove: here
	// the test's. Whatever the runtimes left must be empty.
	for _, d := range cgroupDirs(n.cgroupRoot) {
		if err := unix.Rmdir(d); err != nil {
			t.Errorf("cgroup left: rmdir %s: %v", d, err)
		}
	}
	if ents, _ := filepath.Glob("/var/lib/cni/results/tabox-cri-" + runID + "-*"); len(ents) > 0 {
		t.Errorf("CNI results left: %v", ents)
	}
	if t.Failed() {
		t.Logf("containerd log (tail):\n%s", lastLines(n.log, 60))
		t.Logf("%s invocations (tail):\n%s", runtimeName, lastLines(n.callLog, 40))
	}
}

// crictl runs crictl against the node, in the node's network namespace
// (the CRI streaming server listens on its loopback).
func (n *node) crictl(o cmdOpts, args ...string) result {
	return run(o, "nsenter", append([]string{"--net=" + n.netns, crictlBin, "--config", n.crictlY}, args...)...)
}

// mustCrictl runs crictl and fails t unless it exits 0.
func (n *node) mustCrictl(t *testing.T, args ...string) string {
	t.Helper()
	r := n.crictl(cmdOpts{}, args...)
	if r.Code != 0 {
		t.Fatalf("crictl %s: %v", strings.Join(args, " "), r)
	}
	return r.Stdout
}

// inspect decodes the JSON crictl prints for args (inspect, inspectp, stats -o json).
func (n *node) inspect(t *testing.T, v any, args ...string) {
	t.Helper()
	out := n.mustCrictl(t, args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("crictl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// writeJSON writes v as JSON to a file under the node's directory.
func (n *node) writeJSON(t *testing.T, name string, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(n.dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
