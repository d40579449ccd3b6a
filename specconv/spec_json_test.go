package specconv

import (
	"flag"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/tabox/tabox/internal/jsongen"
)

var updateJSON = flag.Bool("update-json", false, "rewrite spec_json.go")

// TestSpecDecoderGenerated: spec_json.go is what internal/jsongen makes
// of the runtime-spec's types as they are.
func TestSpecDecoderGenerated(t *testing.T) {
	src, err := jsongen.Generate(jsongen.Config{
		Package: "specconv",
		PkgPath: "github.com/tabox/tabox/specconv",
		Roots:   []reflect.Type{reflect.TypeOf(specs.Spec{})},
		Decode:  true,
		// The other platforms' sections, which tabox refuses anyway.
		Skip: map[string]bool{"Spec.Solaris": true, "Spec.Windows": true, "Spec.VM": true, "Spec.ZOS": true, "Spec.FreeBSD": true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := jsongen.WriteOrCheck("spec_json.go", src, *updateJSON); err != nil {
		t.Fatal(err)
	}
}
