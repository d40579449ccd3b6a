package specconv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/tabox/tabox/libtabox"
)

// convCase is one Convert case: mod changes a valid spec, then either
// Convert fails with an error containing wantErr, or check inspects the
// result.
type convCase struct {
	name    string
	mod     func(s *specs.Spec)
	opts    func(o *Opts)
	wantErr string
	check   func(t *testing.T, c *libtabox.Config)
}

// newBundle returns a bundle directory holding an empty rootfs.
func newBundle(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// baseSpec is the smallest spec Convert accepts.
func baseSpec() *specs.Spec {
	return &specs.Spec{
		Version: "1.2.0",
		Root:    &specs.Root{Path: "rootfs"},
		Process: &specs.Process{Args: []string{"sh"}, Cwd: "/"},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{{Type: specs.MountNamespace}},
		},
	}
}

func addNS(s *specs.Spec, types ...specs.LinuxNamespaceType) {
	for _, t := range types {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t})
	}
}

// userNS gives the spec a new user namespace with mappings.
func userNS(s *specs.Spec) {
	addNS(s, specs.UserNamespace)
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
}

func runCases(t *testing.T, cases []convCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bundle := newBundle(t)
			s := baseSpec()
			if tc.mod != nil {
				tc.mod(s)
			}
			opts := Opts{Bundle: bundle, ID: "test"}
			if tc.opts != nil {
				tc.opts(&opts)
			}
			c, err := Convert(s, opts)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("Convert succeeded, want error containing %q", tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Convert error = %q, want it to contain %q", err, tc.wantErr)
				}
				if c != nil {
					t.Errorf("Convert returned a config with an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("Convert: %v", err)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
