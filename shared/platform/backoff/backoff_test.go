package backoff_test

import (
	"math"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/backoff"
)

func TestExponentialDelay(t *testing.T) {
	const s, m = time.Second, time.Minute
	for _, tc := range []struct {
		name      string
		base, max time.Duration
		n         int
		want      time.Duration
	}{
		{"first wait is the base", 30 * s, 15 * m, 0, 30 * s},
		{"doubles", 30 * s, 15 * m, 1, m},
		{"doubles again", 30 * s, 15 * m, 4, 8 * m},
		{"capped", 30 * s, 15 * m, 5, 15 * m},
		{"a doubling exactly at the cap", 60 * s, 16 * m, 4, 16 * m},
		{"far past the cap", 30 * s, 15 * m, 40, 15 * m},
		{"a shift that would overflow", 30 * s, 15 * m, 62, 15 * m},
		{"a shift wider than a Duration", 30 * s, 15 * m, 1000, 15 * m},
		{"negative n is the first wait", 30 * s, 15 * m, -3, 30 * s},
		{"no cap", 100 * time.Millisecond, 0, 3, 800 * time.Millisecond},
		{"no cap, overflowing", time.Hour, 0, 40, math.MaxInt64},
		{"no base, no wait", 0, 15 * m, 3, 0},
		{"base above the cap", 20 * m, 15 * m, 0, 15 * m},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (backoff.Exponential{Base: tc.base, Max: tc.max}).Delay(tc.n); got != tc.want {
				t.Errorf("Delay(%d) of %s..%s = %s, want %s", tc.n, tc.base, tc.max, got, tc.want)
			}
		})
	}
}

func TestEqualJitter(t *testing.T) {
	for _, tc := range []struct {
		d       time.Duration
		spreads bool // more than one value comes out
	}{
		{0, false}, {1, false}, {2, true}, {3, true}, {time.Second, true}, {15 * time.Minute, true},
		{math.MaxInt64, true},
	} {
		seen := map[time.Duration]bool{}
		for range 500 {
			j := backoff.EqualJitter(tc.d)
			if j < tc.d/2 || j > tc.d {
				t.Fatalf("EqualJitter(%s) = %s, outside [d/2, d]", tc.d, j)
			}
			seen[j] = true
		}
		if tc.spreads != (len(seen) > 1) {
			t.Errorf("EqualJitter(%s) gave %d distinct values in 500 draws", tc.d, len(seen))
		}
	}
}
