package specconv

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/tabox/tabox/libtabox"
)

// Execution domains of personality(2) (PER_LINUX, PER_LINUX32).
var personalities = map[specs.LinuxPersonalityDomain]uint32{
	specs.PerLinux:   0x0000,
	specs.PerLinux32: 0x0008,
}

func convertPersonality(p *specs.LinuxPersonality) (*uint32, error) {
	if p == nil {
		return nil, nil
	}
	d, ok := personalities[p.Domain]
	if !ok {
		return nil, fmt.Errorf("linux.personality.domain %q: not LINUX or LINUX32", p.Domain)
	}
	// The runtime-spec defines no flag yet; one given must not be dropped
	// silently.
	if len(p.Flags) > 0 {
		return nil, fmt.Errorf("linux.personality.flags %q: no personality flag is defined", p.Flags[0])
	}
	return &d, nil
}

var schedPolicies = map[specs.LinuxSchedulerPolicy]uint32{
	specs.SchedOther:    unix.SCHED_NORMAL,
	specs.SchedFIFO:     unix.SCHED_FIFO,
	specs.SchedRR:       unix.SCHED_RR,
	specs.SchedBatch:    unix.SCHED_BATCH,
	specs.SchedISO:      4, // reserved by Linux; sched_setattr says EINVAL
	specs.SchedIdle:     unix.SCHED_IDLE,
	specs.SchedDeadline: unix.SCHED_DEADLINE,
}

var schedFlags = map[specs.LinuxSchedulerFlag]uint64{
	specs.SchedFlagResetOnFork:  unix.SCHED_FLAG_RESET_ON_FORK,
	specs.SchedFlagReclaim:      unix.SCHED_FLAG_RECLAIM,
	specs.SchedFlagDLOverrun:    unix.SCHED_FLAG_DL_OVERRUN,
	specs.SchedFlagKeepPolicy:   unix.SCHED_FLAG_KEEP_POLICY,
	specs.SchedFlagKeepParams:   unix.SCHED_FLAG_KEEP_PARAMS,
	specs.SchedFlagUtilClampMin: unix.SCHED_FLAG_UTIL_CLAMP_MIN,
	specs.SchedFlagUtilClampMax: unix.SCHED_FLAG_UTIL_CLAMP_MAX,
}

func convertScheduler(s *specs.Scheduler) (*libtabox.Scheduler, error) {
	if s == nil {
		return nil, nil
	}
	if s.Policy == "" {
		return nil, errors.New("process.scheduler.policy is required")
	}
	policy, ok := schedPolicies[s.Policy]
	if !ok {
		return nil, fmt.Errorf("process.scheduler.policy %q: unknown policy", s.Policy)
	}
	if s.Nice < -20 || s.Nice > 19 {
		return nil, fmt.Errorf("process.scheduler.nice %d: not in -20…19", s.Nice)
	}
	realtime := policy == unix.SCHED_FIFO || policy == unix.SCHED_RR
	switch {
	case realtime && (s.Priority < 1 || s.Priority > 99):
		return nil, fmt.Errorf("process.scheduler.priority %d: %s needs 1…99", s.Priority, s.Policy)
	case !realtime && s.Priority != 0:
		return nil, fmt.Errorf("process.scheduler.priority %d: %s needs 0", s.Priority, s.Policy)
	}
	if policy != unix.SCHED_DEADLINE && (s.Runtime != 0 || s.Deadline != 0 || s.Period != 0) {
		return nil, fmt.Errorf("process.scheduler: runtime, deadline and period are for SCHED_DEADLINE, not %s", s.Policy)
	}
	out := &libtabox.Scheduler{
		Policy: policy, Nice: s.Nice, Priority: uint32(s.Priority),
		Runtime: s.Runtime, Deadline: s.Deadline, Period: s.Period,
	}
	for i, f := range s.Flags {
		bit, ok := schedFlags[f]
		if !ok {
			return nil, fmt.Errorf("process.scheduler.flags[%d] %q: unknown flag", i, f)
		}
		out.Flags |= bit
	}
	return out, nil
}

var ioClasses = map[specs.IOPriorityClass]int{
	specs.IOPRIO_CLASS_RT:   1,
	specs.IOPRIO_CLASS_BE:   2,
	specs.IOPRIO_CLASS_IDLE: 3,
}

func convertIOPriority(p *specs.LinuxIOPriority) (*libtabox.IOPriority, error) {
	if p == nil {
		return nil, nil
	}
	class, ok := ioClasses[p.Class]
	if !ok {
		return nil, fmt.Errorf("process.ioPriority.class %q: not IOPRIO_CLASS_RT, _BE or _IDLE", p.Class)
	}
	if p.Priority < 0 || p.Priority > 7 {
		return nil, fmt.Errorf("process.ioPriority.priority %d: not in 0…7", p.Priority)
	}
	return &libtabox.IOPriority{Class: class, Priority: p.Priority}, nil
}

func convertCPUAffinity(a *specs.CPUAffinity) (*libtabox.CPUAffinity, error) {
	if a == nil {
		return nil, nil
	}
	var out libtabox.CPUAffinity
	var err error
	if out.Initial, err = parseCPUList(a.Initial); err != nil {
		return nil, fmt.Errorf("process.execCPUAffinity.initial: %w", err)
	}
	if out.Final, err = parseCPUList(a.Final); err != nil {
		return nil, fmt.Errorf("process.execCPUAffinity.final: %w", err)
	}
	if out.Initial == nil && out.Final == nil {
		return nil, nil
	}
	return &out, nil
}

// maxCPU bounds a CPU list, so that "0-4000000000" cannot allocate.
const maxCPU = 1 << 16

// parseCPUList parses a list such as "0-3,7"; empty means unset.
func parseCPUList(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var cpus []int
	seen := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		lo, hi = strings.TrimSpace(lo), strings.TrimSpace(hi)
		first, err := strconv.Atoi(lo)
		if err != nil || first < 0 {
			return nil, fmt.Errorf("%q: %q is not a CPU number", s, lo)
		}
		last := first
		if isRange {
			if last, err = strconv.Atoi(hi); err != nil || last < first {
				return nil, fmt.Errorf("%q: %q is not a CPU range", s, part)
			}
		}
		if last >= maxCPU {
			return nil, fmt.Errorf("%q: CPU %d is out of range", s, last)
		}
		for c := first; c <= last; c++ {
			if !seen[c] {
				seen[c] = true
				cpus = append(cpus, c)
			}
		}
	}
	return cpus, nil
}
