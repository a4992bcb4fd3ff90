package mlflowgraphql_test

import (
	"errors"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowgraphql"
)

// FuzzJudge: any body is admitted or refused with ErrInvalid, never a panic or another error; an
// admitted query names at least one resource per root field and stays within the bounds.
func FuzzJudge(f *testing.F) {
	f.Add([]byte(`{"query":"query Q($d: MlflowGetRunInput!) { mlflowGetRun(input: $d) { run { info { runId } modelVersions { name } } } }","variables":{"d":{"runId":"r"}}}`))
	f.Add([]byte(`{"query":"{ a: mlflowSearchRuns(input: {experimentIds: [\"1\"]}) { runs { ...F } } } fragment F on MlflowRunExtension { modelVersions { n: name } }"}`))
	f.Add([]byte(`{"query":"mutation { testMutation(inputString: \"x\") { output } }"}`))
	f.Add([]byte(`{"query":"{ __schema { types { name } } }","operationName":"x"}`))
	f.Add([]byte(`{"query":"query A { __typename } query B { mlflowGetExperiment(input: {experimentId: \"1\"}) { __typename } }","operationName":"B"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := mlflowgraphql.Judge(b)
		if err != nil {
			if !errors.Is(err, mlflowgraphql.ErrInvalid) {
				t.Fatalf("Judge = %v, not ErrInvalid", err)
			}
			return
		}
		if len(j.Fields) > mlflowgraphql.MaxRootFields || len(j.Refs) > mlflowgraphql.MaxResources {
			t.Fatalf("admitted %d root fields, %d resources", len(j.Fields), len(j.Refs))
		}
		if len(j.Fields) > 0 && len(j.Refs) == 0 {
			t.Fatalf("admitted root fields %v naming no resource", j.Fields)
		}
	})
}
