package triggers

import (
	"strings"
	"testing"
	"time"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestRate(t *testing.T) {
	for expr, every := range map[string]time.Duration{
		"rate(1 minute)":   time.Minute,
		"rate(5 minutes)":  5 * time.Minute,
		"rate(1 hour)":     time.Hour,
		"rate(12 hours)":   12 * time.Hour,
		"rate(1 day)":      24 * time.Hour,
		"rate( 3  days )":  72 * time.Hour,
		" rate(2 minutes)": 2 * time.Minute,
	} {
		s, err := ParseSchedule(expr)
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		from := at("2026-03-10T11:59:30Z")
		if got := s.Next(from); !got.Equal(from.Add(every)) {
			t.Errorf("%s: Next(%s) = %s, want %s later", expr, from, got, every)
		}
	}
}

func TestCronNext(t *testing.T) {
	for _, tc := range []struct {
		expr, from, want string // want "" for no further firing
	}{
		{"cron(0 12 * * ? *)", "2026-03-10T11:59:30Z", "2026-03-10T12:00:00Z"},
		{"cron(0 12 * * ? *)", "2026-03-10T12:00:00Z", "2026-03-11T12:00:00Z"},
		{"cron(* * * * ? *)", "2026-03-10T12:00:59Z", "2026-03-10T12:01:00Z"},
		{"cron(0/15 * * * ? *)", "2026-03-10T10:07:00Z", "2026-03-10T10:15:00Z"},
		{"cron(*/15 * * * ? *)", "2026-03-10T10:45:00Z", "2026-03-10T11:00:00Z"},
		{"cron(10-30/10 * * * ? *)", "2026-03-10T10:25:00Z", "2026-03-10T10:30:00Z"},
		{"cron(10-30/10 * * * ? *)", "2026-03-10T10:30:00Z", "2026-03-10T11:10:00Z"},
		{"cron(5,35 9-10 * * ? *)", "2026-03-10T10:35:00Z", "2026-03-11T09:05:00Z"},
		// 2026-03-13 is a Friday.
		{"cron(0 8 ? * MON-FRI *)", "2026-03-13T09:00:00Z", "2026-03-16T08:00:00Z"},
		{"cron(0 8 ? * 2-6 *)", "2026-03-13T07:00:00Z", "2026-03-13T08:00:00Z"},
		{"cron(0 0 ? * 1 *)", "2026-03-13T00:00:00Z", "2026-03-15T00:00:00Z"}, // 1 is Sunday
		{"cron(0 18 ? * sun,WED *)", "2026-03-15T18:00:00Z", "2026-03-18T18:00:00Z"},
		{"cron(30 2 1 * ? *)", "2026-01-31T03:00:00Z", "2026-02-01T02:30:00Z"},
		{"cron(0 0 31 * ? *)", "2026-04-01T00:00:00Z", "2026-05-31T00:00:00Z"},
		{"cron(0 0 29 FEB ? *)", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z"},
		{"cron(15 10 ? JUL-AUG MON 2027)", "2026-06-01T00:00:00Z", "2027-07-05T10:15:00Z"},
		{"cron(0 0 1 jan ? 2026)", "2026-06-01T00:00:00Z", ""},
		{"cron(0 0 31 2 ? *)", "2026-01-01T00:00:00Z", ""},
	} {
		s, err := ParseSchedule(tc.expr)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		got := s.Next(at(tc.from))
		switch {
		case tc.want == "" && !got.IsZero():
			t.Errorf("%s: Next(%s) = %s, want none", tc.expr, tc.from, got)
		case tc.want != "" && !got.Equal(at(tc.want)):
			t.Errorf("%s: Next(%s) = %s, want %s", tc.expr, tc.from, got, tc.want)
		}
	}
}

func TestParseScheduleRejects(t *testing.T) {
	for expr, why := range map[string]string{
		"rate(0 minutes)":            "positive",
		"rate(5 weeks)":              "not rate",
		"every 5 minutes":            "not rate",
		"cron(0 12 * * ?)":           "6 fields",
		"cron(0 12 * * * *)":         "exactly one",
		"cron(0 12 ? * ? *)":         "exactly one",
		"cron(? 12 * * ? *)":         "only allowed",
		"cron(0 12 L * ? *)":         "not supported",
		"cron(0 12 15W * ? *)":       "not supported",
		"cron(0 12 ? * 6#3 *)":       "not supported",
		"cron(0 12 ? * 6L *)":        "not supported",
		"cron(60 * * * ? *)":         "outside",
		"cron(0 12 * 13 ? *)":        "outside",
		"cron(0 12 * * ? 2300)":      "outside",
		"cron(5-1 * * * ? *)":        "backwards",
		"cron(*/0 * * * ? *)":        "step",
		"cron(0 12 ? * FRI-MON *)":   "backwards",
		"cron(0 12 ? * FUNDAY *)":    "not a number",
		"cron(0 12 1 * ? *) trailer": "not rate",
	} {
		_, err := ParseSchedule(expr)
		if err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("%s: err = %v, want one saying %q", expr, err, why)
		}
	}
}
