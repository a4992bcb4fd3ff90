package modeluri_test

import (
	"path"
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/registry/modeluri"
)

func TestParse(t *testing.T) {
	run := "0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		uri  string
		want modeluri.Ref
		ok   bool
	}{
		{"runs:/" + run + "/model", modeluri.Ref{RunID: run, ArtifactPath: "model"}, true},
		{"runs:/" + run + "/a/b/", modeluri.Ref{RunID: run, ArtifactPath: "a/b"}, true},
		{"models:/m-0123", modeluri.Ref{ModelID: "m-0123"}, true},
		{"runs:/" + run, modeluri.Ref{}, false},
		{"runs:/" + run + "/", modeluri.Ref{}, false},
		{"runs://host/" + run + "/model", modeluri.Ref{}, false},
		{"runs:" + run + "/model", modeluri.Ref{}, false},
		{"runs:/" + run + "/../x", modeluri.Ref{}, false},
		{"runs:/" + run + "/a/./b", modeluri.Ref{}, false},
		{"runs:/" + run + "/mo'del", modeluri.Ref{}, false},
		{"runs:/-bad/model", modeluri.Ref{}, false},
		{"models:/name/3", modeluri.Ref{}, false},
		{"models:/name@champion", modeluri.Ref{}, false},
		{"s3://bucket/model", modeluri.Ref{}, false},
		{"runs:/" + run + "/" + strings.Repeat("a", modeluri.MaxLength), modeluri.Ref{}, false},
	} {
		got, err := modeluri.Parse(tc.uri)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Parse(%q) = %+v, %v", tc.uri, got, err)
		}
	}
}

// FuzzParse: an accepted URI names a valid run and a plain relative path, or a logged model id.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"runs:/abc/model", "runs:/abc/a/../b", "runs://h/a/m", "models:/m-1", "models:/n/1", "runs:/a/b c/", "runs:/\xff/m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		ref, err := modeluri.Parse(uri)
		if err != nil {
			if ref != (modeluri.Ref{}) || err.Error() == "" {
				t.Fatalf("refused %q with %+v, %q", uri, ref, err)
			}
			return
		}
		switch {
		case ref.ModelID != "":
			if ref.RunID != "" || ref.ArtifactPath != "" || strings.ContainsAny(ref.ModelID, "/'\"") {
				t.Errorf("%q → %+v", uri, ref)
			}
		case !modeluri.ValidRunID(ref.RunID) || ref.ArtifactPath == "" || path.Clean(ref.ArtifactPath) != ref.ArtifactPath ||
			strings.HasPrefix(ref.ArtifactPath, "/") || strings.HasPrefix(ref.ArtifactPath, "..") || strings.ContainsAny(ref.ArtifactPath, `'"`):
			t.Errorf("%q → %+v", uri, ref)
		}
	})
}
