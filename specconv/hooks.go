package specconv

import (
	"fmt"
	"math"
	"path/filepath"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/tabox/tabox/libtabox"
)

func convertHooks(in *specs.Hooks) (libtabox.Hooks, error) {
	var out libtabox.Hooks
	if in == nil {
		return out, nil
	}
	for _, l := range []struct {
		name string
		in   []specs.Hook
		out  *[]libtabox.Hook
	}{
		// prestart is deprecated in the spec but still honoured, as
		// runc does, because existing tooling uses it.
		{"prestart", in.Prestart, &out.Prestart},
		{"createRuntime", in.CreateRuntime, &out.CreateRuntime},
		{"createContainer", in.CreateContainer, &out.CreateContainer},
		{"startContainer", in.StartContainer, &out.StartContainer},
		{"poststart", in.Poststart, &out.Poststart},
		{"poststop", in.Poststop, &out.Poststop},
	} {
		for i, h := range l.in {
			if !filepath.IsAbs(h.Path) {
				return libtabox.Hooks{}, fmt.Errorf("hooks.%s[%d]: path %q is not absolute", l.name, i, h.Path)
			}
			hook := libtabox.Hook{
				Path: h.Path,
				Args: append([]string(nil), h.Args...),
				Env:  append([]string(nil), h.Env...),
			}
			if h.Timeout != nil {
				if *h.Timeout <= 0 {
					return libtabox.Hooks{}, fmt.Errorf("hooks.%s[%d]: timeout must be positive, got %d", l.name, i, *h.Timeout)
				}
				if int64(*h.Timeout) > math.MaxInt64/int64(time.Second) {
					return libtabox.Hooks{}, fmt.Errorf("hooks.%s[%d]: timeout %d is too large", l.name, i, *h.Timeout)
				}
				hook.Timeout = time.Duration(*h.Timeout) * time.Second
			}
			*l.out = append(*l.out, hook)
		}
	}
	return out, nil
}
