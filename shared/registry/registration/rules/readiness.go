package rules

import (
	"fmt"
	"math"
	"regexp"
	"strings"
)

// Tolerance is how much worse than the baseline a current value may be and still count as at
// least as good (float noise from the evaluation, not a real regression).
const Tolerance = 1e-6

// valueRange is the values a metric can take.
type valueRange struct {
	min, max float64
	desc     string
}

func (r valueRange) contains(v float64) bool { return v >= r.min && v <= r.max }

var (
	unitInterval = valueRange{0, 1, "0 to 1"}
	nonNegative  = valueRange{0, math.Inf(1), "0 or more"}
	atMostOne    = valueRange{math.Inf(-1), 1, "at most 1"}
)

// deployMetrics are the metrics whose improvement makes a model ready to deploy (SPEC 5.3), with
// their ranges: classification metrics and rates 0–1, error metrics and engagement ≥ 0, r2 ≤ 1.
var deployMetrics = map[string]valueRange{
	"accuracy": unitInterval, "auroc": unitInterval, "auc": unitInterval, "f1": unitInterval,
	"f1_score": unitInterval, "precision": unitInterval, "recall": unitInterval,
	"reply_rate": unitInterval, "conversion_rate": unitInterval,
	"mse": nonNegative, "rmse": nonNegative, "mae": nonNegative, "engagement_score": nonNegative,
	"r2": atMostOne,
}

var deployMetricList = "accuracy, auroc, auc, f1, f1_score, precision, recall, mse, rmse, mae, r2, " +
	"reply_rate, conversion_rate, engagement_score"

// lowerIsBetter matches metric names where a smaller value is the better model.
var lowerIsBetter = regexp.MustCompile(`mse|rmse|mae|error|loss`)

// Readiness is whether a registration's model is ready to deploy, and by how much it moved.
type Readiness struct {
	Eligible bool
	// Reason says why not, when not eligible.
	Reason string
	// ImprovementPercentage is positive when the model got better; nil when the baseline is 0.
	ImprovementPercentage *float64
}

// AssessReadiness applies SPEC 5.3 to a metric (with or without its category: prefix) and its
// baseline and current values.
func AssessReadiness(metric string, baseline, current float64) Readiness {
	name := baseMetric(metric)
	lower := lowerIsBetter.MatchString(name)
	r := Readiness{ImprovementPercentage: improvement(baseline, current, lower)}
	rng, ok := deployMetrics[name]
	switch {
	case !ok:
		r.Reason = fmt.Sprintf("metric %q is not a deployment metric (%s)", name, deployMetricList)
	case !rng.contains(baseline):
		r.Reason = fmt.Sprintf("baseline_value %s is out of range for %s (%s)", formatValue(baseline), name, rng.desc)
	case !rng.contains(current):
		r.Reason = fmt.Sprintf("current_value %s is out of range for %s (%s)", formatValue(current), name, rng.desc)
	case lower && current > baseline+Tolerance:
		r.Reason = fmt.Sprintf("current_value %s is worse than baseline_value %s (lower is better for %s)",
			formatValue(current), formatValue(baseline), name)
	case !lower && current < baseline-Tolerance:
		r.Reason = fmt.Sprintf("current_value %s is worse than baseline_value %s (higher is better for %s)",
			formatValue(current), formatValue(baseline), name)
	default:
		r.Eligible = true
	}
	return r
}

// baseMetric strips the category: prefix.
func baseMetric(metric string) string {
	if _, name, ok := strings.Cut(metric, ":"); ok {
		return name
	}
	return metric
}

// improvement is the change from baseline to current in percent of |baseline|, positive when
// the model got better, rounded to 6 decimals so float noise does not show.
func improvement(baseline, current float64, lower bool) *float64 {
	if baseline == 0 {
		return nil
	}
	delta := current - baseline
	if lower {
		delta = -delta
	}
	p := delta / math.Abs(baseline) * 100
	switch {
	case math.IsInf(p, 0) || math.IsNaN(p):
		return nil // values near the float limits: no meaningful percentage
	case math.Abs(p) < 1e12:
		p = math.Round(p*1e6) / 1e6
	}
	if p == 0 {
		p = 0 // not -0, which JSON would show
	}
	return &p
}
