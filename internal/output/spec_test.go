package output

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-build/strata/internal/layer"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		in   string
		want Spec
	}{
		{"type=image", Spec{Type: TypeImage, Tar: true}},
		{"type=image,name=a:1,push=true", Spec{Type: TypeImage, Names: []string{"a:1"}, Push: true, Tar: true}},
		{`type=image,"name=a:1,b:2"`, Spec{Type: TypeImage, Names: []string{"a:1", "b:2"}, Tar: true}},
		{"type=registry,name=r/x", Spec{Type: TypeRegistry, Names: []string{"r/x"}, Push: true, Tar: true}},
		{"type=registry,compression=zstd,compression-level=19,force-compression=true", Spec{Type: TypeRegistry, Push: true, Tar: true, Compression: layer.Zstd, CompressionLevel: 19, ForceCompression: true}},
		{"type=registry,compression=uncompressed", Spec{Type: TypeRegistry, Push: true, Tar: true, Compression: layer.Uncompressed}},
		{"type=registry,compression=estargz", Spec{Type: TypeRegistry, Push: true, Tar: true, Compression: Estargz}},
		{"type=local,dest=out", Spec{Type: TypeLocal, Dest: "out", Tar: true}},
		{"out/dir", Spec{Type: TypeLocal, Dest: "out/dir"}},
		{"-", Spec{Type: TypeTar, Dest: "-"}},
		{"type=tar,dest=-", Spec{Type: TypeTar, Dest: "-", Tar: true}},
		{"type=oci,dest=o.tar,compression=gzip,compression-level=1", Spec{Type: TypeOCI, Dest: "o.tar", Tar: true, Compression: layer.Gzip, CompressionLevel: 1}},
		{"type=oci,dest=o,tar=false", Spec{Type: TypeOCI, Dest: "o"}},
		{"type=docker,dest=d.tar,name=x", Spec{Type: TypeDocker, Dest: "d.tar", Names: []string{"x"}, Tar: true}},
		{"TYPE=tar,Dest=x", Spec{Type: TypeTar, Dest: "x", Tar: true}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSpec(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(got, tt.want); d != "" {
				t.Errorf("ParseSpec(%q) (-got +want):\n%s", tt.in, d)
			}
		})
	}
}

func TestParseSpecRefuses(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "empty output"},
		{"type=", `unknown type ""`},
		{"type=cacheonly", `unknown type "cacheonly"`},
		{"dest=x", `unknown type ""`},
		{"type=local", "needs dest=PATH"},
		{"type=local,dest=-", "type=local writes a directory"},
		{"type=local,dest=x,name=y", `type=local has no key "name"`},
		{"type=tar,dest=x,compression=gzip", `type=tar has no key "compression"`},
		{"type=docker,dest=x,compression=zstd", `type=docker has no key "compression"`},
		{"type=image,unpack=true", `type=image has no key "unpack"`},
		{"type=image,oci-mediatypes=true", `has no key "oci-mediatypes"`},
		{"type=registry,push=false", `type=registry has no key "push"`},
		{"type=image,push=maybe", `push="maybe": want true or false`},
		{"type=oci,dest=x,tar=no", `tar="no"`},
		{"type=oci,dest=-,tar=false", "tar=false writes a directory"},
		{"type=oci,dest=x,compression=lz4", `compression="lz4"`},
		{"type=oci,dest=x,compression-level=10", "use 1 to 9 for gzip"},
		{"type=oci,dest=x,compression=zstd,compression-level=23", "use 1 to 22 for zstd"},
		{"type=oci,dest=x,compression=uncompressed,compression-level=3", "uncompressed layers have no level"},
		{"type=oci,dest=x,compression-level=fast", "want a number"},
		{"type=oci,dest=x,dest=y", `key "dest" is given twice`},
		{"type=oci,dest", `"dest" is not KEY=VALUE`},
		{`type=oci,"dest=x`, `output "type=oci,\"dest=x"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSpec(tt.in)
			if err == nil {
				t.Fatalf("ParseSpec(%q) = %+v, want an error saying %q", tt.in, got, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %q, want one saying %q", err, tt.want)
			}
		})
	}
}
