package tooling

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The Debian engine and its own client (/usr/local/bin/docker, when there
// is one, may be another version).
const (
	dockerd     = "/usr/sbin/dockerd"
	dockerCLI   = "/usr/bin/docker"
	dockerImage = "tooling:latest"
)

// dockerEnv is a private Docker engine: its own data root, exec root,
// socket, pid file and daemon.json, on a private containerd, with the
// cgroupfs driver, no bridge, and no iptables or sysctl changes.
type dockerEnv struct {
	dir, sock string
	execRoot  string
	cliConfig string
	// rtName is the name each runtime under test is registered under.
	rtName map[string]string
}

func (d *dockerEnv) argv(args ...string) []string {
	return append([]string{dockerCLI, "-H", "unix://" + d.sock}, args...)
}

func (d *dockerEnv) docker(o cmdOpts, args ...string) result {
	o.Env = append(o.Env, "DOCKER_CONFIG="+d.cliConfig)
	a := d.argv(args...)
	return run(o, a[0], a[1:]...)
}

// hostFacts are the host-wide things a Docker engine could change.
type hostFacts struct {
	ifaces     map[string]bool // Docker's: docker0 and br-*
	keyJSON    bool            // /etc/docker/key.json
	runDocker  bool            // /run/docker
	varLib     bool            // /var/lib/docker
	hadCgroup  bool            // a "docker" cgroup in some hierarchy
	cgroupSubs map[string]bool
}

func readHostFacts() hostFacts {
	h := hostFacts{ifaces: map[string]bool{}}
	// Only Docker's own names: other tests on the machine may add veths
	// (CNI's are named like Docker's) while this one runs.
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		if strings.HasPrefix(i.Name, "docker") || strings.HasPrefix(i.Name, "br-") {
			h.ifaces[i.Name] = true
		}
	}
	exists := func(p string) bool { _, err := os.Lstat(p); return err == nil }
	h.keyJSON = exists("/etc/docker/key.json")
	h.runDocker = exists("/run/docker")
	h.varLib = exists("/var/lib/docker")
	h.cgroupSubs = map[string]bool{}
	for _, top := range cgroupDirs("docker") {
		h.hadCgroup = true
		ents, _ := os.ReadDir(top)
		for _, e := range ents {
			if e.IsDir() {
				h.cgroupSubs[filepath.Join(top, e.Name())] = true
			}
		}
	}
	return h
}

// startDocker starts containerd and dockerd under workDir/docker. Its
// cleanup removes every container, stops the engine, removes its data, and
// checks that nothing is left: processes, mounts, cgroups, interfaces, files
// outside its directories.
func startDocker(t *testing.T) *dockerEnv {
	dir := filepath.Join(workDir, "docker")
	d := &dockerEnv{dir: dir, sock: filepath.Join(dir, "docker.sock"), execRoot: filepath.Join(dir, "exec"),
		cliConfig: filepath.Join(dir, "client"), rtName: map[string]string{}}
	for _, p := range []string{dir, d.cliConfig} {
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	before := readHostFacts()
	c := startContainerdIn(t, filepath.Join(dir, "ctrd"))

	// tabox is configured as the README says, in daemon.json; runc (its name
	// is taken by the built-in default) with --add-runtime.
	daemonJSON := map[string]any{
		// Without it dockerd 20.10 writes /etc/docker/key.json.
		"deprecated-key-path": filepath.Join(dir, "key.json"),
	}
	var flags []string
	for _, r := range runtimes {
		w, _ := wrapRuntime(t, r, filepath.Join(dir, "rt-"+r.name))
		switch r.name {
		case "tabox":
			d.rtName[r.name] = "tabox"
			daemonJSON["runtimes"] = map[string]any{"tabox": map[string]any{"path": w}}
		default:
			d.rtName[r.name] = "tl" + r.name
			flags = append(flags, "--add-runtime", "tl"+r.name+"="+w)
		}
	}
	cfg, _ := json.MarshalIndent(daemonJSON, "", "  ")
	cfgPath := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	flags = append(flags,
		"--config-file", cfgPath,
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", d.execRoot,
		"--pidfile", filepath.Join(dir, "docker.pid"),
		"-H", "unix://"+d.sock,
		"--containerd", c.sock,
		"--storage-driver", "vfs",
		"--exec-opt", "native.cgroupdriver=cgroupfs",
		"--bridge", "none",
		// No iptables rules, and net.ipv4.ip_forward left alone.
		"--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false",
		"--userland-proxy=false",
		// Containers otherwise inherit dockerd's limits. The usual nofile
		// (1048576, from docker.service) would need CAP_SYS_RESOURCE here.
		"--default-ulimit", "nofile=1024:1024",
	)
	logPath := filepath.Join(dir, "dockerd.log")
	stop, err := startBg(cmdOpts{Dir: dir}, logPath, dockerd, flags...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if ids := strings.Fields(d.docker(cmdOpts{}, "ps", "-aq").Stdout); len(ids) > 0 {
			t.Errorf("containers left: %v", ids)
			d.docker(cmdOpts{}, append([]string{"rm", "-f"}, ids...)...)
		}
		d.docker(cmdOpts{}, "image", "rm", "-f", dockerImage)
		if err := stop(unix.SIGTERM); err != nil {
			t.Errorf("stopping dockerd: %v", err)
		}
		checkDockerLeftovers(t, d, before)
		if t.Failed() {
			t.Logf("dockerd log (tail):\n%s", lastLines(logPath, 40))
		}
	})
	var v result
	if !poll(30*time.Second, func() bool {
		v = d.docker(cmdOpts{}, "version", "--format", "{{.Server.Version}}")
		return v.Code == 0
	}) {
		t.Fatalf("dockerd did not come up: %v\n%s", v, lastLines(logPath, 30))
	}
	return d
}

// checkDockerLeftovers runs once dockerd has stopped (containerd is
// stopped, and checked, after it).
func checkDockerLeftovers(t *testing.T, d *dockerEnv, before hostFacts) {
	var left []string
	poll(10*time.Second, func() bool {
		// containerd is still up (its own cleanup checks it and its shims).
		left = procsMatching(d.sock, d.execRoot, filepath.Join(d.dir, "data"))
		if !before.hadCgroup {
			// Processes still in a container's cgroup.
			left = append(left, procsMatching(":/docker/")...)
		}
		return len(left) == 0
	})
	if len(left) > 0 {
		t.Errorf("processes left after dockerd stopped:\n%s", strings.Join(left, "\n"))
	}
	// dockerd keeps the network namespace of its host-network sandbox
	// bound at <exec-root>/netns/default when it stops, whatever the runtime.
	unix.Unmount(filepath.Join(d.execRoot, "netns", "default"), unix.MNT_DETACH)
	if m := mountsUnder(d.dir); len(m) > 0 {
		t.Errorf("mounts left under %s: %v", d.dir, m)
		for i := len(m) - 1; i >= 0; i-- {
			unix.Unmount(m[i], unix.MNT_DETACH)
		}
	}
	if err := os.RemoveAll(filepath.Join(d.dir, "data")); err != nil {
		t.Errorf("removing the data root: %v", err)
	}
	after := readHostFacts()
	for sub := range after.cgroupSubs {
		if !before.cgroupSubs[sub] {
			t.Errorf("container cgroup left: %s", sub)
		}
	}
	if !before.hadCgroup {
		if l := removeCgroupTree("docker"); len(l) > 0 {
			t.Errorf("cgroups under docker/ not removable: %v", l)
		}
	}
	for i := range after.ifaces {
		if !before.ifaces[i] {
			t.Errorf("network interface left: %s", i)
		}
	}
	if !before.keyJSON && after.keyJSON {
		t.Errorf("dockerd wrote /etc/docker/key.json")
		os.Remove("/etc/docker/key.json")
	}
	if !before.varLib && after.varLib {
		t.Errorf("dockerd created /var/lib/docker")
	}
	if !before.runDocker {
		// dockerd creates /run/docker/plugins (the plugin socket directory)
		// whatever its exec root; remove it when it is ours and empty.
		if m := mountsUnder("/run/docker/"); len(m) > 0 {
			t.Errorf("mounts left under /run/docker: %v", m)
		}
		os.Remove("/run/docker/plugins")
		if err := os.Remove("/run/docker"); err != nil && !os.IsNotExist(err) {
			t.Errorf("/run/docker left: %v", err)
		}
	}
}

// missingCaps names the capabilities of the kernel that this process's
// bounding set lacks ("" when it has them all).
func missingCaps() string {
	b, _ := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	last, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return "(cap_last_cap unreadable)"
	}
	var bnd uint64
	st, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(l, "CapBnd:\t"); ok {
			bnd, _ = strconv.ParseUint(v, 16, 64)
		}
	}
	var out []string
	for c := 0; c <= last; c++ {
		if bnd&(1<<c) == 0 {
			out = append(out, fmt.Sprintf("capability %d", c))
		}
	}
	return strings.Join(out, ", ")
}

func TestDocker(t *testing.T) {
	need(t, dockerd, dockerCLI, "containerd", "containerd-shim-runc-v2", "script")
	start := time.Now()
	d := startDocker(t)
	res := d.docker(cmdOpts{Timeout: 120 * time.Second}, "import", "--change", "ENV PATH=/bin", "--change", `CMD ["sh"]`, layerTar, dockerImage)
	if res.Code != 0 {
		t.Fatalf("docker import: %v", res)
	}
	t.Logf("dockerd up and image imported in %v", time.Since(start).Round(time.Millisecond))
	for _, r := range runtimes {
		t.Run(r.name, func(t *testing.T) {
			s := time.Now()
			dockerScenarios(t, d, r)
			t.Logf("%s scenarios: %v", r.name, time.Since(s).Round(time.Millisecond))
		})
	}
}

func dockerScenarios(t *testing.T, d *dockerEnv, r rt) {
	rtName := d.rtName[r.name]
	callLog := filepath.Join(d.dir, "rt-"+r.name, "calls.log")
	// dockerd 20.10 has the shim run every runtime with the same state
	// root, --root <exec-root>/runtime-runc/moby.
	stateRoot := filepath.Join(d.execRoot, "runtime-runc", "moby")
	dk := func(o cmdOpts, args ...string) result { return d.docker(o, args...) }
	runArgs := func(extra ...string) []string {
		return append([]string{"run", "--runtime", rtName}, extra...)
	}
	var names []string
	name := func(n string) string {
		n = "tl" + runID + "-" + r.name + "-" + n
		names = append(names, n)
		return n
	}
	t.Cleanup(func() {
		for _, n := range names {
			if res := dk(cmdOpts{}, "inspect", "-f", "{{.Id}}", n); res.Code == 0 {
				t.Errorf("container %s left", n)
				dk(cmdOpts{}, "rm", "-f", n)
			}
		}
		if ents, _ := os.ReadDir(stateRoot); len(ents) > 0 {
			var l []string
			for _, e := range ents {
				l = append(l, e.Name())
			}
			t.Errorf("%s state left in %s: %v", r.name, stateRoot, l)
		}
		if t.Failed() {
			t.Logf("%s invocations (tail):\n%s", r.name, lastLines(callLog, 30))
		}
	})
	check := func(t *testing.T, what string, res result, code int, stdout string) {
		t.Helper()
		if res.Code != code || res.Stdout != stdout {
			t.Errorf("%s: want exit %d and stdout %q; got %v", what, code, stdout, res)
		}
	}
	inspect := func(n, format string) string {
		return strings.TrimSpace(dk(cmdOpts{}, "inspect", "-f", format, n).Stdout)
	}

	// creates counts the runtime's create invocations so far.
	creates := func() int {
		b, _ := os.ReadFile(callLog)
		return strings.Count(string(b), " create --bundle ")
	}

	t.Run("run-rm-echo-exit-code", func(t *testing.T) {
		before := creates()
		res := dk(cmdOpts{}, runArgs("--rm", "--network", "none", dockerImage, "sh", "-c", "echo hello; echo oops >&2; exit 3")...)
		check(t, "docker run --rm", res, 3, "hello\n")
		if n := creates(); n != before+1 {
			t.Errorf("docker run --runtime %s: %d create invocations of %s, want 1", rtName, n-before, r.name)
		}
		if !strings.Contains(res.Stderr, "oops") {
			t.Errorf("container's stderr lost: %v", res)
		}
		res = dk(cmdOpts{}, runArgs("--rm", "--network", "none", dockerImage, "true")...)
		check(t, "docker run --rm true", res, 0, "")
	})

	t.Run("env-workdir-user-hostname", func(t *testing.T) {
		res := dk(cmdOpts{}, runArgs("--rm", "--network", "none", "-e", "FOO=bar baz", "-w", "/tmp", "--user", "1000:1000",
			"--group-add", "10", "--hostname", "tlhost", dockerImage,
			"sh", "-c", `echo "$FOO"; pwd; id -u; id -G; hostname; cat /etc/hostname`)...)
		check(t, "docker run -e -w --user --group-add --hostname", res, 0, "bar baz\n/tmp\n1000\n1000 10\ntlhost\ntlhost\n")
	})

	t.Run("ulimits", func(t *testing.T) {
		res := dk(cmdOpts{}, runArgs("--rm", "--network", "none", dockerImage, "sh", "-c", "ulimit -n; ulimit -Hn")...)
		check(t, "docker run (--default-ulimit nofile=1024:1024)", res, 0, "1024\n1024\n")
		res = dk(cmdOpts{}, runArgs("--rm", "--network", "none", "--ulimit", "nofile=256:512", dockerImage, "sh", "-c", "ulimit -n; ulimit -Hn")...)
		check(t, "docker run --ulimit nofile=256:512", res, 0, "256\n512\n")
	})

	t.Run("stdin", func(t *testing.T) {
		res := dk(cmdOpts{Stdin: strings.NewReader("abc\ndef\n")}, runArgs("--rm", "-i", "--network", "none", dockerImage, "sh", "-c", "cat; echo done")...)
		check(t, "docker run -i < stdin", res, 0, "abc\ndef\ndone\n")
	})

	t.Run("read-only-tmpfs", func(t *testing.T) {
		res := dk(cmdOpts{}, runArgs("--rm", "--read-only", "--tmpfs", "/tmp", "--network", "none", dockerImage,
			"sh", "-c", "touch /x 2>&1; echo rc=$?; touch /tmp/y && echo tmp-ok")...)
		if res.Code != 0 || !strings.Contains(res.Stdout, "Read-only file system") || !strings.Contains(res.Stdout, "rc=1") || !strings.Contains(res.Stdout, "tmp-ok") {
			t.Errorf("docker run --read-only --tmpfs /tmp: want / read-only, /tmp writable; got %v", res)
		}
	})

	t.Run("memory-pids-cpu-limits", func(t *testing.T) {
		res := dk(cmdOpts{}, runArgs("--rm", "--network", "none", "--memory", "64m", "--pids-limit", "32", "--cpus", "0.5", "--cpu-shares", "512",
			"--cpuset-cpus", "0", dockerImage, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/pids/pids.max",
			"/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.shares", "/sys/fs/cgroup/cpuset/cpuset.cpus")...)
		check(t, "docker run --memory 64m --pids-limit 32 --cpus 0.5 --cpu-shares 512 --cpuset-cpus 0", res, 0, "67108864\n32\n50000\n512\n0\n")
	})

	t.Run("capabilities", func(t *testing.T) {
		// Docker's default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID
		// SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP.
		res := dk(cmdOpts{}, runArgs("--rm", "--network", "none", dockerImage, "grep", "-E", "^Cap(Eff|Bnd):", "/proc/self/status")...)
		check(t, "docker run (default capabilities)", res, 0, "CapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\n")
		res = dk(cmdOpts{}, runArgs("--rm", "--network", "none", "--cap-drop", "ALL", dockerImage, "grep", "-E", "^Cap(Eff|Bnd):", "/proc/self/status")...)
		check(t, "docker run --cap-drop ALL", res, 0, "CapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n")
	})

	t.Run("seccomp", func(t *testing.T) {
		res := dk(cmdOpts{}, runArgs("--rm", "--network", "none", dockerImage, "grep", "^Seccomp:", "/proc/self/status")...)
		check(t, "docker run (default seccomp profile)", res, 0, "Seccomp:\t2\n")
		res = dk(cmdOpts{}, runArgs("--rm", "--network", "none", "--security-opt", "seccomp=unconfined", dockerImage, "grep", "^Seccomp:", "/proc/self/status")...)
		check(t, "docker run --security-opt seccomp=unconfined", res, 0, "Seccomp:\t0\n")
	})

	t.Run("no-new-privileges-oom-score-adj", func(t *testing.T) {
		res := dk(cmdOpts{}, runArgs("--rm", "--network", "none", "--security-opt", "no-new-privileges", "--oom-score-adj", "500", dockerImage,
			"sh", "-c", "grep ^NoNewPrivs: /proc/self/status; cat /proc/self/oom_score_adj")...)
		check(t, "docker run --security-opt no-new-privileges --oom-score-adj 500", res, 0, "NoNewPrivs:\t1\n500\n")
	})

	t.Run("cap-add-device", func(t *testing.T) {
		// SYS_ADMIN added: mount works under the default seccomp profile
		// (which allows it with that capability); without it, it does not.
		res := dk(cmdOpts{}, runArgs("--rm", "--network", "none", "--cap-add", "SYS_ADMIN", dockerImage,
			"sh", "-c", "mount -t tmpfs tl /tmp && echo mounted; grep ^Seccomp: /proc/self/status")...)
		check(t, "docker run --cap-add SYS_ADMIN", res, 0, "mounted\nSeccomp:\t2\n")
		res = dk(cmdOpts{}, runArgs("--rm", "--network", "none", dockerImage, "sh", "-c", "mount -t tmpfs tl /tmp 2>&1 || echo refused")...)
		if res.Code != 0 || !strings.Contains(res.Stdout, "permission denied") || !strings.HasSuffix(res.Stdout, "refused\n") {
			t.Errorf("docker run (mount without SYS_ADMIN): want EPERM; got %v", res)
		}
		if _, err := os.Stat("/dev/fuse"); err != nil {
			t.Skipf("no /dev/fuse on the host for --device: %v", err)
		}
		// --device makes the node and allows it in the device cgroup; a node
		// made by hand (mknod is allowed) cannot be opened.
		res = dk(cmdOpts{}, runArgs("--rm", "--network", "none", "--device", "/dev/fuse:/dev/tlfuse", dockerImage,
			"sh", "-c", "exec 3<>/dev/tlfuse && echo opened")...)
		check(t, "docker run --device /dev/fuse:/dev/tlfuse", res, 0, "opened\n")
		res = dk(cmdOpts{}, runArgs("--rm", "--network", "none", dockerImage,
			"sh", "-c", "mknod /tmp/f c 10 229 && { exec 3<>/tmp/f; } 2>&1")...)
		if res.Code == 0 || !strings.Contains(res.Stdout, "Operation not permitted") {
			t.Errorf("docker run (open of a device not allowed): want EPERM; got %v", res)
		}
	})

	t.Run("privileged", func(t *testing.T) {
		// --privileged asks for every capability the kernel has: the
		// runtime can give only those of its own bounding set.
		if missing := missingCaps(); missing != "" {
			t.Skipf("the engine's bounding set lacks %s, which --privileged asks for (both runtimes refuse)", missing)
		}
		res := dk(cmdOpts{}, runArgs("--rm", "--network", "none", "--privileged", dockerImage,
			"sh", "-c", "mount -t tmpfs tl /tmp && echo mounted; grep ^Seccomp: /proc/self/status; test -c /dev/kmsg && echo host-devices")...)
		check(t, "docker run --privileged", res, 0, "mounted\nSeccomp:\t0\nhost-devices\n")
	})

	t.Run("volume", func(t *testing.T) {
		host := filepath.Join(d.dir, "vol-"+r.name)
		os.MkdirAll(host, 0o755)
		os.WriteFile(filepath.Join(host, "in"), []byte("from-host\n"), 0o644)
		res := dk(cmdOpts{}, runArgs("--rm", "--network", "none", "-v", host+":/data", "-v", host+":/rodata:ro", dockerImage,
			"sh", "-c", "cat /data/in; echo from-ctr > /data/out; touch /rodata/z 2>&1; echo rc=$?")...)
		if res.Code != 0 || !strings.HasPrefix(res.Stdout, "from-host\n") || !strings.Contains(res.Stdout, "Read-only file system") || !strings.Contains(res.Stdout, "rc=1") {
			t.Errorf("docker run -v: %v", res)
		}
		if b, err := os.ReadFile(filepath.Join(host, "out")); err != nil || string(b) != "from-ctr\n" {
			t.Errorf("file written through the bind mount: %q, %v", b, err)
		}
	})

	t.Run("network", func(t *testing.T) {
		res := dk(cmdOpts{}, runArgs("--rm", "--network", "none", dockerImage, "ls", "/sys/class/net")...)
		check(t, "docker run --network none", res, 0, "lo\n")
		res = dk(cmdOpts{}, runArgs("--rm", "--network", "none", "--sysctl", "net.ipv4.ip_unprivileged_port_start=0", dockerImage,
			"cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start")...)
		check(t, "docker run --sysctl net.ipv4.ip_unprivileged_port_start=0", res, 0, "0\n")
		// No bridge (--bridge none): the default network is loopback only too.
		res = dk(cmdOpts{}, runArgs("--rm", dockerImage, "ls", "/sys/class/net")...)
		check(t, "docker run (default network, --bridge none)", res, 0, "lo\n")
		var host []string
		ents, _ := os.ReadDir("/sys/class/net")
		for _, e := range ents {
			host = append(host, e.Name())
		}
		res = dk(cmdOpts{}, runArgs("--rm", "--network", "host", dockerImage, "ls", "-1", "/sys/class/net")...)
		check(t, "docker run --network host", res, 0, strings.Join(host, "\n")+"\n")
	})

	t.Run("init", func(t *testing.T) {
		// docker-init (tini) bind-mounted at /sbin/docker-init, which the
		// image lacks, runs as PID 1.
		res := dk(cmdOpts{}, runArgs("--rm", "--network", "none", "--init", dockerImage, "cat", "/proc/1/cmdline")...)
		check(t, "docker run --init", res, 0, "/sbin/docker-init\x00--\x00cat\x00/proc/1/cmdline\x00")
	})

	t.Run("tty", func(t *testing.T) {
		argv := d.argv(runArgs("--rm", "-t", "--network", "none", dockerImage, "sh", "-c", ttyScript)...)
		res := inPty(cmdOpts{Env: []string{"DOCKER_CONFIG=" + d.cliConfig}}, argv...)
		out := strings.ReplaceAll(res.Stdout, "\r", "")
		if res.Code != 5 || !strings.Contains(out, "/dev/pts/0\n") || !strings.Contains(out, "size 24 80\n") {
			t.Errorf("docker run -t: want /dev/pts/0, \"size 24 80\" and exit 5; got %v", res)
		}
	})

	t.Run("detached-exec-top-stats-pause-update-stop-rm", func(t *testing.T) {
		n := name("det")
		res := dk(cmdOpts{}, runArgs("-d", "--name", n, "--network", "none", "--ipc", "shareable", "--memory", "64m", "--pids-limit", "32", dockerImage, "sh", "-c",
			`trap 'echo got-term; exit 7' TERM; echo started; while true; do sleep 0.1; done`)...)
		if res.Code != 0 {
			t.Fatalf("docker run -d: %v", res)
		}
		defer dk(cmdOpts{}, "rm", "-f", n)
		id := strings.TrimSpace(res.Stdout)
		if s := inspect(n, "{{.State.Status}}"); s != "running" {
			t.Fatalf("after run -d: status %q", s)
		}
		poll(5*time.Second, func() bool { return strings.Contains(dk(cmdOpts{}, "logs", n).Stdout, "started") })

		res = dk(cmdOpts{}, "exec", "-e", "E=1", "-w", "/tmp", n, "sh", "-c", `echo "in-exec $E $(pwd)"; exit 4`)
		check(t, "docker exec", res, 4, "in-exec 1 /tmp\n")
		res = dk(cmdOpts{}, "exec", "--user", "1000:1000", n, "id")
		check(t, "docker exec --user 1000:1000", res, 0, "uid=1000(user) gid=1000(user) groups=1000(user)\n")
		res = dk(cmdOpts{Stdin: strings.NewReader("xyz\n")}, "exec", "-i", n, "sh", "-c", "cat; echo eof")
		check(t, "docker exec -i < stdin", res, 0, "xyz\neof\n")
		res = inPty(cmdOpts{Env: []string{"DOCKER_CONFIG=" + d.cliConfig}}, d.argv("exec", "-t", n, "sh", "-c", ttyScript)...)
		out := strings.ReplaceAll(res.Stdout, "\r", "")
		if res.Code != 5 || !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "size 24 80\n") {
			t.Errorf("docker exec -t: want a /dev/pts/ terminal, \"size 24 80\" and exit 5; got %v", res)
		}

		// A second container in the first one's namespaces (a pod's
		// sidecar): the runtime joins them by path.
		res = dk(cmdOpts{}, runArgs("--rm", "--pid", "container:"+n, "--network", "container:"+n, "--ipc", "container:"+n, dockerImage, "ps")...)
		if res.Code != 0 || !strings.Contains(res.Stdout, "while true") {
			t.Errorf("docker run --pid --network --ipc container:%s: want its processes in ps; got %v", n, res)
		}

		res = dk(cmdOpts{}, "top", n)
		if res.Code != 0 || !strings.Contains(res.Stdout, "while true") {
			t.Errorf("docker top: want the init's command line; got %v", res)
		}
		res = dk(cmdOpts{}, "stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}} {{.MemUsage}}", n)
		if f := strings.Fields(res.Stdout); res.Code != 0 || len(f) < 2 || f[0] != n || f[1] == "0" || !strings.Contains(res.Stdout, "/ 64MiB") {
			t.Errorf("docker stats --no-stream: want the name, a pid count and the 64MiB limit; got %v", res)
		}
		if b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/memory/docker", id, "memory.limit_in_bytes")); err != nil || strings.TrimSpace(string(b)) != "67108864" {
			t.Errorf("memory.limit_in_bytes of /docker/%s on the host: %q, %v", id, b, err)
		}

		if res = dk(cmdOpts{}, "pause", n); res.Code != 0 {
			t.Errorf("docker pause: %v", res)
		}
		if s := inspect(n, "{{.State.Status}}"); s != "paused" {
			t.Errorf("after pause: status %q", s)
		}
		if b, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup/freezer/docker", id, "freezer.state")); strings.TrimSpace(string(b)) != "FROZEN" {
			t.Errorf("freezer.state after pause: %q", b)
		}
		if res = dk(cmdOpts{}, "unpause", n); res.Code != 0 {
			t.Errorf("docker unpause: %v", res)
		}
		if s := inspect(n, "{{.State.Status}}"); s != "running" {
			t.Errorf("after unpause: status %q", s)
		}

		// docker update runs the runtime's update with the new resources.
		if res = dk(cmdOpts{}, "update", "--memory", "96m", "--memory-swap", "192m", "--pids-limit", "20", n); res.Code != 0 {
			t.Errorf("docker update: %v", res)
		}
		res = dk(cmdOpts{}, "exec", n, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/pids/pids.max")
		check(t, "limits after docker update --memory 96m --pids-limit 20", res, 0, "100663296\n20\n")

		start := time.Now()
		if res = dk(cmdOpts{}, "stop", "-t", "10", n); res.Code != 0 {
			t.Errorf("docker stop: %v", res)
		}
		if d := time.Since(start); d > 8*time.Second {
			t.Errorf("docker stop took %v: SIGTERM not delivered to the trapping init", d)
		}
		if code := inspect(n, "{{.State.ExitCode}}"); code != "7" {
			t.Errorf("exit code after stop: %q, want 7 (the TERM trap)", code)
		}
		if logs := dk(cmdOpts{}, "logs", n); logs.Stdout != "started\ngot-term\n" {
			t.Errorf("docker logs: want started and got-term; got %v", logs)
		}
		if res = dk(cmdOpts{}, "rm", n); res.Code != 0 {
			t.Errorf("docker rm: %v", res)
		}
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/memory/docker", id)); err == nil {
			t.Errorf("cgroup /docker/%s left after rm", id)
		}
	})

	t.Run("kill-wait-rm-force", func(t *testing.T) {
		n := name("kill")
		if res := dk(cmdOpts{}, runArgs("-d", "--name", n, "--network", "none", dockerImage, "sleep", "1000")...); res.Code != 0 {
			t.Fatalf("docker run -d: %v", res)
		}
		if res := dk(cmdOpts{}, "kill", "-s", "KILL", n); res.Code != 0 {
			t.Errorf("docker kill -s KILL: %v", res)
		}
		if res := dk(cmdOpts{}, "wait", n); res.Code != 0 || strings.TrimSpace(res.Stdout) != "137" {
			t.Errorf("docker wait after SIGKILL: want 137; got %v", res)
		}
		n2 := name("rmf")
		if res := dk(cmdOpts{}, runArgs("-d", "--name", n2, "--network", "none", dockerImage, "sh", "-c", "sleep 1000 & sleep 1000")...); res.Code != 0 {
			t.Fatalf("docker run -d: %v", res)
		}
		for _, c := range []string{n, n2} {
			if res := dk(cmdOpts{}, "rm", "-f", c); res.Code != 0 {
				t.Errorf("docker rm -f %s: %v", c, res)
			}
		}
	})

	t.Run("restart-policy", func(t *testing.T) {
		// dockerd deletes and re-creates the container under the same ID.
		n := name("restart")
		if res := dk(cmdOpts{}, runArgs("-d", "--name", n, "--network", "none", "--restart", "on-failure:2", dockerImage, "sh", "-c", "echo run; exit 1")...); res.Code != 0 {
			t.Fatalf("docker run -d --restart: %v", res)
		}
		defer dk(cmdOpts{}, "rm", "-f", n)
		var st string
		if !poll(20*time.Second, func() bool {
			st = inspect(n, "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}")
			return st == "exited 2 1"
		}) {
			t.Errorf("--restart on-failure:2: want status exited, 2 restarts, exit 1; got %q", st)
		}
		if logs := dk(cmdOpts{}, "logs", n); logs.Stdout != "run\nrun\nrun\n" {
			t.Errorf("docker logs after two restarts: want three runs; got %v", logs)
		}
		if res := dk(cmdOpts{}, "rm", n); res.Code != 0 {
			t.Errorf("docker rm: %v", res)
		}
	})

	t.Run("start-failures", func(t *testing.T) {
		// dockerd turns the runtime's error text into 127 or 126, as for runc.
		for _, c := range []struct {
			cmd  string
			code int
			text string
		}{
			{"/no/such/binary", 127, "no such file or directory"},
			{"nosuchcommand", 127, "executable file not found in $PATH"},
			{"/etc/passwd", 126, "permission denied"},
		} {
			res := dk(cmdOpts{}, runArgs("--rm", "--network", "none", dockerImage, c.cmd)...)
			if res.Code != c.code || !strings.Contains(res.Stderr, c.text) {
				t.Errorf("docker run %s: want exit %d and %q; got %v", c.cmd, c.code, c.text, res)
			}
		}
	})
}
