package specconv

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/tabox/tabox/libtabox"
)

func TestConvertProcessAttrs(t *testing.T) {
	proc := func(f func(p *specs.Process)) func(s *specs.Spec) {
		return func(s *specs.Spec) { f(s.Process) }
	}
	pers := func(p *specs.LinuxPersonality) func(*specs.Spec) {
		return func(s *specs.Spec) { s.Linux.Personality = p }
	}
	sched := func(sc specs.Scheduler) func(*specs.Spec) {
		return proc(func(p *specs.Process) { p.Scheduler = &sc })
	}
	runCases(t, []convCase{
		{name: "personality linux32", mod: pers(&specs.LinuxPersonality{Domain: specs.PerLinux32}), check: func(t *testing.T, c *libtabox.Config) {
			if c.Personality == nil || *c.Personality != 8 {
				t.Errorf("Personality = %v, want 8", c.Personality)
			}
		}},
		{name: "personality bad domain", mod: pers(&specs.LinuxPersonality{Domain: "BSD"}), wantErr: `linux.personality.domain "BSD"`},
		{name: "personality flags", mod: pers(&specs.LinuxPersonality{Domain: specs.PerLinux, Flags: []specs.LinuxPersonalityFlag{"X"}}), wantErr: "no personality flag is defined"},
		{name: "scheduler fifo", mod: sched(specs.Scheduler{Policy: specs.SchedFIFO, Priority: 10, Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork}}), check: func(t *testing.T, c *libtabox.Config) {
			want := &libtabox.Scheduler{Policy: 1, Priority: 10, Flags: 1}
			if !reflect.DeepEqual(c.Process.Scheduler, want) {
				t.Errorf("Scheduler = %+v, want %+v", c.Process.Scheduler, want)
			}
		}},
		{name: "scheduler batch nice", mod: sched(specs.Scheduler{Policy: specs.SchedBatch, Nice: 5}), check: func(t *testing.T, c *libtabox.Config) {
			if s := c.Process.Scheduler; s == nil || s.Policy != 3 || s.Nice != 5 {
				t.Errorf("Scheduler = %+v", s)
			}
		}},
		{name: "scheduler no policy", mod: sched(specs.Scheduler{Nice: 1}), wantErr: "process.scheduler.policy is required"},
		{name: "scheduler unknown policy", mod: sched(specs.Scheduler{Policy: "SCHED_FAST"}), wantErr: `policy "SCHED_FAST": unknown policy`},
		{name: "scheduler nice", mod: sched(specs.Scheduler{Policy: specs.SchedOther, Nice: 20}), wantErr: "process.scheduler.nice 20"},
		{name: "scheduler rr priority 0", mod: sched(specs.Scheduler{Policy: specs.SchedRR}), wantErr: "SCHED_RR needs 1…99"},
		{name: "scheduler other priority", mod: sched(specs.Scheduler{Policy: specs.SchedOther, Priority: 3}), wantErr: "SCHED_OTHER needs 0"},
		{name: "scheduler deadline fields", mod: sched(specs.Scheduler{Policy: specs.SchedOther, Runtime: 1}), wantErr: "are for SCHED_DEADLINE"},
		{name: "scheduler flag", mod: sched(specs.Scheduler{Policy: specs.SchedOther, Flags: []specs.LinuxSchedulerFlag{"SCHED_FLAG_X"}}), wantErr: `flags[0] "SCHED_FLAG_X"`},
		{name: "ioPriority", mod: proc(func(p *specs.Process) {
			p.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_IDLE, Priority: 7}
		}), check: func(t *testing.T, c *libtabox.Config) {
			if p := c.Process.IOPriority; p == nil || *p != (libtabox.IOPriority{Class: 3, Priority: 7}) {
				t.Errorf("IOPriority = %+v", p)
			}
		}},
		{name: "ioPriority class", mod: proc(func(p *specs.Process) { p.IOPriority = &specs.LinuxIOPriority{Class: "IOPRIO_CLASS_NONE"} }), wantErr: `process.ioPriority.class "IOPRIO_CLASS_NONE"`},
		{name: "ioPriority level", mod: proc(func(p *specs.Process) {
			p.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 8}
		}), wantErr: "process.ioPriority.priority 8"},
		{name: "execCPUAffinity", mod: proc(func(p *specs.Process) { p.ExecCPUAffinity = &specs.CPUAffinity{Initial: "0-2, 1,5", Final: "1 - 1"} }), check: func(t *testing.T, c *libtabox.Config) {
			want := &libtabox.CPUAffinity{Initial: []int{0, 1, 2, 5}, Final: []int{1}}
			if !reflect.DeepEqual(c.Process.ExecCPUAffinity, want) {
				t.Errorf("ExecCPUAffinity = %+v, want %+v", c.Process.ExecCPUAffinity, want)
			}
		}},
		{name: "execCPUAffinity empty", mod: proc(func(p *specs.Process) { p.ExecCPUAffinity = &specs.CPUAffinity{} }), check: func(t *testing.T, c *libtabox.Config) {
			if c.Process.ExecCPUAffinity != nil {
				t.Errorf("ExecCPUAffinity = %+v, want nil", c.Process.ExecCPUAffinity)
			}
		}},
		{name: "execCPUAffinity bad", mod: proc(func(p *specs.Process) { p.ExecCPUAffinity = &specs.CPUAffinity{Final: "1-x"} }), wantErr: "process.execCPUAffinity.final"},
		{name: "execCPUAffinity reversed", mod: proc(func(p *specs.Process) { p.ExecCPUAffinity = &specs.CPUAffinity{Initial: "3-1"} }), wantErr: `"3-1" is not a CPU range`},
		{name: "execCPUAffinity huge", mod: proc(func(p *specs.Process) { p.ExecCPUAffinity = &specs.CPUAffinity{Initial: "0-4000000000"} }), wantErr: "out of range"},
	})
}
