package specconv

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"encoding/json"
	"testing"
)

// specSeeds are config.json documents, well-formed and not, that the
// fuzz tests start from.
var specSeeds = []string{
	`{}`,
	`null`,
	`{"ociVersion":"1.2.0","root":{"path":"rootfs"},"process":{"args":["sh"],"cwd":"/"},"linux":{"namespaces":[{"type":"mount"}]}}`,
	`{"ociVersion":"1.0.2-dev","root":{"path":"rootfs","readonly":true},"hostname":"h",
	  "process":{"terminal":true,"user":{"uid":1,"gid":1,"umask":18},"args":["sh"],"env":["PATH=/bin"],"cwd":"/",
	    "capabilities":{"bounding":["CAP_CHOWN"],"ambient":["CAP_FOO"]},
	    "rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}],"oomScoreAdj":5},
	  "mounts":[{"destination":"/proc","type":"proc","source":"proc"},
	    {"destination":"/data","source":"data","options":["rbind","ro","rprivate","mode=1"]}],
	  "hooks":{"prestart":[{"path":"/bin/true","timeout":3}]},
	  "linux":{"namespaces":[{"type":"mount"},{"type":"uts"},{"type":"user"},{"type":"time"}],
	    "uidMappings":[{"containerID":0,"hostID":1000,"size":1}],"gidMappings":[{"containerID":0,"hostID":1000,"size":1}],
	    "timeOffsets":{"monotonic":{"secs":1}},"rootfsPropagation":"rslave",
	    "devices":[{"path":"/dev/fuse","type":"c","major":10,"minor":229,"fileMode":438}],
	    "sysctl":{"net.ipv4.ip_forward":"1"},"maskedPaths":["/proc/kcore"],"readonlyPaths":["/proc/sys"],
	    "resources":{"devices":[{"allow":false,"access":"rwm"}],"memory":{"limit":1}},
	    "seccomp":{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
	      "syscalls":[{"names":["mount"],"action":"SCMP_ACT_NOTIFY","args":[{"index":9,"value":1,"op":"SCMP_CMP_EQ"}]}]}}}`,
	`{"ociVersion":"1.0.0","root":{"path":"/"},"linux":{"namespaces":[{"type":"mount","path":"rel"}]},"windows":{}}`,
}

func FuzzConvert(f *testing.F) {
	for _, s := range specSeeds {
		f.Add([]byte(s))
	}
	bundle := newBundle(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := unmarshalSpec(data)
		if err != nil {
			return
		}
		c, err := Convert(spec, Opts{Bundle: bundle, ID: "fuzz"})
		if err == nil && c == nil {
			t.Fatal("Convert returned neither a config nor an error")
		}
		if err == nil {
			// A config must survive the trip to the container's init.
			if _, err := json.Marshal(c); err != nil {
				t.Fatalf("marshal config: %v", err)
			}
		}
	})
}

func unmarshalSpec(data []byte) (*specs.Spec, error) {
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, err
	}
	return &s, nil
}
