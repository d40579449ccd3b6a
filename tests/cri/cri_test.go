package cri

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ttyScript prints the terminal's name and size. The size is set by the
// streaming server after the process starts: wait for it.
const ttyScript = `tty; i=0; while [ $i -lt 50 ]; do s=$(stty size 2>&1); case "$s" in [1-9]*" "[1-9]*) break;; esac; i=$((i+1)); sleep 0.1; done; echo "size $s"`

// loop runs until SIGTERM, on which it prints got-term and exits 7.
const loop = `trap 'echo got-term; exit 7' TERM; while :; do sleep 0.1; done`

// TestCRI runs every scenario against one node, in order.
func TestCRI(t *testing.T) {
	if setupErr != nil {
		t.Fatalf("setup: %v", setupErr)
	}
	t.Logf("runtime handler %q runs %s", handler, runtimeBin)
	n := startNode(t, "node", nodeOpts{})
	for _, s := range []struct {
		name string
		f    func(*testing.T, *node)
	}{
		{"lifecycle", testLifecycle},
		{"shared-namespaces", testSharedNamespaces},
		{"shared-pid", testSharedPID},
		{"resources", testResources},
		{"exit-codes", testExitCodes},
		{"security-context", testSecurityContext},
		{"host-network", testHostNetwork},
	} {
		t.Run(s.name, func(t *testing.T) { s.f(t, n) })
	}
}

// TestCRIOOMScoreAdj: without restrict_oom_score_adj, containerd asks for
// oom_score_adj -998 on the pause container, which needs CAP_SYS_RESOURCE.
// Where root lacks it, RunPodSandbox fails with an error that names the
// cause, and leaves nothing behind.
func TestCRIOOMScoreAdj(t *testing.T) {
	if setupErr != nil {
		t.Fatalf("setup: %v", setupErr)
	}
	var caps unix.CapUserHeader
	caps.Version = unix.LINUX_CAPABILITY_VERSION_3
	var data [2]unix.CapUserData
	if err := unix.Capget(&caps, &data[0]); err != nil {
		t.Fatal(err)
	}
	if data[0].Effective&(1<<unix.CAP_SYS_RESOURCE) != 0 {
		t.Skip("this process has CAP_SYS_RESOURCE: lowering oom_score_adj works")
	}
	n := startNode(t, "oomnode", nodeOpts{unrestrictedOOM: true})
	cfg := n.writeJSON(t, "pod-oom.json", map[string]any{
		"metadata":      map[string]any{"name": "oom", "namespace": "tabox-cri", "uid": "oom-" + runID},
		"log_directory": filepath.Join(n.dir, "logs", "oom"),
		"linux":         map[string]any{"cgroup_parent": n.cgroupRoot + "/kubepods/podoom"},
	})
	r := n.crictl(cmdOpts{}, "runp", "--runtime", handler, cfg)
	if r.Code == 0 {
		t.Fatalf("crictl runp without restrict_oom_score_adj: want a failure; got %v", r)
	}
	// runc's error says only "can't get final child's PID from pipe: EOF";
	// the cause is in its log.
	if want := "set oom_score_adj to -998: lowering it needs CAP_SYS_RESOURCE"; runtimeName == "tabox" && !strings.Contains(r.Stderr, want) {
		t.Errorf("crictl runp without restrict_oom_score_adj: want a failure naming the cause, %q; got %v", want, r)
	}
	if r := n.crictl(cmdOpts{}, "pods", "-q"); strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("crictl pods after the failed runp: %v", r)
	}
}

// testLifecycle: a pod and one container through every call the kubelet
// makes, asserted on what crictl and the host show.
func testLifecycle(t *testing.T, n *node) {
	p := n.runPod(t, "life", podOpts{})
	if calls, _ := os.ReadFile(n.callLog); !strings.Contains(string(calls), p.id) {
		t.Fatalf("the handler %q did not run %s for pod %s; its calls:\n%s", handler, runtimeName, p.id, calls)
	}
	id, pid := p.start(t, "app", []string{"sh", "-c", "echo out-line; echo err-line >&2; " + loop}, nil)

	// exec -s: the output, and a failure's exit status as crictl reports it.
	if out := n.execSync(t, id, "sh", "-c", "echo in-exec; cat /etc/hostname"); !strings.HasPrefix(out, "in-exec\nlife\n") {
		t.Errorf("crictl exec -s: stdout %q, want in-exec and the pod's hostname", out)
	}
	r := n.crictl(cmdOpts{}, "exec", "-s", id, "sh", "-c", "echo to-stderr >&2; exit 3")
	if r.Code == 0 || !strings.Contains(r.Stderr, "exited with 3") || !strings.Contains(r.Stderr, "to-stderr") {
		t.Errorf("crictl exec -s of a command exiting 3: want a failure naming \"exited with 3\" and its stderr; got %v", r)
	}

	// exec -i: stdin reaches the process.
	r = n.crictl(cmdOpts{Stdin: strings.NewReader("from-stdin\n")}, "exec", "-i", id, "sh", "-c", `read l; echo "got $l"`)
	if r.Code != 0 || r.Stdout != "got from-stdin\n" {
		t.Errorf("crictl exec -i: want \"got from-stdin\"; got %v", r)
	}

	// exec -it: a terminal of its own, sized as crictl's.
	argv := append([]string{"nsenter", "--net=" + n.netns, crictlBin, "--config", n.crictlY, "exec", "-it", id}, "sh", "-c", ttyScript)
	for i := 0; i < 2; i++ { // twice: each exec has a terminal of its own
		r = inPty(cmdOpts{}, argv...)
		out := strings.ReplaceAll(r.Stdout, "\r", "")
		if r.Code != 0 || !regexp.MustCompile(`(?m)/dev/pts/\d+$`).MatchString(out) || !strings.Contains(out, "size 24 80\n") {
			t.Errorf("crictl exec -it (%d): want a /dev/pts terminal of 24x80; got %v", i+1, r)
		}
	}

	// logs: both streams, in the CRI log file under the pod's directory.
	var logs result
	if !poll(10*time.Second, func() bool {
		logs = n.crictl(cmdOpts{}, "logs", id)
		return strings.Contains(logs.Stdout, "out-line") && strings.Contains(logs.Stderr, "err-line")
	}) {
		t.Errorf("crictl logs: want out-line on stdout and err-line on stderr; got %v", logs)
	}
	logFile := filepath.Join(n.dir, "logs", "life", "app.log")
	if b, err := os.ReadFile(logFile); err != nil || !regexp.MustCompile(`(?m) stdout F out-line$`).Match(b) || !regexp.MustCompile(`(?m) stderr F err-line$`).Match(b) {
		t.Errorf("CRI log file %s: want out-line on stdout and err-line on stderr; got %q, %v", logFile, b, err)
	}

	// stats: from the container's cgroup.
	if ws, cpu := n.stats(t, id); ws == 0 || cpu == 0 {
		t.Errorf("crictl stats: working set %d bytes, CPU %d ns; want both above 0", ws, cpu)
	}

	// inspect: the container runs in the pod, as the process the host sees.
	st := n.inspectCtr(t, id)
	if st.Info.SandboxID != p.id || !strings.HasPrefix(st.Info.RuntimeSpec.Linux.CgroupsPath, p.cgroupParent+"/") {
		t.Errorf("crictl inspect: sandbox %q, cgroups path %q; want %s and a path under %s", st.Info.SandboxID, st.Info.RuntimeSpec.Linux.CgroupsPath, p.id, p.cgroupParent)
	}
	if comm := waitComm(pid, "sh"); comm != "sh" {
		t.Errorf("the container's pid %d is %q, want sh", pid, comm)
	}

	// stop: SIGTERM, caught by the container's trap.
	if r := n.crictl(cmdOpts{}, "stop", "--timeout", "10", id); r.Code != 0 {
		t.Fatalf("crictl stop: %v", r)
	}
	st = n.inspectCtr(t, id)
	if st.Status.State != "CONTAINER_EXITED" || st.Status.ExitCode != 7 {
		t.Errorf("after stop: state %q, exit code %d; want CONTAINER_EXITED and 7 (the trap's)", st.Status.State, st.Status.ExitCode)
	}
	if logs := n.crictl(cmdOpts{}, "logs", id); !strings.Contains(logs.Stdout, "got-term") {
		t.Errorf("crictl logs after stop: want got-term; got %v", logs)
	}
	if r := n.crictl(cmdOpts{}, "rm", id); r.Code != 0 {
		t.Errorf("crictl rm: %v", r)
	}
	if r := n.crictl(cmdOpts{}, "ps", "-a", "-q", "--pod", p.id); strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("crictl ps -a lists containers after rm: %v", r)
	}
	p.remove(t, id)
}

// testSharedNamespaces: two containers of a pod join the pause
// container's network, IPC and UTS namespaces by path, and each has a
// mount and PID namespace of its own; the sandbox's /dev/shm, /etc/hosts,
// /etc/resolv.conf and /etc/hostname are bound into both.
func testSharedNamespaces(t *testing.T, n *node) {
	p := n.runPod(t, "shared", podOpts{})
	a, pidA := p.start(t, "a", []string{"sh", "-c", loop}, nil)
	b, pidB := p.start(t, "b", []string{"sleep", "1002"}, nil)
	self := os.Getpid()

	for _, ns := range []string{"net", "ipc", "uts"} {
		pause := nsLink(t, p.pid, ns)
		if pause == nsLink(t, self, ns) {
			t.Errorf("the pod's %s namespace is the host's: %s", ns, pause)
		}
		if la, lb := nsLink(t, pidA, ns), nsLink(t, pidB, ns); la != pause || lb != pause {
			t.Errorf("%s namespaces: pause %s, a %s, b %s; want all the pod's", ns, pause, la, lb)
		}
	}
	for _, ns := range []string{"mnt", "pid"} {
		links := map[string]string{}
		for who, pid := range map[string]int{"host": self, "pause": p.pid, "a": pidA, "b": pidB} {
			l := nsLink(t, pid, ns)
			if other, dup := links[l]; dup {
				t.Errorf("%s and %s share the %s namespace %s; want one each", who, other, ns, l)
			}
			links[l] = who
		}
	}
	// What containerd asked of the runtime: join the pause's namespaces by path.
	want := map[string]string{
		"network": fmt.Sprintf("/proc/%d/ns/net", p.pid),
		"ipc":     fmt.Sprintf("/proc/%d/ns/ipc", p.pid),
		"uts":     fmt.Sprintf("/proc/%d/ns/uts", p.pid),
		"pid":     "", "mount": "",
	}
	for _, ns := range n.inspectCtr(t, a).Info.RuntimeSpec.Linux.Namespaces {
		if w, ok := want[ns.Type]; ok && ns.Path != w {
			t.Errorf("runtime spec of a: %s namespace path %q, want %q", ns.Type, ns.Path, w)
		}
	}

	for name, id := range map[string]string{"a": a, "b": b} {
		if out := n.execSync(t, id, "sh", "-c", "hostname; cat /etc/hostname"); out != "shared\nshared\n" {
			t.Errorf("container %s: hostname and /etc/hostname %q, want the pod's, shared", name, out)
		}
	}

	// IPC: one /dev/shm, a tmpfs, for the pod.
	n.execSync(t, a, "sh", "-c", "echo from-a > /dev/shm/note")
	if out := n.execSync(t, b, "cat", "/dev/shm/note"); out != "from-a\n" {
		t.Errorf("/dev/shm/note written by a, read by b: %q, want from-a", out)
	}
	if out := n.execSync(t, b, "grep", " /dev/shm ", "/proc/mounts"); !strings.HasPrefix(out, "shm /dev/shm tmpfs ") && !strings.Contains(out, " /dev/shm tmpfs ") {
		t.Errorf("/dev/shm in b's /proc/mounts: %q, want a tmpfs", out)
	}
	// The sandbox's files, bound into the containers.
	mi := n.execSync(t, a, "cat", "/proc/self/mountinfo")
	for _, dst := range []string{"/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/dev/shm"} {
		if !regexp.MustCompile(`(?m)^\S+ \S+ \S+ \S+ ` + regexp.QuoteMeta(dst) + ` `).MatchString(mi) {
			t.Errorf("no mount on %s in a's mountinfo:\n%s", dst, mi)
		}
	}
	hosts, err := os.ReadFile("/etc/hosts")
	if err != nil {
		t.Fatal(err)
	}
	if out := n.execSync(t, b, "cat", "/etc/hosts"); out != string(hosts) {
		t.Errorf("/etc/hosts in b: %q, want the node's (containerd copies it): %q", out, hosts)
	}
	resolv := n.execSync(t, b, "cat", "/etc/resolv.conf")
	for _, l := range []string{"nameserver 10.250.77.53", "search svc.tabox.test", "options ndots:5"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(l) + `$`).MatchString(resolv) {
			t.Errorf("/etc/resolv.conf in b: %q, want the pod's dns_config (%s)", resolv, l)
		}
	}

	// Network: the pod's address on eth0 in both, the bridge reachable.
	var ps podInspect
	n.inspect(t, &ps, "inspectp", p.id)
	ip := ps.Status.Network.IP
	if !strings.HasPrefix(ip, strings.TrimSuffix(podGateway, "1")) || ip == podGateway {
		t.Errorf("pod IP %q, want one of %s", ip, podSubnet)
	}
	for name, id := range map[string]string{"a": a, "b": b} {
		if out := n.execSync(t, id, "ip", "-4", "addr", "show", "eth0"); !strings.Contains(out, " "+ip+"/24 ") {
			t.Errorf("container %s: eth0 %q, want the pod's address %s/24", name, out, ip)
		}
	}
	if out := n.execSync(t, a, "ping", "-c", "1", "-W", "5", podGateway); !strings.Contains(out, "1 packets received") {
		t.Errorf("ping of the bridge %s from a: %q", podGateway, out)
	}

	// A PID namespace each: a's shell is PID 1 of its own, and a sees
	// neither the pause process nor b's sleep.
	if out := n.execSync(t, a, "ps", "-o", "pid,args"); !regexp.MustCompile(`(?m)^ *1 +sh -c trap`).MatchString(out) ||
		strings.Contains(out, "pause") || strings.Contains(out, "sleep 1002") {
		t.Errorf("ps in a: %q, want a's shell as PID 1, no pause, no sleep 1002", out)
	}
	p.remove(t, a, b)
}

// testSharedPID: with namespace_options.pid = POD, the containers join
// the pause container's PID namespace: PID 1 is the pause process, and
// each sees the others.
func testSharedPID(t *testing.T, n *node) {
	p := n.runPod(t, "sharedpid", podOpts{sharePID: true})
	a, pidA := p.start(t, "a", []string{"sh", "-c", loop}, nil)
	b, pidB := p.start(t, "b", []string{"sleep", "1001"}, nil)
	pause := nsLink(t, p.pid, "pid")
	if la, lb := nsLink(t, pidA, "pid"), nsLink(t, pidB, "pid"); la != pause || lb != pause {
		t.Errorf("pid namespaces: pause %s, a %s, b %s; want all the pod's", pause, la, lb)
	}
	if nsLink(t, pidA, "mnt") == nsLink(t, pidB, "mnt") {
		t.Errorf("a and b share a mount namespace; want one each")
	}
	out := n.execSync(t, a, "ps", "-o", "pid,args")
	if !regexp.MustCompile(`(?m)^ *1 +/pause$`).MatchString(out) || !strings.Contains(out, "sleep 1001") {
		t.Errorf("ps in a: %q, want /pause as PID 1 and b's sleep 1001", out)
	}
	// The sandbox's spec joined by path too.
	for _, ns := range n.inspectCtr(t, b).Info.RuntimeSpec.Linux.Namespaces {
		if ns.Type == "pid" && ns.Path != fmt.Sprintf("/proc/%d/ns/pid", p.pid) {
			t.Errorf("runtime spec of b: pid namespace path %q, want the pause's", ns.Path)
		}
	}
	p.remove(t, a, b)
}

// testResources: CPU and memory limits in the container's cgroup, under
// the pod's cgroup parent, seen from the host and from inside; crictl
// update changes them; the memory limit OOM-kills, and the kubelet is told.
func testResources(t *testing.T, n *node) {
	p := n.runPod(t, "res", podOpts{})
	id, pid := p.start(t, "limited", []string{"sh", "-c", loop}, func(cfg map[string]any) {
		cfg["linux"].(map[string]any)["resources"] = map[string]any{
			"cpu_period": 100000, "cpu_quota": 50000, "cpu_shares": 512,
			"memory_limit_in_bytes": 64 << 20, "oom_score_adj": 500,
		}
	})
	cg := n.inspectCtr(t, id).Info.RuntimeSpec.Linux.CgroupsPath
	if cg != p.cgroupParent+"/"+id {
		t.Fatalf("cgroups path %q, want %s/<id>", cg, p.cgroupParent)
	}
	host := func(ctl, file string) string {
		b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", ctl, cg, file))
		if err != nil {
			t.Errorf("host: %v", err)
		}
		return strings.TrimSpace(string(b))
	}
	wantHost := map[[2]string]string{
		{"cpu", "cpu.cfs_quota_us"}: "50000", {"cpu", "cpu.cfs_period_us"}: "100000", {"cpu", "cpu.shares"}: "512",
		{"memory", "memory.limit_in_bytes"}: "67108864",
	}
	for k, want := range wantHost {
		if got := host(k[0], k[1]); got != want {
			t.Errorf("host: %s/%s of the container: %q, want %s", k[0], k[1], got, want)
		}
	}
	if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid)); !regexp.MustCompile(`(?m)^\d+:memory:` + regexp.QuoteMeta(cg) + `$`).Match(b) {
		t.Errorf("/proc/%d/cgroup: %q, want memory:%s", pid, b, cg)
	}
	if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/oom_score_adj", pid)); strings.TrimSpace(string(b)) != "500" {
		t.Errorf("oom_score_adj of the container: %q, want 500", b)
	}
	inside := n.execSync(t, id, "cat", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us",
		"/sys/fs/cgroup/cpu/cpu.shares", "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/proc/1/oom_score_adj")
	if inside != "50000\n100000\n512\n67108864\n500\n" {
		t.Errorf("inside: quota, period, shares, memory limit, oom_score_adj %q; want 50000 100000 512 67108864 500", inside)
	}
	if ws, _ := n.stats(t, id); ws == 0 || ws > 64<<20 {
		t.Errorf("crictl stats: working set %d, want above 0 and within the 64 MiB limit", ws)
	}

	// In-place resize, as the kubelet does it: UpdateContainerResources.
	if r := n.crictl(cmdOpts{}, "update", "--memory", strconv.Itoa(128<<20), "--cpu-quota", "25000", id); r.Code != 0 {
		t.Errorf("crictl update: %v", r)
	}
	if q, m := host("cpu", "cpu.cfs_quota_us"), host("memory", "memory.limit_in_bytes"); q != "25000" || m != "134217728" {
		t.Errorf("host after crictl update: quota %s, memory limit %s; want 25000 and 134217728", q, m)
	}

	// A process past the limit is OOM-killed: the container's status says so.
	// The shim watches for OOM kills once start returns: the hog waits a
	// moment before it grows.
	hog := p.create(t, "hog", []string{"sh", "-c", "sleep 1; exec tail -n 1 /dev/zero"}, func(cfg map[string]any) {
		cfg["linux"].(map[string]any)["resources"] = map[string]any{"memory_limit_in_bytes": 32 << 20}
	})
	if r := n.crictl(cmdOpts{}, "start", hog); r.Code != 0 {
		t.Fatalf("crictl start hog: %v", r)
	}
	if st := n.waitExited(t, hog); st.Status.ExitCode != 137 || st.Status.Reason != "OOMKilled" {
		t.Errorf("memory hog under 32 MiB: exit code %d, reason %q; want 137 and OOMKilled", st.Status.ExitCode, st.Status.Reason)
	}
	p.remove(t, id, hog)
}

// testExitCodes: how a container ended, as crictl inspect reports it.
func testExitCodes(t *testing.T, n *node) {
	p := n.runPod(t, "exits", podOpts{})
	for _, c := range []struct {
		name    string
		command []string
		// then ends the container, if it does not end by itself.
		then   func(id string)
		code   int
		reason string
	}{
		{name: "exit42", command: []string{"sh", "-c", "echo bye; exit 42"}, code: 42, reason: "Error"},
		{name: "exit0", command: []string{"true"}, code: 0, reason: "Completed"},
		{name: "killed", command: []string{"sleep", "1000"}, then: func(id string) {
			// From the host: PID 1 of a namespace ignores SIGKILL from inside it.
			if err := unix.Kill(n.inspectCtr(t, id).Info.Pid, unix.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}, code: 137, reason: "Error"},
		{name: "ignores-term", command: []string{"sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"}, then: func(id string) {
			// The grace period runs out: SIGKILL.
			start := time.Now()
			if r := n.crictl(cmdOpts{}, "stop", "--timeout", "1", id); r.Code != 0 {
				t.Errorf("crictl stop --timeout 1: %v", r)
			}
			if d := time.Since(start); d < time.Second {
				t.Errorf("crictl stop --timeout 1 of a container ignoring SIGTERM returned after %v, before the grace period", d)
			}
		}, code: 137, reason: "Error"},
	} {
		id := p.create(t, c.name, c.command, nil)
		if r := n.crictl(cmdOpts{}, "start", id); r.Code != 0 {
			t.Fatalf("crictl start %s: %v", c.name, r)
		}
		if c.then != nil {
			c.then(id)
		}
		st := n.waitExited(t, id)
		if st.Status.ExitCode != c.code || st.Status.Reason != c.reason {
			t.Errorf("%s: exit code %d, reason %q; want %d and %s", c.name, st.Status.ExitCode, st.Status.Reason, c.code, c.reason)
		}
		if r := n.crictl(cmdOpts{}, "rm", id); r.Code != 0 {
			t.Errorf("crictl rm %s: %v", c.name, r)
		}
	}
	// A command that cannot be run: start fails with the runtime's reason.
	id := p.create(t, "missing", []string{"/no/such/binary"}, nil)
	r := n.crictl(cmdOpts{}, "start", id)
	if r.Code == 0 || !strings.Contains(r.Stderr, "no such file or directory") {
		t.Errorf("crictl start of a missing binary: want a failure naming ENOENT; got %v", r)
	}
	st := n.inspectCtr(t, id)
	if st.Status.State != "CONTAINER_EXITED" || st.Status.Reason != "StartError" || !strings.Contains(st.Status.Message, "no such file or directory") {
		t.Errorf("after a failed start: state %q, reason %q, message %q; want CONTAINER_EXITED, StartError and ENOENT",
			st.Status.State, st.Status.Reason, st.Status.Message)
	}
	p.remove(t, id)
}

// testSecurityContext: the kubelet's securityContext fields, through
// containerd's spec, enforced by the runtime.
func testSecurityContext(t *testing.T, n *node) {
	p := n.runPod(t, "secctx", podOpts{})
	id, _ := p.start(t, "restricted", []string{"sh", "-c", loop}, func(cfg map[string]any) {
		sc := cfg["linux"].(map[string]any)["security_context"].(map[string]any)
		sc["run_as_user"] = map[string]any{"value": 1000}
		sc["run_as_group"] = map[string]any{"value": 1000}
		sc["readonly_rootfs"] = true
		sc["no_new_privs"] = true
		sc["capabilities"] = map[string]any{"drop_capabilities": []string{"ALL"}}
		sc["seccomp"] = map[string]any{"profile_type": 0} // RuntimeDefault
	})
	out := n.execSync(t, id, "sh", "-c", "id; grep -E '^(NoNewPrivs|Seccomp|CapEff):' /proc/1/status; touch /x 2>&1; stat -c %t:%T /proc/keys; grep -c ' /proc/sys ro,' /proc/self/mountinfo")
	want := "uid=1000 gid=1000 groups=1000\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\n" +
		"touch: /x: Read-only file system\n1:3\n1\n"
	if out != want {
		t.Errorf("inside a restricted container:\n%s\nwant:\n%s", out, want)
	}
	p.remove(t, id)
}

// testHostNetwork: a pod on the node's network (hostNetwork: true) shares
// the node's network and UTS namespaces; the kubelet sends no hostname.
func testHostNetwork(t *testing.T, n *node) {
	p := n.runPod(t, "hostnet", podOpts{hostNetwork: true})
	id, pid := p.start(t, "c", []string{"sh", "-c", loop}, nil)
	var node, ctr unix.Stat_t
	if err := unix.Stat(n.netns, &node); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &ctr); err != nil {
		t.Fatal(err)
	}
	if node.Ino != ctr.Ino || nsLink(t, p.pid, "net") != nsLink(t, pid, "net") {
		t.Errorf("network namespace: node %d, container %d; want the node's", node.Ino, ctr.Ino)
	}
	if self := nsLink(t, os.Getpid(), "uts"); nsLink(t, pid, "uts") != self {
		t.Errorf("UTS namespace of a host-network container: %s, want the host's %s", nsLink(t, pid, "uts"), self)
	}
	hostname, _ := os.Hostname()
	if out := n.execSync(t, id, "sh", "-c", "hostname; cat /etc/hostname"); out != hostname+"\n"+hostname+"\n" {
		t.Errorf("hostname and /etc/hostname %q, want the host's, %s", out, hostname)
	}
	if nsLink(t, pid, "ipc") != nsLink(t, p.pid, "ipc") {
		t.Errorf("IPC namespace: want the pod's")
	}
	p.remove(t, id)
}
