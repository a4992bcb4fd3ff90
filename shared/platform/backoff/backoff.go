// Package backoff is the one exponential backoff of the delivery code: the publisher's pause
// between PutEvents attempts, the outbox's next attempt of a registration and the webhook's
// visibility timeout all grow as Base·2^n up to a cap. The AWS SDK's retry.ExponentialJitterBackoff
// does not fit them: its base is fixed at one second and its jitter is full (anywhere in [0, d]),
// while the outbox needs a configured base and a wait never shorter than half the backoff, and the
// webhook's schedule is exact.
package backoff

import (
	"math"
	"math/rand/v2"
	"time"
)

// Exponential is the schedule Base·2^n, capped at Max (Max ≤ 0: no cap).
type Exponential struct {
	Base, Max time.Duration
}

// Delay is the n-th wait (n from 0: Base). It never overflows: a doubling past the cap, or past
// the largest Duration when there is none, is the cap.
func (e Exponential) Delay(n int) time.Duration {
	if e.Base <= 0 {
		return 0
	}
	limit := e.Max
	if limit <= 0 {
		limit = math.MaxInt64
	}
	n = max(n, 0)
	if n >= 63 || e.Base > limit>>n {
		return limit
	}
	return e.Base << n
}

// EqualJitter returns a duration in [d/2, d]: callers that failed together (a bus outage, a
// throttled burst) do not come back together, yet none waits less than half its backoff.
func EqualJitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d-d/2+1)
}
