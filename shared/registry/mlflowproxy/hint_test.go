package mlflowproxy_test

import (
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"go/types"
	"path/filepath"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowproxy"
)

// TestMultipartHintMatchesTheGateway keeps the proxy's 413 advice worded as the gateway's own
// (infra/stack.MultipartHint), read from source: importing the CDK stack here would drag jsii in.
func TestMultipartHintMatchesTheGateway(t *testing.T) {
	src := filepath.Join(testenv.Root(t), "infra", "stack", "api.go")
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, src, nil, parser.SkipObjectResolution)
	if err != nil {
		testenv.Missing(t, "gateway source not readable: %v", err)
	}
	for _, decl := range f.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.CONST {
			continue
		}
		for _, spec := range gen.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if name.Name != "MultipartHint" {
					continue
				}
				tv, err := types.Eval(fset, nil, token.NoPos, types.ExprString(vs.Values[i]))
				if err != nil || tv.Value == nil || tv.Value.Kind() != constant.String {
					t.Fatalf("cannot evaluate the gateway's MultipartHint: %v", err)
				}
				if got := constant.StringVal(tv.Value); got != mlflowproxy.MultipartHint {
					t.Errorf("gateway says %q,\nproxy says %q", got, mlflowproxy.MultipartHint)
				}
				return
			}
		}
	}
	testenv.Missing(t, "no MultipartHint constant in %s (the stack may use this package's)", src)
}
