package specconv

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestFeaturesMountOptions: every mount option features lists is one the
// converter knows (none reaches the filesystem as data), and the
// recursive and idmap options are listed.
func TestFeaturesMountOptions(t *testing.T) {
	listed := map[string]bool{}
	for _, o := range Features(nil).MountOptions {
		listed[o] = true
		m := specs.Mount{Destination: "/data", Source: "/srv", Options: []string{"bind", o}}
		if o == "tmpcopyup" {
			m = specs.Mount{Destination: "/data", Type: "tmpfs", Options: []string{o}}
		}
		s := baseSpec()
		userNS(s)
		s.Mounts = []specs.Mount{m}
		c, err := Convert(s, Opts{Bundle: newBundle(t), ID: "test"})
		if err != nil {
			t.Errorf("option %q: %v", o, err)
			continue
		}
		if c.Mounts[0].Data != "" {
			t.Errorf("option %q is passed to the filesystem as %q", o, c.Mounts[0].Data)
		}
	}
	for _, o := range []string{"rro", "rrw", "rnosuid", "rnoatime", "rnosymfollow", "idmap", "ridmap", "tmpcopyup", "rbind"} {
		if !listed[o] {
			t.Errorf("features does not list %q", o)
		}
	}
}
