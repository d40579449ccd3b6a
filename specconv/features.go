package specconv

import (
	"sort"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/tabox/tabox/libtabox"
	"github.com/tabox/tabox/libtabox/capability"
)

// Features describes what tabox accepts, from the same tables the
// converter uses, so that it cannot claim more than it does.
func Features(annotations map[string]string) *features.Features {
	yes, no := true, false
	f := &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		Annotations:   annotations,
	}
	for name := range mountFlags {
		f.MountOptions = append(f.MountOptions, name)
	}
	for name := range propagationFlags {
		f.MountOptions = append(f.MountOptions, name)
	}
	for name := range recursiveAttrs {
		f.MountOptions = append(f.MountOptions, name)
	}
	for name := range recursiveAtime {
		f.MountOptions = append(f.MountOptions, name)
	}
	f.MountOptions = append(f.MountOptions, "bind", "rbind", "idmap", "ridmap", "tmpcopyup")
	sort.Strings(f.MountOptions)
	f.MountOptions = dedup(f.MountOptions)

	l := &features.Linux{}
	for t := range namespaceTypes {
		l.Namespaces = append(l.Namespaces, string(t))
	}
	sort.Strings(l.Namespaces)
	for _, c := range capability.All() {
		l.Capabilities = append(l.Capabilities, capability.Name(c))
	}
	v2 := cgroups.IsCgroup2UnifiedMode()
	v1 := !v2
	l.Cgroup = &features.Cgroup{V1: &v1, V2: &v2, Systemd: &no, SystemdUser: &no, Rdma: &yes}
	sc := &features.Seccomp{Enabled: &yes}
	notify := libtabox.SeccompNotifySupported()
	for a, act := range seccompActions {
		if act == libtabox.ActNotify && !notify {
			continue // the running kernel has no user notification
		}
		sc.Actions = append(sc.Actions, string(a))
	}
	for o := range seccompOperators {
		sc.Operators = append(sc.Operators, string(o))
	}
	for a := range seccompArches {
		sc.Archs = append(sc.Archs, string(a))
	}
	for fl := range seccompFlags {
		sc.KnownFlags = append(sc.KnownFlags, string(fl))
		sc.SupportedFlags = append(sc.SupportedFlags, string(fl))
	}
	for _, s := range [][]string{sc.Actions, sc.Operators, sc.Archs, sc.KnownFlags, sc.SupportedFlags} {
		sort.Strings(s)
	}
	l.Seccomp = sc
	aa, se := apparmorEnabled(), selinuxEnabled()
	l.Apparmor = &features.Apparmor{Enabled: &aa}
	l.Selinux = &features.Selinux{Enabled: &se}
	l.IntelRdt = &features.IntelRdt{Enabled: &no}
	// Claimed only where create would make one: as root, on a kernel with
	// mount_setattr.
	idmap := libtabox.IDMappedMountsSupported()
	l.MountExtensions = &features.MountExtensions{IDMap: &features.IDMap{Enabled: &idmap}}
	l.NetDevices = &features.NetDevices{Enabled: &no}
	f.Linux = l
	return f
}

func dedup(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
