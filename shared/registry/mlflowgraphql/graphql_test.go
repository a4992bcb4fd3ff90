package mlflowgraphql_test

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowgraphql"
)

func body(t testing.TB, query string, vars map[string]any, opName string) []byte {
	t.Helper()
	m := map[string]any{"query": query}
	if vars != nil {
		m["variables"] = vars
	}
	if opName != "" {
		m["operationName"] = opName
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func uiGetRun(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("testdata/ui-getrun.graphql")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func run(id string) mlflowgraphql.Ref { return mlflowgraphql.Ref{Kind: mlflowgraphql.Run, ID: id} }
func exp(id string) mlflowgraphql.Ref {
	return mlflowgraphql.Ref{Kind: mlflowgraphql.Experiment, ID: id}
}

// nested builds a query whose selection nests n levels below mlflowGetRun.
func nested(n int) string {
	return "{ mlflowGetRun(input: {runId: \"r\"}) " + strings.Repeat("{ run ", n) + "{ __typename }" + strings.Repeat(" }", n) + " }"
}

func TestJudge(t *testing.T) {
	manyRoots := "{"
	for i := range 11 {
		manyRoots += " a" + string(rune('a'+i)) + ": mlflowGetRun(input: {runId: \"r\"}) { __typename }"
	}
	manyRoots += " }"
	// f0 spreads f1 twice, f1 spreads f2 twice, …: 2^30 selections if expanded without a bound.
	var bomb strings.Builder
	bomb.WriteString("{ mlflowGetRun(input: {runId: \"r\"}) { run { ...f0 } } }\n")
	for i := range 30 {
		bomb.WriteString("fragment f" + strconv.Itoa(i) + " on MlflowRunExtension { ...f" + strconv.Itoa(i+1) + " ...f" + strconv.Itoa(i+1) + " }\n")
	}
	bomb.WriteString("fragment f30 on MlflowRunExtension { __typename }\n")

	tests := []struct {
		name    string
		body    []byte
		refs    []mlflowgraphql.Ref
		fields  []string
		filters bool
		invalid string // a fragment of the refusal; "" admits
	}{
		{name: "the UI's run page", body: body(t, uiGetRun(t), map[string]any{"data": map[string]any{"runId": "abc"}}, "GetRun"),
			refs: []mlflowgraphql.Ref{run("abc")}, fields: []string{"mlflowGetRun"}, filters: true},
		{name: "run id and uuid both checked", body: body(t, `{ mlflowGetRun(input: {runId: "a", runUuid: "b"}) { run { info { runId } } } }`, nil, ""),
			refs: []mlflowgraphql.Ref{run("a"), run("b")}},
		{name: "the UI's experiment query", body: body(t, `query MlflowGetExperimentQuery($input: MlflowGetExperimentInput!) @component(name: "MLflow.ExperimentRunTracking") {
  mlflowGetExperiment(input: $input) { apiError { code message } experiment { experimentId name tags { key value } __typename } __typename } }`,
			map[string]any{"input": map[string]any{"experimentId": "7"}}, ""), refs: []mlflowgraphql.Ref{exp("7")}},
		{name: "metric history: every run", body: body(t, `query Q($d: MlflowGetMetricHistoryBulkIntervalInput!) { mlflowGetMetricHistoryBulkInterval(input: $d) { metrics { runId value } } }`,
			map[string]any{"d": map[string]any{"runIds": []any{"r1", "r2", "r1", nil}, "metricKey": "loss", "maxResults": 320}}, ""),
			refs: []mlflowgraphql.Ref{run("r1"), run("r2")}},
		{name: "search runs: every experiment, versions filtered", body: body(t, `{ mlflowSearchRuns(input: {experimentIds: ["1", "2"]}) { runs { modelVersions { n: name version } } } }`, nil, ""),
			refs: []mlflowgraphql.Ref{exp("1"), exp("2")}, filters: true},
		{name: "aliases name each root field", body: body(t, `{ a: mlflowGetRun(input: {runId: "r1"}) { run { info { runId } } } b: mlflowGetRun(input: {runId: "r2"}) { x: run { y: info { runId } } } }`, nil, ""),
			refs: []mlflowgraphql.Ref{run("r1"), run("r2")}, fields: []string{"mlflowGetRun", "mlflowGetRun"}},
		{name: "a fragment's root field is judged", body: body(t, `query { ...F } fragment F on Query { mlflowGetExperiment(input: {experimentId: "9"}) { experiment { name } } }`, nil, ""),
			refs: []mlflowgraphql.Ref{exp("9")}},
		{name: "several operations: the named one", body: body(t, `query A { mlflowGetRun(input: {runId: "a"}) { __typename } } query B { mlflowGetRun(input: {runId: "b"}) { __typename } }`, nil, "B"),
			refs: []mlflowgraphql.Ref{run("b")}},
		{name: "skip does not hide a field from the check", body: body(t, `{ mlflowGetRun(input: {runId: "a"}) @skip(if: true) { __typename } }`, nil, ""),
			refs: []mlflowgraphql.Ref{run("a")}},

		{name: "not JSON", body: []byte(`query { x }`), invalid: "not a JSON object"},
		{name: "two JSON values", body: []byte(`{"query":"{ __typename }"} {}`), invalid: "more than one"},
		{name: "no query", body: []byte(`{"variables":{}}`), invalid: "no query"},
		{name: "query not a string", body: []byte(`{"query": 7}`), invalid: "not a JSON object"},
		{name: "does not parse", body: body(t, `{ mlflowGetRun(input: {runId: "a"} { __typename } }`, nil, ""), invalid: "does not parse"},
		{name: "mutation", body: body(t, `mutation { mlflowSearchRuns(input: {experimentIds: ["1"]}) { runs { info { runId } } } }`, nil, ""), invalid: "only queries"},
		{name: "a mutation beside the query", body: body(t, `query A { mlflowGetRun(input: {runId: "a"}) { __typename } } mutation B { testMutation(inputString: "x") { output } }`, nil, "A"), invalid: "only queries"},
		{name: "subscription", body: body(t, `subscription { mlflowGetRun(input: {runId: "a"}) { __typename } }`, nil, ""), invalid: "only queries"},
		{name: "search of model versions is not served", body: body(t, `{ mlflowSearchModelVersions(input: {filter: "name='m'"}) { modelVersions { name } } }`, nil, ""), invalid: "not one of MLflow's read queries"},
		{name: "the echo field", body: body(t, `{ test(inputString: "x") { output } }`, nil, ""), invalid: "not one of"},
		{name: "unknown nested field", body: body(t, `{ mlflowGetRun(input: {runId: "a"}) { run { secret } } }`, nil, ""), invalid: "not one of"},
		{name: "introspection of the schema", body: body(t, `{ __schema { types { name } } }`, nil, ""), invalid: "introspection"},
		{name: "introspection of a type", body: body(t, `{ __type(name: "MlflowRun") { name } }`, nil, ""), invalid: "introspection"},
		{name: "root __typename alone names nothing", body: body(t, `{ __typename }`, nil, ""), refs: nil},
		{name: "a fragment spreading a forbidden field", body: body(t, `query { mlflowGetRun(input: {runId: "a"}) { ...F } } fragment F on MlflowGetRunResponse { run { info { runId } } } fragment G on Query { mlflowSearchModelVersions(input: {}) { modelVersions { name } } }`, nil, ""), invalid: "not one of"},
		{name: "a fragment spreading introspection", body: body(t, `query { mlflowGetRun(input: {runId: "a"}) { ...F } } fragment F on MlflowGetRunResponse { __schema { types { name } } }`, nil, ""), invalid: "not one of"},
		{name: "no input", body: body(t, `{ mlflowGetRun { run { info { runId } } } }`, nil, ""), invalid: "names no run"},
		{name: "empty id", body: body(t, `{ mlflowGetRun(input: {runId: ""}) { __typename } }`, nil, ""), invalid: "names no run"},
		{name: "search of no experiment", body: body(t, `{ mlflowSearchRuns(input: {filter: "x"}) { runs { info { runId } } } }`, nil, ""), invalid: "names no experiment"},
		{name: "variable of the wrong type", body: body(t, `query Q($d: MlflowGetRunInput!) { mlflowGetRun(input: $d) { __typename } }`, map[string]any{"d": map[string]any{"runId": 7}}, ""), invalid: "variables"},
		{name: "variable with an unknown field", body: body(t, `query Q($d: MlflowGetRunInput!) { mlflowGetRun(input: $d) { __typename } }`, map[string]any{"d": map[string]any{"experimentId": "1"}}, ""), invalid: "variables"},
		{name: "missing required variable", body: body(t, `query Q($d: MlflowGetRunInput!) { mlflowGetRun(input: $d) { __typename } }`, nil, ""), invalid: "variables"},
		{name: "undeclared variable", body: body(t, `{ mlflowGetRun(input: {runId: $x}) { __typename } }`, nil, ""), invalid: "not one of"},
		{name: "several operations, none named", body: body(t, `query A { __typename } query B { __typename }`, nil, ""), invalid: "operationName must name one"},
		{name: "operationName naming none", body: body(t, `query A { __typename }`, nil, "C"), invalid: "no operation named"},
		{name: "modelVersions without name", body: body(t, `{ mlflowGetRun(input: {runId: "a"}) { run { modelVersions { version } } } }`, nil, ""), invalid: "must select name"},
		{name: "deeper than the schema", body: body(t, nested(12), nil, ""), invalid: "not one of"}, // no type nests in itself
		{name: "too many root fields", body: body(t, manyRoots, nil, ""), invalid: "more than 10 root fields"},
		{name: "fragment bomb", body: body(t, bomb.String(), nil, ""), invalid: "more than 1000 selections"},
		{name: "fragment cycle", body: body(t, `query { mlflowGetRun(input: {runId: "a"}) { ...F } } fragment F on MlflowGetRunResponse { ...G } fragment G on MlflowGetRunResponse { ...F }`, nil, ""), invalid: "not one of"},
		{name: "too long", body: body(t, "{ __typename "+strings.Repeat(" ", mlflowgraphql.MaxBody)+"}", nil, ""), invalid: "over"},
		{name: "too many tokens", body: body(t, "{ "+strings.Repeat("a ", mlflowgraphql.MaxTokens)+"}", nil, ""), invalid: "does not parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := mlflowgraphql.Judge(tt.body)
			if tt.invalid != "" {
				if !errors.Is(err, mlflowgraphql.ErrInvalid) || !strings.Contains(err.Error(), tt.invalid) {
					t.Fatalf("Judge = %v, want ErrInvalid with %q", err, tt.invalid)
				}
				return
			}
			if err != nil {
				t.Fatalf("Judge: %v", err)
			}
			if !slices.Equal(j.Refs, tt.refs) {
				t.Errorf("Refs = %v, want %v", j.Refs, tt.refs)
			}
			if tt.fields != nil && !slices.Equal(j.Fields, tt.fields) {
				t.Errorf("Fields = %v, want %v", j.Fields, tt.fields)
			}
			if j.Filters() != tt.filters {
				t.Errorf("Filters = %v, want %v", j.Filters(), tt.filters)
			}
		})
	}
}

func TestFilterAnswer(t *testing.T) {
	q := `{ a: mlflowSearchRuns(input: {experimentIds: ["1"]}) { runs { modelVersions { n: name version } } } b: mlflowGetRun(input: {runId: "r"}) { run { modelVersions { name } } } }`
	j, err := mlflowgraphql.Judge(body(t, q, nil, ""))
	if err != nil {
		t.Fatal(err)
	}
	answer := `{"data": {"a": {"runs": [{"modelVersions": [{"n": "mine", "version": "1"}, {"n": "theirs", "version": "2"}]}, {"modelVersions": null}]},
		"b": {"run": {"modelVersions": [{"name": "theirs"}, {"name": "mine"}, {}]}}}, "errors": null}`
	asked := map[string]int{}
	got, err := j.FilterAnswer([]byte(answer), func(m string) (bool, error) { asked[m]++; return m == "mine", nil })
	if err != nil {
		t.Fatal(err)
	}
	want := `{"data":{"a":{"runs":[{"modelVersions":[{"n":"mine","version":"1"}]},{"modelVersions":null}]},"b":{"run":{"modelVersions":[{"name":"mine"}]}}},"errors":null}`
	if string(got) != want {
		t.Errorf("FilterAnswer =\n%s\nwant\n%s", got, want)
	}
	if asked["mine"] != 1 || asked["theirs"] != 1 {
		t.Errorf("asked %v, want each model once", asked)
	}
	if _, err := j.FilterAnswer([]byte(`<html>`), func(string) (bool, error) { return true, nil }); err == nil {
		t.Error("FilterAnswer of a non-JSON answer: no error")
	}
	boom := errors.New("store down")
	if _, err := j.FilterAnswer([]byte(answer), func(string) (bool, error) { return false, boom }); !errors.Is(err, boom) {
		t.Errorf("FilterAnswer with a failing check = %v, want it", err)
	}
}
