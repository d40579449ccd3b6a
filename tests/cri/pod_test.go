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

// CRI namespace modes (runtime.v1.NamespaceMode).
const (
	nsPod       = 0
	nsContainer = 1
	nsNode      = 2
)

// pod is a pod sandbox made with crictl runp.
type pod struct {
	n    *node
	id   string
	name string
	// cfg is the PodSandboxConfig file, which crictl create takes too.
	cfg          string
	cgroupParent string
	// nsOpts are the pod's namespace options, copied into every
	// container's config as the kubelet does: containerd takes a
	// container's PID namespace mode from the container's config.
	nsOpts map[string]any
	// pid is the pause process's, as the host sees it.
	pid int
}

type podOpts struct {
	hostNetwork bool // namespace_options.network = NODE
	sharePID    bool // namespace_options.pid = POD
}

// runPod runs a pod sandbox with the handler under test, in the shape
// the kubelet gives it: a cgroup parent of the cgroupfs driver, DNS
// settings, a log directory, the pod's hostname unless on the host's
// network (the kubelet sends none then).
func (n *node) runPod(t *testing.T, name string, o podOpts) *pod {
	t.Helper()
	uid := name + "-" + runID
	p := &pod{
		n: n, name: name,
		cgroupParent: n.cgroupRoot + "/kubepods/besteffort/pod" + uid,
		nsOpts:       map[string]any{"network": nsPod, "pid": nsContainer, "ipc": nsPod},
	}
	if o.hostNetwork {
		p.nsOpts["network"] = nsNode
	}
	if o.sharePID {
		p.nsOpts["pid"] = nsPod
	}
	cfg := map[string]any{
		"metadata":      map[string]any{"name": name, "namespace": "tabox-cri", "uid": uid, "attempt": 0},
		"log_directory": filepath.Join(n.dir, "logs", name),
		"dns_config": map[string]any{
			"servers":  []string{"10.250.77.53"},
			"searches": []string{"svc.tabox.test"},
			"options":  []string{"ndots:5"},
		},
		"labels": map[string]string{"tabox-test": runID},
		"linux": map[string]any{
			"cgroup_parent":    p.cgroupParent,
			"security_context": map[string]any{"namespace_options": p.nsOpts},
		},
	}
	if !o.hostNetwork {
		cfg["hostname"] = name
	}
	// The pod's cgroup is the kubelet's, made before the sandbox and
	// removed after it: the runtime makes the containers' below it.
	made, err := makeCgroup(p.cgroupParent)
	t.Cleanup(func() {
		for _, d := range made {
			if err := unix.Rmdir(d); err != nil {
				t.Errorf("removing the pod's cgroup: %v", err)
			}
		}
	})
	if err != nil {
		t.Fatalf("making the pod's cgroup %s: %v", p.cgroupParent, err)
	}
	p.cfg = n.writeJSON(t, "pod-"+name+".json", cfg)
	r := n.crictl(cmdOpts{Timeout: 2 * time.Minute}, "runp", "--runtime", handler, p.cfg)
	if r.Code != 0 {
		t.Fatalf("crictl runp --runtime %s: %v", handler, r)
	}
	p.id = strings.TrimSpace(r.Stdout)
	t.Cleanup(func() {
		// Normally gone already: the scenarios stop and remove their pods.
		if n.crictl(cmdOpts{}, "inspectp", p.id).Code == 0 {
			n.crictl(cmdOpts{Timeout: 2 * time.Minute}, "rmp", "--force", p.id)
		}
	})
	var st podInspect
	n.inspect(t, &st, "inspectp", p.id)
	if st.Status.State != "SANDBOX_READY" {
		t.Fatalf("pod %s: state %q, want SANDBOX_READY", name, st.Status.State)
	}
	if st.Info.RuntimeHandler != handler {
		t.Errorf("pod %s: runtime handler %q, want %q", name, st.Info.RuntimeHandler, handler)
	}
	p.pid = st.Info.Pid
	if comm := waitComm(p.pid, "pause"); comm != "pause" {
		t.Fatalf("pod %s: the sandbox's pid %d is %q, want the pause process", name, p.pid, comm)
	}
	return p
}

// podInspect is what crictl inspectp prints, in part.
type podInspect struct {
	Status struct {
		ID      string `json:"id"`
		State   string `json:"state"`
		Network struct {
			IP string `json:"ip"`
		} `json:"network"`
	} `json:"status"`
	Info struct {
		Pid            int    `json:"pid"`
		RuntimeHandler string `json:"runtimeHandler"`
	} `json:"info"`
}

// ctrInspect is what crictl inspect prints, in part.
type ctrInspect struct {
	Status struct {
		ID       string `json:"id"`
		State    string `json:"state"`
		ExitCode int    `json:"exitCode"`
		Reason   string `json:"reason"`
		Message  string `json:"message"`
		LogPath  string `json:"logPath"`
	} `json:"status"`
	Info struct {
		Pid         int    `json:"pid"`
		SandboxID   string `json:"sandboxID"`
		RuntimeSpec struct {
			Linux struct {
				CgroupsPath string `json:"cgroupsPath"`
				Namespaces  []struct {
					Type string `json:"type"`
					Path string `json:"path"`
				} `json:"namespaces"`
			} `json:"linux"`
		} `json:"runtimeSpec"`
	} `json:"info"`
}

// The paths the kubelet masks and makes read-only in every container that
// is not privileged (pkg/securitycontext, procMount Default): containerd
// takes them from the request, and masks nothing on its own.
var (
	kubeletMaskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
	}
	kubeletReadonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// create makes a container in the pod from the busybox image running
// command, with the security context the kubelet gives by default; mutate
// edits its ContainerConfig.
func (p *pod) create(t *testing.T, name string, command []string, mutate func(cfg map[string]any)) string {
	t.Helper()
	cfg := map[string]any{
		"metadata": map[string]any{"name": name},
		"image":    map[string]any{"image": busyboxImage},
		"command":  command,
		"log_path": name + ".log",
		"linux": map[string]any{
			"security_context": map[string]any{
				"namespace_options": p.nsOpts,
				"masked_paths":      kubeletMaskedPaths,
				"readonly_paths":    kubeletReadonlyPaths,
			},
		},
	}
	if mutate != nil {
		mutate(cfg)
	}
	path := p.n.writeJSON(t, "ctr-"+p.name+"-"+name+".json", cfg)
	r := p.n.crictl(cmdOpts{}, "create", "--no-pull", p.id, path, p.cfg)
	if r.Code != 0 {
		t.Fatalf("crictl create %s: %v", name, r)
	}
	return strings.TrimSpace(r.Stdout)
}

// start creates and starts a container, and waits for it to run.
func (p *pod) start(t *testing.T, name string, command []string, mutate func(cfg map[string]any)) (id string, pid int) {
	t.Helper()
	id = p.create(t, name, command, mutate)
	if r := p.n.crictl(cmdOpts{}, "start", id); r.Code != 0 {
		t.Fatalf("crictl start %s: %v", name, r)
	}
	st := p.n.inspectCtr(t, id)
	if st.Status.State != "CONTAINER_RUNNING" || st.Info.Pid <= 0 {
		t.Fatalf("container %s after start: state %q, pid %d; want CONTAINER_RUNNING", name, st.Status.State, st.Info.Pid)
	}
	return id, st.Info.Pid
}

// remove stops and removes the pod, then checks that nothing of it is
// left: processes, its containers' cgroups, the runtime's state.
func (p *pod) remove(t *testing.T, ctrIDs ...string) {
	t.Helper()
	if r := p.n.crictl(cmdOpts{Timeout: 2 * time.Minute}, "stopp", p.id); r.Code != 0 {
		t.Errorf("crictl stopp: %v", r)
	}
	var st podInspect
	p.n.inspect(t, &st, "inspectp", p.id)
	if st.Status.State != "SANDBOX_NOTREADY" {
		t.Errorf("after stopp: pod state %q, want SANDBOX_NOTREADY", st.Status.State)
	}
	if r := p.n.crictl(cmdOpts{Timeout: 2 * time.Minute}, "rmp", p.id); r.Code != 0 {
		t.Errorf("crictl rmp: %v", r)
	}
	if r := p.n.crictl(cmdOpts{}, "pods", "-q", "--id", p.id); strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("crictl pods lists the pod after rmp: %v", r)
	}
	var left []string
	poll(5*time.Second, func() bool { left = procsMatching(p.cgroupParent + "/"); return len(left) == 0 })
	if len(left) > 0 {
		t.Errorf("processes left in the pod's cgroups:\n%s", strings.Join(left, "\n"))
	}
	if procComm(p.pid) == "pause" {
		t.Errorf("the pause process %d is still there", p.pid)
	}
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/memory", p.cgroupParent)); err != nil {
		t.Errorf("the pod's cgroup, the kubelet's, is gone: %v", err)
	}
	for _, id := range append(ctrIDs, p.id) {
		for _, d := range cgroupDirs(p.cgroupParent + "/" + id) {
			t.Errorf("cgroup left: %s", d)
		}
		if _, err := os.Stat(filepath.Join(p.n.rtRoot, "k8s.io", id)); err == nil {
			t.Errorf("%s state of %s left in %s", runtimeName, id, p.n.rtRoot)
		}
	}
}

func (n *node) inspectCtr(t *testing.T, id string) ctrInspect {
	t.Helper()
	var st ctrInspect
	n.inspect(t, &st, "inspect", id)
	return st
}

// waitExited waits for a container to exit and returns its status.
func (n *node) waitExited(t *testing.T, id string) ctrInspect {
	t.Helper()
	var st ctrInspect
	if !poll(20*time.Second, func() bool {
		st = n.inspectCtr(t, id)
		return st.Status.State == "CONTAINER_EXITED"
	}) {
		t.Fatalf("container %s: state %q after 20 s, want CONTAINER_EXITED", id, st.Status.State)
	}
	return st
}

// execSync runs crictl exec -s of a command that writes nothing on stderr
// and returns its stdout: crictl prints the command's stdout and stderr,
// each followed by a newline.
func (n *node) execSync(t *testing.T, id string, cmd ...string) string {
	t.Helper()
	r := n.crictl(cmdOpts{}, append([]string{"exec", "-s", id}, cmd...)...)
	if r.Code != 0 {
		t.Fatalf("crictl exec -s %s %q: %v", id, cmd, r)
	}
	return strings.TrimSuffix(r.Stdout, "\n\n")
}

// nsLink is the namespace link of a process, "net:[4026531992]".
func nsLink(t *testing.T, pid int, ns string) string {
	t.Helper()
	l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
	if err != nil {
		t.Fatalf("namespace %s of pid %d: %v", ns, pid, err)
	}
	return l
}

func procComm(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return strings.TrimSpace(string(b))
}

// waitComm waits for the process pid to run the program named comm, and
// returns the name it last had. runc's start returns before its init has
// executed the container's program (tabox's once it has).
func waitComm(pid int, comm string) string {
	var got string
	poll(5*time.Second, func() bool { got = procComm(pid); return got == comm })
	return got
}

// stats returns the memory working set and CPU time crictl stats reports
// for a container.
func (n *node) stats(t *testing.T, id string) (workingSet, cpuNanos uint64) {
	t.Helper()
	var out struct {
		Stats []struct {
			Attributes struct {
				ID string `json:"id"`
			} `json:"attributes"`
			CPU struct {
				UsageCoreNanoSeconds struct {
					Value json.Number `json:"value"`
				} `json:"usageCoreNanoSeconds"`
			} `json:"cpu"`
			Memory struct {
				WorkingSetBytes struct {
					Value json.Number `json:"value"`
				} `json:"workingSetBytes"`
			} `json:"memory"`
		} `json:"stats"`
	}
	n.inspect(t, &out, "stats", "-o", "json", "--id", id)
	for _, s := range out.Stats {
		if s.Attributes.ID == id {
			ws, _ := strconv.ParseUint(s.Memory.WorkingSetBytes.Value.String(), 10, 64)
			cpu, _ := strconv.ParseUint(s.CPU.UsageCoreNanoSeconds.Value.String(), 10, 64)
			return ws, cpu
		}
	}
	t.Fatalf("crictl stats: no stats for %s: %+v", id, out)
	return 0, 0
}
