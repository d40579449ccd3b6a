package specconv

import (
	"reflect"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/tabox/tabox/libtabox"
)

func TestConvertHooks(t *testing.T) {
	hook := specs.Hook{Path: "/bin/hook", Args: []string{"hook", "x"}, Env: []string{"A=1"}, Timeout: ptr(5)}
	want := libtabox.Hook{Path: "/bin/hook", Args: []string{"hook", "x"}, Env: []string{"A=1"}, Timeout: 5 * time.Second}
	cases := []convCase{
		{name: "nil", check: func(t *testing.T, c *libtabox.Config) {
			if !reflect.DeepEqual(c.Hooks, libtabox.Hooks{}) {
				t.Errorf("Hooks = %+v", c.Hooks)
			}
		}},
		{name: "all lists", mod: func(s *specs.Spec) {
			plain := specs.Hook{Path: "/bin/true"}
			s.Hooks = &specs.Hooks{
				Prestart: []specs.Hook{hook}, CreateRuntime: []specs.Hook{plain, hook}, CreateContainer: []specs.Hook{hook},
				StartContainer: []specs.Hook{hook}, Poststart: []specs.Hook{hook}, Poststop: []specs.Hook{hook},
			}
		}, check: func(t *testing.T, c *libtabox.Config) {
			l := []libtabox.Hook{want}
			w := libtabox.Hooks{Prestart: l, CreateRuntime: []libtabox.Hook{{Path: "/bin/true"}, want}, CreateContainer: l,
				StartContainer: l, Poststart: l, Poststop: l}
			if !reflect.DeepEqual(c.Hooks, w) {
				t.Errorf("Hooks = %+v\nwant %+v", c.Hooks, w)
			}
		}},
	}
	lists := map[string]func(h *specs.Hooks) *[]specs.Hook{
		"prestart":        func(h *specs.Hooks) *[]specs.Hook { return &h.Prestart },
		"createRuntime":   func(h *specs.Hooks) *[]specs.Hook { return &h.CreateRuntime },
		"createContainer": func(h *specs.Hooks) *[]specs.Hook { return &h.CreateContainer },
		"startContainer":  func(h *specs.Hooks) *[]specs.Hook { return &h.StartContainer },
		"poststart":       func(h *specs.Hooks) *[]specs.Hook { return &h.Poststart },
		"poststop":        func(h *specs.Hooks) *[]specs.Hook { return &h.Poststop },
	}
	for name, list := range lists {
		set := func(hooks ...specs.Hook) func(s *specs.Spec) {
			return func(s *specs.Spec) {
				s.Hooks = &specs.Hooks{}
				*list(s.Hooks) = hooks
			}
		}
		cases = append(cases,
			convCase{name: name + " relative", mod: set(hook, specs.Hook{Path: "x"}), wantErr: `hooks.` + name + `[1]: path "x" is not absolute`},
			convCase{name: name + " zero timeout", mod: set(specs.Hook{Path: "/x", Timeout: ptr(0)}), wantErr: "hooks." + name + "[0]: timeout must be positive, got 0"},
			convCase{name: name + " negative timeout", mod: set(specs.Hook{Path: "/x", Timeout: ptr(-3)}), wantErr: "timeout must be positive, got -3"},
			convCase{name: name + " huge timeout", mod: set(specs.Hook{Path: "/x", Timeout: ptr(1 << 40)}), wantErr: "hooks." + name + "[0]: timeout 1099511627776 is too large"},
		)
	}
	runCases(t, cases)
}
