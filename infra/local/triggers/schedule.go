package triggers

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Schedule is a parsed EventBridge ScheduleExpression.
type Schedule interface {
	// Next is the first firing strictly after t, in UTC; the zero time when there is none.
	Next(t time.Time) time.Time
}

var (
	rateExpr = regexp.MustCompile(`^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$`)
	cronExpr = regexp.MustCompile(`^cron\((.*)\)$`)
)

// ParseSchedule parses "rate(N minute|minutes|hour|hours|day|days)" and the common subset of
// EventBridge's six-field "cron(minutes hours day-of-month month day-of-week year)": numbers,
// JAN–DEC and SUN–SAT, *, ?, lists, ranges and steps. L, W and # are rejected, not ignored, so
// a schedule never fires at times the deployed one would not.
func ParseSchedule(expr string) (Schedule, error) {
	expr = strings.TrimSpace(expr)
	if m := rateExpr.FindStringSubmatch(expr); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("schedule %q: the rate must be a positive number", expr)
		}
		unit := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}[strings.TrimSuffix(m[2], "s")]
		return rate(time.Duration(n) * unit), nil
	}
	if m := cronExpr.FindStringSubmatch(expr); m != nil {
		c, err := parseCron(m[1])
		if err != nil {
			return nil, fmt.Errorf("schedule %q: %w", expr, err)
		}
		return c, nil
	}
	return nil, fmt.Errorf("schedule %q: not rate(…) or cron(…)", expr)
}

// rate fires every period after the time it is asked from, as EventBridge's rate schedules run
// relative to when the rule was created, not aligned to the clock.
type rate time.Duration

func (r rate) Next(t time.Time) time.Time { return t.UTC().Add(time.Duration(r)) }

// cron is a parsed cron expression; fields are sets of allowed values.
type cron struct {
	minute, hour, dom, month, dow, year field
}

// field is the set of values allowed in one cron field; a "?" field allows all.
type field struct {
	question bool
	allowed  []bool // by value - lo
	lo       int
}

func (f field) has(v int) bool {
	i := v - f.lo
	return i >= 0 && i < len(f.allowed) && f.allowed[i]
}

var (
	monthNames = []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}
	dayNames   = []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}
)

func parseCron(s string) (*cron, error) {
	parts := strings.Fields(s)
	if len(parts) != 6 {
		return nil, fmt.Errorf("cron needs 6 fields (minutes hours day-of-month month day-of-week year), got %d", len(parts))
	}
	specs := []struct {
		name          string
		lo, hi        int
		names         []string
		questionMarks bool
	}{
		{"minutes", 0, 59, nil, false},
		{"hours", 0, 23, nil, false},
		{"day-of-month", 1, 31, nil, true},
		{"month", 1, 12, monthNames, false},
		{"day-of-week", 1, 7, dayNames, true},
		{"year", 1970, 2199, nil, false},
	}
	fields := make([]field, len(parts))
	for i, sp := range specs {
		f, err := parseField(parts[i], sp.lo, sp.hi, sp.names, sp.questionMarks)
		if err != nil {
			return nil, fmt.Errorf("%s field %q: %w", sp.name, parts[i], err)
		}
		fields[i] = f
	}
	c := &cron{minute: fields[0], hour: fields[1], dom: fields[2], month: fields[3], dow: fields[4], year: fields[5]}
	if c.dom.question == c.dow.question {
		return nil, errors.New("exactly one of day-of-month and day-of-week must be ?")
	}
	return c, nil
}

func parseField(s string, lo, hi int, names []string, questionOK bool) (field, error) {
	f := field{lo: lo, allowed: make([]bool, hi-lo+1)}
	if s == "?" {
		if !questionOK {
			return f, errors.New("? is only allowed in day-of-month and day-of-week")
		}
		f.question = true
		for i := range f.allowed {
			f.allowed[i] = true
		}
		return f, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		rng, stepStr, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepStr)
			if err != nil || n <= 0 {
				return f, fmt.Errorf("bad step %q", stepStr)
			}
			step = n
		}
		first, last := lo, hi
		switch {
		case rng == "*":
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err error
			if first, err = value(a, lo, hi, names); err != nil {
				return f, err
			}
			if last, err = value(b, lo, hi, names); err != nil {
				return f, err
			}
			if first > last {
				return f, fmt.Errorf("range %q runs backwards", rng)
			}
		default:
			v, err := value(rng, lo, hi, names)
			if err != nil {
				return f, err
			}
			first = v
			if !hasStep {
				last = v // "5" is one value; "5/10" runs from 5 to the end
			}
		}
		for v := first; v <= last; v += step {
			f.allowed[v-lo] = true
		}
	}
	return f, nil
}

// value is a number or a name (names[0] standing for lo) within [lo, hi].
func value(s string, lo, hi int, names []string) (int, error) {
	for i, n := range names {
		if strings.EqualFold(s, n) {
			return lo + i, nil
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil && strings.ContainsAny(strings.ToUpper(s), "LW#") {
		return 0, fmt.Errorf("%q: L, W and # are not supported by the local harness", s)
	}
	if err != nil {
		return 0, fmt.Errorf("%q is not a number or name", s)
	}
	if v < lo || v > hi {
		return 0, fmt.Errorf("%d is outside %d–%d", v, lo, hi)
	}
	return v, nil
}

func (c *cron) Next(t time.Time) time.Time {
	t = t.UTC().Truncate(time.Minute).Add(time.Minute)
	for t.Year() <= 2199 {
		y, mo, d := t.Date()
		switch {
		case !c.year.has(y):
			t = time.Date(y+1, time.January, 1, 0, 0, 0, 0, time.UTC)
		case !c.month.has(int(mo)):
			t = time.Date(y, mo+1, 1, 0, 0, 0, 0, time.UTC)
		case !c.dayMatches(t):
			t = time.Date(y, mo, d+1, 0, 0, 0, 0, time.UTC)
		case !c.hour.has(t.Hour()):
			t = t.Truncate(time.Hour).Add(time.Hour)
		case !c.minute.has(t.Minute()):
			t = t.Add(time.Minute)
		default:
			return t
		}
	}
	return time.Time{}
}

// dayMatches checks whichever of day-of-month and day-of-week is not "?"; EventBridge numbers
// the days of the week from 1 for Sunday.
func (c *cron) dayMatches(t time.Time) bool {
	if c.dom.question {
		return c.dow.has(int(t.Weekday()) + 1)
	}
	return c.dom.has(t.Day())
}
