//go:build linux && cgo

package libtabox

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// enosysStub is a filter prologue that answers ENOSYS to every native
// syscall numbered above the highest one the profile names, before the
// profile's default action can. A profile written before a syscall
// existed would otherwise deny it with the default action (usually EPERM),
// and programs such as glibc, which probe a new syscall (clone3, openat2)
// and fall back on ENOSYS only, would fail instead of falling back. It is
// the rule runc and crun follow.
//
// Syscalls of other architectures, and x32 ones, go to the profile
// unchanged.
func enosysStub(maxNr uint32) []byte {
	const (
		offNr   = 0 // offsetof(struct seccomp_data, nr)
		offArch = 4 // offsetof(struct seccomp_data, arch)
		x32Bit  = 0x40000000
	)
	prog := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: offArch},
		// Not the native architecture: on to the profile (4 ahead).
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: nativeAuditArch, Jt: 0, Jf: 4},
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: offNr},
		{Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, K: x32Bit, Jt: 2, Jf: 0},
		{Code: unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K, K: maxNr, Jt: 0, Jf: 1},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
	}
	out := make([]byte, 0, len(prog)*sockFilterSize)
	for _, ins := range prog {
		out = binary.NativeEndian.AppendUint16(out, ins.Code)
		out = append(out, ins.Jt, ins.Jf)
		out = binary.NativeEndian.AppendUint32(out, ins.K)
	}
	return out
}
