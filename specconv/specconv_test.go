package specconv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/tabox/tabox/libtabox"
)

func TestConvertBase(t *testing.T) {
	bundle := newBundle(t)
	c, err := Convert(baseSpec(), Opts{Bundle: bundle, NoPivot: true, ID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Bundle != bundle || c.OCIVersion != "1.2.0" || !c.NoPivot {
		t.Errorf("bundle/version/nopivot = %q %q %v", c.Bundle, c.OCIVersion, c.NoPivot)
	}
	if want := filepath.Join(bundle, "rootfs"); c.Rootfs != want {
		t.Errorf("Rootfs = %q, want %q", c.Rootfs, want)
	}
	if c.Readonly || c.RootPropagation != 0 || c.Seccomp != nil || c.OOMScoreAdj != nil {
		t.Errorf("unexpected defaults: %+v", c)
	}
	if len(c.Namespaces) != 1 || c.Namespaces[0] != (libtabox.Namespace{Type: libtabox.NEWNS}) {
		t.Errorf("Namespaces = %+v", c.Namespaces)
	}
	if c.Process == nil || c.Process.Args[0] != "sh" || c.Process.Cwd != "/" || c.Process.Capabilities != nil {
		t.Errorf("Process = %+v", c.Process)
	}
}

func TestConvertNilSpec(t *testing.T) {
	if _, err := Convert(nil, Opts{Bundle: t.TempDir()}); err == nil {
		t.Fatal("Convert(nil) succeeded")
	}
}

func TestConvertRelativeBundle(t *testing.T) {
	bundle := newBundle(t)
	t.Chdir(bundle)
	c, err := Convert(baseSpec(), Opts{Bundle: ".", ID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Bundle != bundle {
		t.Errorf("Bundle = %q, want %q", c.Bundle, bundle)
	}
}

func TestConvertVersion(t *testing.T) {
	ok := func(v string) convCase {
		return convCase{name: "ok " + v, mod: func(s *specs.Spec) { s.Version = v },
			check: func(t *testing.T, c *libtabox.Config) {
				if c.OCIVersion != v {
					t.Errorf("OCIVersion = %q", c.OCIVersion)
				}
			}}
	}
	bad := func(v, want string) convCase {
		return convCase{name: "bad " + v, mod: func(s *specs.Spec) { s.Version = v }, wantErr: want}
	}
	runCases(t, []convCase{
		ok("1.0.0"), ok("1.3.0"), ok("1.0.2-dev"), ok("1.2.1+build.5"), ok("1.10.20-rc.1"),
		bad("", "ociVersion is required"),
		bad("2.0.0", `unsupported ociVersion "2.0.0": tabox supports 1.x`),
		bad("0.9.0", `unsupported ociVersion "0.9.0"`),
		bad("1.0", `invalid ociVersion "1.0"`),
		bad("1.x.0", `invalid ociVersion "1.x.0"`),
		bad("v1.0.0", `invalid ociVersion "v1.0.0"`),
		bad("1.0.0.0", `invalid ociVersion`),
		bad("-1.0.0", `invalid ociVersion`),
	})
}

func TestConvertUnsupportedSections(t *testing.T) {
	runCases(t, []convCase{
		{name: "windows", mod: func(s *specs.Spec) { s.Windows = &specs.Windows{} }, wantErr: "windows is not supported"},
		{name: "solaris", mod: func(s *specs.Spec) { s.Solaris = &specs.Solaris{} }, wantErr: "solaris is not supported"},
		{name: "vm", mod: func(s *specs.Spec) { s.VM = &specs.VM{} }, wantErr: "vm is not supported"},
		{name: "zos", mod: func(s *specs.Spec) { s.ZOS = &specs.ZOS{} }, wantErr: "zos is not supported"},
		{name: "freebsd", mod: func(s *specs.Spec) { s.FreeBSD = &specs.FreeBSD{} }, wantErr: "freebsd is not supported"},
		{name: "intelRdt", mod: func(s *specs.Spec) { s.Linux.IntelRdt = &specs.LinuxIntelRdt{} }, wantErr: "linux.intelRdt is not supported"},
		{name: "memoryPolicy", mod: func(s *specs.Spec) { s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{} }, wantErr: "linux.memoryPolicy is not supported"},
		{name: "netDevices", mod: func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"eth0": {}}
		}, wantErr: "linux.netDevices is not supported"},
		{name: "mountLabel", mod: func(s *specs.Spec) { s.Linux.MountLabel = "system_u:object_r:container_file_t:s0" }, wantErr: "linux.mountLabel: SELinux"},
	})
}

func TestConvertRoot(t *testing.T) {
	runCases(t, []convCase{
		{name: "nil", mod: func(s *specs.Spec) { s.Root = nil }, wantErr: "root is required"},
		{name: "empty path", mod: func(s *specs.Spec) { s.Root.Path = "" }, wantErr: "root.path is required"},
		{name: "missing", mod: func(s *specs.Spec) { s.Root.Path = "nope" }, wantErr: `root.path "`},
		{name: "missing names path", mod: func(s *specs.Spec) { s.Root.Path = "/nonexistent/rootfs" }, wantErr: `root.path "/nonexistent/rootfs": `},
		{name: "not a directory", mod: func(s *specs.Spec) { s.Root.Path = "/proc/self/status" }, wantErr: "is not a directory"},
		{name: "readonly", mod: func(s *specs.Spec) { s.Root.Readonly = true }, check: func(t *testing.T, c *libtabox.Config) {
			if !c.Readonly {
				t.Error("Readonly not set")
			}
		}},
		{name: "unclean relative", mod: func(s *specs.Spec) { s.Root.Path = "./rootfs/../rootfs/" }, check: func(t *testing.T, c *libtabox.Config) {
			if c.Rootfs != filepath.Join(c.Bundle, "rootfs") {
				t.Errorf("Rootfs = %q", c.Rootfs)
			}
		}},
	})
}

func TestConvertRootAbsoluteAndSymlink(t *testing.T) {
	bundle := newBundle(t)
	target := filepath.Join(bundle, "rootfs")
	link := filepath.Join(bundle, "link")
	if err := os.Symlink("rootfs", link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{target, link, "link"} {
		s := baseSpec()
		s.Root.Path = p
		c, err := Convert(s, Opts{Bundle: bundle, ID: "test"})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if c.Rootfs != target {
			t.Errorf("root %q: Rootfs = %q, want %q", p, c.Rootfs, target)
		}
	}
	file := filepath.Join(bundle, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := baseSpec()
	s.Root.Path = "file"
	if _, err := Convert(s, Opts{Bundle: bundle, ID: "test"}); err == nil || !strings.Contains(err.Error(), `root.path "`+file+`" is not a directory`) {
		t.Errorf("file rootfs: err = %v", err)
	}
}

func TestConvertUTSAndAnnotations(t *testing.T) {
	runCases(t, []convCase{
		{name: "hostname without uts", mod: func(s *specs.Spec) { s.Hostname = "box" },
			wantErr: "unable to set hostname without a private UTS namespace"},
		{name: "domainname without uts", mod: func(s *specs.Spec) { s.Domainname = "example.org" },
			wantErr: "unable to set domainname without a private UTS namespace"},
		{name: "hostname and domainname", mod: func(s *specs.Spec) {
			addNS(s, specs.UTSNamespace)
			s.Hostname, s.Domainname = "box", "example.org"
		}, check: func(t *testing.T, c *libtabox.Config) {
			if c.Hostname != "box" || c.Domainname != "example.org" {
				t.Errorf("Hostname, Domainname = %q, %q", c.Hostname, c.Domainname)
			}
		}},
		{name: "annotations", mod: func(s *specs.Spec) { s.Annotations = map[string]string{"a": "b"} },
			check: func(t *testing.T, c *libtabox.Config) {
				if c.Annotations["a"] != "b" || len(c.Annotations) != 1 {
					t.Errorf("Annotations = %v", c.Annotations)
				}
			}},
	})
}

func TestLoadSpec(t *testing.T) {
	write := func(t *testing.T, content string) string {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	t.Run("missing", func(t *testing.T) {
		_, err := LoadSpec(t.TempDir())
		if err == nil || !strings.HasPrefix(err.Error(), "open config.json: ") || !os.IsNotExist(unwrapAll(err)) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("syntax", func(t *testing.T) {
		_, err := LoadSpec(write(t, "{\n  \"ociVersion\": \"1.0.0\",\n  oops\n}"))
		if err == nil || !strings.HasPrefix(err.Error(), "parse config.json: line 3, column ") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("type", func(t *testing.T) {
		_, err := LoadSpec(write(t, "{\n\"ociVersion\": 1}"))
		if err == nil || !strings.HasPrefix(err.Error(), "parse config.json: line 2, column ") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("trailing garbage", func(t *testing.T) {
		if _, err := LoadSpec(write(t, `{} {}`)); err == nil || !strings.HasPrefix(err.Error(), "parse config.json: ") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("unknown fields accepted", func(t *testing.T) {
		s, err := LoadSpec(write(t, `{"ociVersion": "1.2.0", "x-extension": {"a": 1}, "root": {"path": "rootfs", "extra": true}}`))
		if err != nil {
			t.Fatal(err)
		}
		if s.Version != "1.2.0" || s.Root.Path != "rootfs" {
			t.Errorf("spec = %+v", s)
		}
	})
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestPosition(t *testing.T) {
	data := []byte("ab\ncd\nef")
	for _, tc := range []struct {
		off       int64
		line, col int
	}{{0, 1, 1}, {1, 1, 2}, {3, 2, 1}, {4, 2, 2}, {7, 3, 2}, {100, 3, 3}, {-5, 1, 1}} {
		if l, c := position(data, tc.off); l != tc.line || c != tc.col {
			t.Errorf("position(%d) = %d:%d, want %d:%d", tc.off, l, c, tc.line, tc.col)
		}
	}
}
