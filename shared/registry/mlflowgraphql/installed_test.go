package mlflowgraphql_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowgraphql"
)

// installedSchema is the schema of the MLflow in the project virtualenv, as graphene prints it,
// and where MLflow's package is.
func installedSchema(t *testing.T) (*ast.Schema, string) {
	t.Helper()
	out, err := exec.Command(testenv.Python(t), "-W", "ignore", "-c", `
import json, os, mlflow
from mlflow.server.graphql.graphql_schema_extensions import schema
print(json.dumps({"sdl": str(schema), "dir": os.path.dirname(mlflow.__file__)}))`).Output()
	if err != nil {
		t.Fatalf("printing MLflow's GraphQL schema: %v", err)
	}
	var got struct{ SDL, Dir string }
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	s, err := gqlparser.LoadSchema(&ast.Source{Name: "installed", Input: got.SDL})
	if err != nil {
		t.Fatalf("MLflow's schema does not load: %v", err)
	}
	return s, got.Dir
}

// TestSchemaIsMLflows: every type, field, argument and input field of the gateway's schema is the
// installed MLflow's, with the same type, so a query the gateway admits is one MLflow reads the
// same way.
func TestSchemaIsMLflows(t *testing.T) {
	theirs, _ := installedSchema(t)
	ours := mlflowgraphql.Schema()
	for name, def := range ours.Types {
		if def.BuiltIn {
			continue
		}
		td := theirs.Types[name]
		if td == nil || td.Kind != def.Kind {
			t.Errorf("type %s (%s) is not MLflow's", name, def.Kind)
			continue
		}
		for _, f := range def.Fields {
			tf := td.Fields.ForName(f.Name)
			if tf == nil || tf.Type.String() != f.Type.String() {
				t.Errorf("%s.%s: %s is not MLflow's", name, f.Name, f.Type)
				continue
			}
			for _, a := range f.Arguments {
				if ta := tf.Arguments.ForName(a.Name); ta == nil || ta.Type.String() != a.Type.String() {
					t.Errorf("%s.%s(%s): %s is not MLflow's", name, f.Name, a.Name, a.Type)
				}
			}
		}
		for _, v := range def.EnumValues {
			if td.EnumValues.ForName(v.Name) == nil {
				t.Errorf("%s.%s is not MLflow's", name, v.Name)
			}
		}
	}
	if ours.Mutation != nil || ours.Subscription != nil {
		t.Error("the gateway's schema has a mutation or subscription type")
	}
}

// TestUIQueriesAreAdmitted reads every GraphQL operation in the installed MLflow UI's bundle and
// judges it as the UI sends it (Apollo Client's __typename added), with ids in its variables: the
// gateway must admit every query the UI makes, and the UI must make no mutation.
func TestUIQueriesAreAdmitted(t *testing.T) {
	_, dir := installedSchema(t)
	files, err := filepath.Glob(filepath.Join(dir, "server", "js", "build", "static", "js", "*.js"))
	if err != nil || len(files) == 0 {
		t.Fatalf("the UI's bundle: %v (%d files)", err, len(files))
	}
	op := regexp.MustCompile("`(\\s*(?:query|mutation|subscription) [A-Za-z_]+[^`]*)`")
	vars := map[string]map[string]any{
		"MlflowGetRunInput":                       {"runId": "r1"},
		"MlflowSearchRunsInput":                   {"experimentIds": []any{"1"}, "filter": "x"},
		"MlflowGetExperimentInput":                {"experimentId": "1"},
		"MlflowGetMetricHistoryBulkIntervalInput": {"runIds": []any{"r1"}, "metricKey": "m", "maxResults": 320},
	}
	found := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range op.FindAllStringSubmatch(string(src), -1) {
			text := strings.ReplaceAll(m[1], `\n`, "\n")
			if !strings.Contains(text, "{") {
				continue
			}
			doc, err := gqlparser.LoadQuery(mlflowgraphql.Schema(), text)
			if err != nil {
				t.Errorf("%s: the UI's operation does not validate against the gateway's schema: %v\n%s", filepath.Base(f), err, text)
				continue
			}
			found++
			o := doc.Operations[0]
			v := map[string]any{}
			for _, d := range o.VariableDefinitions {
				v[d.Variable] = vars[d.Type.Name()]
			}
			var b strings.Builder
			formatter.NewFormatter(&b).FormatQueryDocument(withTypename(doc))
			if _, err := mlflowgraphql.Judge(body(t, b.String(), v, o.Name)); err != nil {
				t.Errorf("%s: the UI's %s is refused: %v", filepath.Base(f), o.Name, err)
			}
		}
	}
	if found < 4 { // GetRun, SearchRuns, GetMetricHistoryBulkInterval, MlflowGetExperimentQuery in 3.17.2
		t.Fatalf("found %d of the UI's GraphQL operations, want at least 4", found)
	}
}

// withTypename adds __typename to every selection set below the operation's, as Apollo Client's
// InMemoryCache (addTypename) does before sending.
func withTypename(doc *ast.QueryDocument) *ast.QueryDocument {
	var add func(set ast.SelectionSet) ast.SelectionSet
	add = func(set ast.SelectionSet) ast.SelectionSet {
		for _, s := range set {
			if f, ok := s.(*ast.Field); ok && len(f.SelectionSet) > 0 {
				f.SelectionSet = append(add(f.SelectionSet), &ast.Field{Name: "__typename", Alias: "__typename"})
			}
		}
		return set
	}
	for _, o := range doc.Operations {
		add(o.SelectionSet)
	}
	return doc
}
