package libtabox

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"unsafe"

	devices "github.com/opencontainers/cgroups/devices/config"
	"golang.org/x/sys/unix"
)

// cgroup v2 has no devices.allow: a container's device rules are an eBPF
// program of type BPF_PROG_TYPE_CGROUP_DEVICE attached to its cgroup,
// which the kernel runs on each open or mknod of a device node.
//
// The program applies the rules as setDevicesV1 writes them into a v1
// cgroup: everything denied, then each rule in order, a later rule
// winning over an earlier one for the accesses (r, w, m) it names. It
// goes through them from the last one and decides each requested access
// at the first rule that names it; an access no rule names is denied.

// bpfInsn is one eBPF instruction (struct bpf_insn).
type bpfInsn struct {
	code uint8
	regs uint8 // dst in the low nibble, src in the high one
	off  int16
	imm  int32
}

// The eBPF instruction classes, operations and sources used here.
const (
	bpfLdxW  = 0x61 // BPF_LDX | BPF_MEM | BPF_W
	bpfAlu64 = 0x07
	bpfJmp   = 0x05
	bpfK     = 0x00
	bpfX     = 0x08
	bpfMov   = 0xb0
	bpfAnd   = 0x50
	bpfOr    = 0x40
	bpfXor   = 0xa0
	bpfRsh   = 0x70
	bpfJne   = 0x50
	bpfExit  = 0x90
)

func insn(code uint8, dst, src uint8, off int16, imm int32) bpfInsn {
	return bpfInsn{code: code, regs: dst | src<<4, off: off, imm: imm}
}

func alu(op, dst uint8, imm int32) bpfInsn { return insn(bpfAlu64|op|bpfK, dst, 0, 0, imm) }
func aluX(op, dst, src uint8) bpfInsn      { return insn(bpfAlu64|op|bpfX, dst, src, 0, 0) }
func jneImm(dst uint8, imm int32, off int16) bpfInsn {
	return insn(bpfJmp|bpfJne|bpfK, dst, 0, off, imm)
}

// Registers: r1 the context (struct bpf_cgroup_dev_ctx), r2 the device
// type, r3 the requested accesses, r4 and r5 the major and minor, r6 the
// accesses decided so far, r7 those allowed, r8 scratch, r0 the verdict.
const (
	r0, r1, r2, r3, r4, r5, r6, r7, r8 = 0, 1, 2, 3, 4, 5, 6, 7, 8
)

// deviceFilter compiles rules into the program.
func deviceFilter(rules []*devices.Rule) ([]bpfInsn, error) {
	prog := []bpfInsn{
		insn(bpfLdxW, r2, r1, 0, 0), // access_type: access << 16 | type
		aluX(bpfMov, r3, r2),
		alu(bpfRsh, r3, 16),
		alu(bpfAnd, r2, 0xffff),
		insn(bpfLdxW, r4, r1, 4, 0),
		insn(bpfLdxW, r5, r1, 8, 0),
		alu(bpfMov, r6, 0),
		alu(bpfMov, r7, 0),
	}
	for i := len(rules) - 1; i >= 0; i-- {
		r := rules[i]
		var access int32
		for _, c := range r.Permissions {
			switch c {
			case 'r':
				access |= unix.BPF_DEVCG_ACC_READ
			case 'w':
				access |= unix.BPF_DEVCG_ACC_WRITE
			case 'm':
				access |= unix.BPF_DEVCG_ACC_MKNOD
			default:
				return nil, fmt.Errorf("device rule %q: unknown access %q", r.CgroupString(), c)
			}
		}
		var match []bpfInsn
		switch r.Type {
		case devices.WildcardDevice:
			access = unix.BPF_DEVCG_ACC_READ | unix.BPF_DEVCG_ACC_WRITE | unix.BPF_DEVCG_ACC_MKNOD
		case devices.CharDevice:
			match = append(match, jneImm(r2, unix.BPF_DEVCG_DEV_CHAR, 0))
		case devices.BlockDevice:
			match = append(match, jneImm(r2, unix.BPF_DEVCG_DEV_BLOCK, 0))
		default:
			return nil, fmt.Errorf("device rule %q: unknown type %q", r.CgroupString(), rune(r.Type))
		}
		if r.Type != devices.WildcardDevice {
			for _, n := range []struct {
				reg uint8
				v   int64
			}{{r4, r.Major}, {r5, r.Minor}} {
				if n.v == devices.Wildcard {
					continue
				}
				if n.v < 0 || n.v > 1<<31-1 {
					return nil, fmt.Errorf("device rule %q: bad device number", r.CgroupString())
				}
				match = append(match, jneImm(n.reg, int32(n.v), 0))
			}
		}
		// The accesses this rule decides: requested, named by it, and not
		// decided by a later rule.
		body := []bpfInsn{
			aluX(bpfMov, r8, r6),
			alu(bpfXor, r8, -1),
			aluX(bpfAnd, r8, r3),
			alu(bpfAnd, r8, access),
		}
		if r.Allow {
			body = append(body, aluX(bpfOr, r7, r8))
		}
		body = append(body, aluX(bpfOr, r6, r8))
		// A mismatch skips to the next rule.
		for j := range match {
			match[j].off = int16(len(match) - 1 - j + len(body))
		}
		prog = append(prog, match...)
		prog = append(prog, body...)
	}
	return append(prog,
		aluX(bpfAnd, r7, r3),
		alu(bpfMov, r0, 0),
		insn(bpfJmp|bpfJne|bpfX, r7, r3, 1, 0),
		alu(bpfMov, r0, 1),
		insn(bpfJmp|bpfExit, 0, 0, 0, 0),
	), nil
}

func bpf(cmd int, attr unsafe.Pointer, size uintptr) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(attr), size)
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

// loadDeviceFilter loads the program and returns its fd.
func loadDeviceFilter(prog []bpfInsn) (int, error) {
	license := []byte("Apache-2.0\x00")
	attr := struct {
		progType, insnCnt uint32
		insns, license    uint64
		logLevel, logSize uint32
		logBuf            uint64
	}{
		progType: unix.BPF_PROG_TYPE_CGROUP_DEVICE,
		insnCnt:  uint32(len(prog)),
		insns:    uint64(uintptr(unsafe.Pointer(&prog[0]))),
		license:  uint64(uintptr(unsafe.Pointer(&license[0]))),
	}
	fd, err := bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(prog)
	runtime.KeepAlive(license)
	if err != nil {
		return -1, fmt.Errorf("load device filter: %w", err)
	}
	unix.CloseOnExec(fd)
	return fd, nil
}

type progAttach struct {
	targetFd, attachBpfFd, attachType, attachFlags uint32
}

// attachedDeviceFilters returns the fds of the device programs attached
// to the cgroup dir.
func attachedDeviceFilters(dir int) ([]int, error) {
	ids := make([]uint32, 64)
	attr := struct {
		targetFd, attachType, queryFlags, attachFlags uint32
		progIds                                       uint64
		progCnt                                       uint32
		_                                             uint32
	}{targetFd: uint32(dir), attachType: unix.BPF_CGROUP_DEVICE, progIds: uint64(uintptr(unsafe.Pointer(&ids[0]))), progCnt: uint32(len(ids))}
	_, err := bpf(unix.BPF_PROG_QUERY, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(ids)
	if err != nil {
		return nil, fmt.Errorf("query device filters: %w", err)
	}
	var fds []int
	for _, id := range ids[:attr.progCnt] {
		get := struct{ progID, nextID, openFlags uint32 }{progID: id}
		fd, err := bpf(unix.BPF_PROG_GET_FD_BY_ID, unsafe.Pointer(&get), unsafe.Sizeof(get))
		if err != nil {
			closeFds(fds)
			return nil, fmt.Errorf("device filter %d: %w", id, err)
		}
		unix.CloseOnExec(fd)
		fds = append(fds, fd)
	}
	return fds, nil
}

func closeFds(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// setDevicesV2 puts the device rules on the v2 cgroup dir: the new
// program is attached before the ones already there are detached, so
// that no device is allowed in between.
func setDevicesV2(dir string, rules []*devices.Rule) error {
	prog, err := deviceFilter(rules)
	if err != nil {
		return err
	}
	d, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("device filter: %w", &os.PathError{Op: "open", Path: dir, Err: err})
	}
	defer unix.Close(d)
	old, err := attachedDeviceFilters(d)
	if err != nil {
		return err
	}
	defer closeFds(old)
	fd, err := loadDeviceFilter(prog)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	attach := progAttach{targetFd: uint32(d), attachBpfFd: uint32(fd), attachType: unix.BPF_CGROUP_DEVICE, attachFlags: unix.BPF_F_ALLOW_MULTI}
	if _, err := bpf(unix.BPF_PROG_ATTACH, unsafe.Pointer(&attach), unsafe.Sizeof(attach)); err != nil {
		return fmt.Errorf("attach device filter to %s: %w", dir, err)
	}
	for _, o := range old {
		detach := progAttach{targetFd: uint32(d), attachBpfFd: uint32(o), attachType: unix.BPF_CGROUP_DEVICE}
		if _, err := bpf(unix.BPF_PROG_DETACH, unsafe.Pointer(&detach), unsafe.Sizeof(detach)); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("detach the old device filter from %s: %w", dir, err)
		}
	}
	return nil
}
