package rules_test

import (
	"math"
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/rules"
)

func TestReadinessCoversEveryMetric(t *testing.T) {
	// Every deployment metric, at the edges of its range and just beyond them.
	for _, tc := range []struct {
		metric        string
		lowerIsBetter bool
		inRange       []float64
		outOfRange    []float64
		better, worse [2]float64 // baseline, current
	}{
		{"accuracy", false, []float64{0, 0.5, 1}, []float64{-0.01, 1.01}, [2]float64{0.8, 0.9}, [2]float64{0.9, 0.8}},
		{"auroc", false, []float64{0, 1}, []float64{-1, 2}, [2]float64{0.7, 0.71}, [2]float64{0.71, 0.7}},
		{"auc", false, []float64{0, 1}, []float64{-0.5, 1.5}, [2]float64{0.5, 0.6}, [2]float64{0.6, 0.5}},
		{"f1", false, []float64{0, 1}, []float64{-0.1, 1.1}, [2]float64{0.5, 0.6}, [2]float64{0.6, 0.5}},
		{"f1_score", false, []float64{0, 1}, []float64{-0.1, 1.1}, [2]float64{0.5, 0.6}, [2]float64{0.6, 0.5}},
		{"precision", false, []float64{0, 1}, []float64{-0.1, 1.1}, [2]float64{0.5, 0.6}, [2]float64{0.6, 0.5}},
		{"recall", false, []float64{0, 1}, []float64{-0.1, 1.1}, [2]float64{0.5, 0.6}, [2]float64{0.6, 0.5}},
		{"reply_rate", false, []float64{0, 1}, []float64{-0.1, 1.1}, [2]float64{0.1342, 0.15}, [2]float64{0.15, 0.1342}},
		{"conversion_rate", false, []float64{0, 1}, []float64{-0.1, 1.1}, [2]float64{0.02, 0.03}, [2]float64{0.03, 0.02}},
		{"engagement_score", false, []float64{0, 1, 1000}, []float64{-0.1}, [2]float64{10, 12}, [2]float64{12, 10}},
		{"mse", true, []float64{0, 5, 1e9}, []float64{-0.1}, [2]float64{0.5, 0.4}, [2]float64{0.4, 0.5}},
		{"rmse", true, []float64{0, 5}, []float64{-0.1}, [2]float64{0.5, 0.4}, [2]float64{0.4, 0.5}},
		{"mae", true, []float64{0, 5}, []float64{-0.1}, [2]float64{0.5, 0.4}, [2]float64{0.4, 0.5}},
		{"r2", false, []float64{-3, 0, 1}, []float64{1.01}, [2]float64{0.5, 0.6}, [2]float64{0.6, 0.5}},
	} {
		t.Run(tc.metric, func(t *testing.T) {
			for _, name := range []string{tc.metric, "sales:" + tc.metric} {
				for _, v := range tc.inRange {
					if r := rules.AssessReadiness(name, v, v); !r.Eligible {
						t.Errorf("%s at %g (equal to baseline): %s", name, v, r.Reason)
					}
				}
				for _, v := range tc.outOfRange {
					if r := rules.AssessReadiness(name, v, tc.better[1]); r.Eligible || !strings.Contains(r.Reason, "baseline_value") {
						t.Errorf("%s baseline %g out of range: %+v", name, v, r)
					}
					if r := rules.AssessReadiness(name, tc.better[0], v); r.Eligible || !strings.Contains(r.Reason, "current_value") {
						t.Errorf("%s current %g out of range: %+v", name, v, r)
					}
				}
				better := rules.AssessReadiness(name, tc.better[0], tc.better[1])
				if !better.Eligible || better.ImprovementPercentage == nil || *better.ImprovementPercentage <= 0 {
					t.Errorf("%s improved %v: %+v", name, tc.better, better)
				}
				worse := rules.AssessReadiness(name, tc.worse[0], tc.worse[1])
				if worse.Eligible || !strings.Contains(worse.Reason, "worse") || *worse.ImprovementPercentage >= 0 {
					t.Errorf("%s regressed %v: %+v", name, tc.worse, worse)
				}
				wantDirection := "higher is better"
				if tc.lowerIsBetter {
					wantDirection = "lower is better"
				}
				if !strings.Contains(worse.Reason, wantDirection) {
					t.Errorf("%s: reason %q does not say %q", name, worse.Reason, wantDirection)
				}
			}
		})
	}
}

func TestReadinessRules(t *testing.T) {
	pct := func(f float64) *float64 { return &f }
	for _, tc := range []struct {
		name              string
		metric            string
		baseline, current float64
		eligible          bool
		reason            string // substring
		improvement       *float64
	}{
		{"higher is better: +10%", "accuracy", 0.8, 0.88, true, "", pct(10)},
		{"lower is better: a drop is an improvement", "rmse", 0.5, 0.4, true, "", pct(20)},
		{"lower is better: a rise is a regression", "mae", 0.4, 0.5, false, "worse", pct(-25)},
		{"within tolerance below the baseline", "accuracy", 0.8, 0.8 - 0.9e-6, true, "", nil},
		{"beyond tolerance below the baseline", "accuracy", 0.8, 0.8 - 2e-6, false, "worse", nil},
		{"within tolerance above an error baseline", "mse", 0.3, 0.3 + 0.9e-6, true, "", nil},
		{"beyond tolerance above an error baseline", "mse", 0.3, 0.3 + 2e-6, false, "worse", nil},
		{"zero baseline: no percentage", "engagement_score", 0, 5, true, "", nil},
		{"negative baseline (r2): percentage over |baseline|", "r2", -0.5, -0.25, true, "", pct(50)},
		{"category prefix stripped", "gtm:reply_rate", 0.1, 0.2, true, "", pct(100)},
		{"unknown metric", "latency_ms", 10, 5, false, "not a deployment metric", nil},
		{"a name that only contains a known one", "accuracy_top5", 0.5, 0.6, false, "not a deployment metric", nil},
		{"dotted name", "accuracy.top1", 0.5, 0.6, false, "not a deployment metric", nil},
		{"loss names are lower-is-better", "loss", 1, 0.5, false, "not a deployment metric", pct(50)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rules.AssessReadiness(tc.metric, tc.baseline, tc.current)
			if r.Eligible != tc.eligible || !strings.Contains(r.Reason, tc.reason) || (tc.eligible && r.Reason != "") {
				t.Errorf("%+v", r)
			}
			if tc.baseline == 0 && r.ImprovementPercentage != nil {
				t.Errorf("improvement over a zero baseline: %v", *r.ImprovementPercentage)
			}
			if tc.improvement != nil && (r.ImprovementPercentage == nil || math.Abs(*r.ImprovementPercentage-*tc.improvement) > 1e-9) {
				t.Errorf("improvement %v, want %v", deref(r.ImprovementPercentage), *tc.improvement)
			}
		})
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
