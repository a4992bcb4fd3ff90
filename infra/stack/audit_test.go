package stack_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/audit"
)

// functionLogGroups maps each function's name to the logical id of its log group.
func (s synthesized) functionLogGroups(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for id, f := range s.resources("AWS::Lambda::Function") {
		name := strings.TrimPrefix(f["Description"].(string), "Hokusai registry gateway: ")
		lc, _ := f["LoggingConfig"].(map[string]any)
		ref, _ := lc["LogGroup"].(map[string]any)["Ref"].(string)
		if ref == "" {
			t.Fatalf("%s (%s) has no log group of its own", name, id)
		}
		out[name] = ref
	}
	return out
}

// The audit log: its group with the environment's retention, a subscription filter with the
// audit pattern on the log group of exactly the emitting functions, to the audit function, which
// logs.amazonaws.com may invoke, and which may write to the audit group and no other.
func TestAuditLog(t *testing.T) {
	for env, days := range map[string]float64{"local": 1, "dev": 90, "staging": 365, "prod": 731} {
		t.Run(env, func(t *testing.T) {
			s := synth(t, env, nil)
			var groupID string
			for id, g := range s.resources("AWS::Logs::LogGroup") {
				if g["LogGroupName"] == "/hokusai/"+env+"/audit" {
					groupID = id
					if g["RetentionInDays"] != days {
						t.Errorf("retention %v, want %v", g["RetentionInDays"], days)
					}
				}
			}
			if groupID == "" {
				t.Fatal("no audit log group")
			}
			groups := s.functionLogGroups(t)
			fns := map[string]string{}
			for id, f := range s.resources("AWS::Lambda::Function") {
				fns[strings.TrimPrefix(f["Description"].(string), "Hokusai registry gateway: ")] = id
			}
			var filtered []string
			for id, f := range s.resources("AWS::Logs::SubscriptionFilter") {
				if f["FilterPattern"] != audit.FilterPattern {
					t.Errorf("%s: pattern %v", id, f["FilterPattern"])
				}
				if arn := fmtAny(f["DestinationArn"]); !strings.Contains(arn, fns["audit"]) {
					t.Errorf("%s: destination %s", id, arn)
				}
				ref, _ := f["LogGroupName"].(map[string]any)["Ref"].(string)
				for name, g := range groups {
					if g == ref {
						filtered = append(filtered, name)
					}
				}
			}
			slices.Sort(filtered)
			if !slices.Equal(filtered, []string{"keys", "mlflowproxy", "register"}) {
				t.Errorf("subscription filters on %v", filtered)
			}
			invokers := 0
			for _, p := range s.resources("AWS::Lambda::Permission") {
				if p["Principal"] == "logs.amazonaws.com" {
					invokers++
					if !strings.Contains(fmtAny(p["FunctionName"]), fns["audit"]) || p["SourceArn"] == nil {
						t.Errorf("permission %v", p)
					}
				}
			}
			if invokers != len(filtered) {
				t.Errorf("%d permissions for CloudWatch Logs, want one per filter", invokers)
			}
			if got := s.functionEnvironments(t)["audit"]["AUDIT_LOG_GROUP"]; !strings.Contains(got, groupID) && got != "/hokusai/"+env+"/audit" {
				t.Errorf("AUDIT_LOG_GROUP %q", got)
			}
			for id, p := range s.resources("AWS::IAM::Policy") {
				doc := fmtAny(p["PolicyDocument"])
				if !strings.Contains(fmtAny(p["Roles"]), "AuditFunction") {
					continue
				}
				for _, st := range p["PolicyDocument"].(map[string]any)["Statement"].([]any) {
					stmt := fmtAny(st)
					if strings.Contains(stmt, "logs:PutLogEvents") && !strings.Contains(stmt, groupID) &&
						!strings.Contains(stmt, "AuditFunctionLogs") {
						t.Errorf("%s: PutLogEvents beyond the audit group and its own logs: %s", id, doc)
					}
					if strings.Contains(stmt, `"*"`) && !strings.Contains(stmt, "xray") {
						t.Errorf("%s: a wildcard resource: %s", id, stmt)
					}
				}
			}
		})
	}
}
