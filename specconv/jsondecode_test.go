package specconv

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// checkFastDecode: where the generated decoder takes a document, it makes
// of it exactly what encoding/json makes, and encoding/json takes it too.
func checkFastDecode(t *testing.T, data []byte) bool {
	t.Helper()
	fast, ok := decodeSpecFast(data)
	if !ok {
		return false
	}
	var want specs.Spec
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("the fast decoder took a document encoding/json refuses (%v): %q", err, data)
	}
	if !reflect.DeepEqual(fast, &want) {
		t.Fatalf("decoded differently:\n fast %+v\n json %+v\n from %q", fast, &want, data)
	}
	return true
}

// corpus returns FuzzConvert's corpus: several hundred documents it found,
// most of them not config.json documents at all.
func corpus(t testing.TB) [][]byte {
	files, _ := filepath.Glob("testdata/fuzz/FuzzConvert/*")
	var out [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitN(string(data), "\n", 2)
		if len(lines) != 2 {
			continue
		}
		v := strings.TrimSpace(lines[1])
		if !strings.HasPrefix(v, "[]byte(") || !strings.HasSuffix(v, ")") {
			continue
		}
		s, err := strconv.Unquote(v[len("[]byte(") : len(v)-1])
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, []byte(s))
	}
	return out
}

// richSpec has a value in most fields tabox reads, as a higher-level
// runtime writes them: by encoding/json, with its escapes of & < >.
func richSpec(t *testing.T) []byte {
	s := baseSpec()
	s.Hostname, s.Domainname = "h", "d"
	s.Annotations = map[string]string{"a&b": "<c>", "é": "\u2028"}
	s.Process.Terminal = true
	s.Process.ConsoleSize = &specs.Box{Height: 24, Width: 80}
	s.Process.User = specs.User{UID: 1, GID: 2, Umask: ptr(uint32(0o22)), AdditionalGids: []uint32{3, 4}, Username: "u"}
	s.Process.Args = []string{"sh", "-c", "a && b > c"}
	s.Process.Env = []string{"PATH=/bin", "X=\"y\"\\z\t"}
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: []string{"CAP_CHOWN"}, Effective: []string{}, Ambient: []string{"CAP_KILL"}}
	s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1 << 62, Soft: 1024}}
	s.Process.NoNewPrivileges = true
	s.Process.OOMScoreAdj = ptr(-1000)
	s.Process.IOPriority = &specs.LinuxIOPriority{Class: "IOPRIO_CLASS_BE", Priority: 4}
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/src", Options: []string{"rbind", "ro"},
		UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}})
	s.Hooks = &specs.Hooks{Prestart: []specs.Hook{{Path: "/bin/true", Args: []string{"true"}, Timeout: ptr(3)}}, Poststop: []specs.Hook{}}
	l := s.Linux
	l.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	l.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
	l.CgroupsPath = "/a/b"
	l.Devices = []specs.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: ptr(os.FileMode(0o666)), UID: ptr(uint32(0))}}
	l.Resources = &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, {Allow: true, Type: "c", Major: ptr(int64(1)), Minor: ptr(int64(-1)), Access: "rw"}},
		Memory:  &specs.LinuxMemory{Limit: ptr(int64(1 << 30)), Swap: ptr(int64(-1)), Swappiness: ptr(uint64(10)), DisableOOMKiller: ptr(true)},
		CPU:     &specs.LinuxCPU{Shares: ptr(uint64(512)), Quota: ptr(int64(50000)), Period: ptr(uint64(100000)), Cpus: "0-1", Mems: "0"},
		Pids:    &specs.LinuxPids{Limit: ptr(int64(64))},
		BlockIO: &specs.LinuxBlockIO{Weight: ptr(uint16(100)), WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: ptr(uint16(10))}}},
		Unified: map[string]string{"memory.high": "max"},
	}
	l.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: ptr(uint(1)), Architectures: []specs.Arch{specs.ArchX86_64},
		Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_LOG"},
		Syscalls: []specs.LinuxSyscall{{Names: []string{"read", "write"}, Action: specs.ActAllow},
			{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0xffffffff, ValueTwo: 0, Op: specs.OpEqualTo}}}}}
	l.RootfsPropagation = "rslave"
	l.MaskedPaths = []string{"/proc/kcore"}
	l.ReadonlyPaths = []string{"/proc/sys"}
	l.Personality = &specs.LinuxPersonality{Domain: "LINUX32", Flags: []specs.LinuxPersonalityFlag{}}
	l.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: -5, Nanosecs: 7}}
	data, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestDecodeSpecFast: the generated decoder takes the documents runtimes
// write, and decodes them as encoding/json does; it leaves the rest to
// encoding/json.
func TestDecodeSpecFast(t *testing.T) {
	if !checkFastDecode(t, richSpec(t)) {
		t.Fatalf("the fast decoder refused a well-formed config:\n%s", richSpec(t))
	}
	for _, doc := range []string{
		`{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/"},"root":{"path":"rootfs"}}`,
		` { "hostname" : "a\u00e9\ud83d\ude00\n" , "annotations" : { } , "mounts" : [ ] } `,
		`{"hostname":null,"process":null,"mounts":[null,{"options":null}],"annotations":{"a":null}}`,
	} {
		if !checkFastDecode(t, []byte(doc)) {
			t.Errorf("the fast decoder refused %s", doc)
		}
	}
	for _, doc := range []string{
		`{"Hostname":"a"}`,                                 // another case: encoding/json matches it
		`{"hostname":"a","hostname":"b"}`,                  // repeated key
		`{"process":{"cwd":"/"},"process":{"args":["x"]}}`, // encoding/json merges these
		`{"linux":{"resources":{"pids":{"limit":1.0}}}}`,
		`{"linux":{"resources":{"pids":{"limit":1e3}}}}`,
		`{"process":{"user":{"uid":-1}}}`,
		`{"process":{"user":{"uid":4294967296}}}`,
		`{"hostname":"\ud800"}`,   // lone surrogate: U+FFFD
		"{\"hostname\":\"\xff\"}", // invalid UTF-8: U+FFFD
		`{"windows":{}}`,          // another platform
		`{"unknown":1}`,           // ignored by encoding/json
		`{"hostname":"a"} x`,
		`{"hostname":"a",}`,
		`{"mounts":[{"destination":"/a"},]}`,
		`{"linux":{"devices":[{"major":01}]}}`,
		`[]`,
		`null`,
		``,
	} {
		if _, ok := decodeSpecFast([]byte(doc)); ok {
			t.Errorf("the fast decoder took %q, which it must leave to encoding/json", doc)
		}
	}
	// The rich one of the fuzz seeds, and {}, are for the fast decoder.
	for _, i := range []int{0, 2, 3} {
		if !checkFastDecode(t, []byte(specSeeds[i])) {
			t.Errorf("the fast decoder refused %s", specSeeds[i])
		}
	}
	for _, doc := range append(corpus(t), []byte(specSeeds[4])) {
		checkFastDecode(t, doc)
	}
}

func FuzzDecodeSpecFast(f *testing.F) {
	for _, doc := range specSeeds {
		f.Add([]byte(doc))
	}
	for _, doc := range corpus(f) {
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFastDecode(t, data)
	})
}
