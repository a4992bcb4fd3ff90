package authorizer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/authservice"
)

// outage is one container's memory of the auth service's last failure, a circuit breaker that one
// failure opens. Without it, every request of an outage asks the dead service again and, when it
// hangs, waits the whole AUTH_SERVICE_TIMEOUT before the grace or the 503. While it is open,
// lookups that need the service fail at once (the grace still stands in); once the window has
// passed, one request probes the service while the others keep failing at once, and the probe's
// answer closes the breaker or opens it for another window.
//
// Only unavailability counts: a 401 or a 429 is the service working. A call its own caller
// cancelled says nothing about the service and changes nothing.
type outage struct {
	window time.Duration
	log    *slog.Logger

	mu      sync.Mutex
	until   time.Time // open until then; zero when closed
	probing bool      // the one call after the window is under way
}

// errOutage is a lookup that did not ask the service; it is unavailable like the failure it follows.
var errOutage = fmt.Errorf("%w: it failed moments ago and is not asked again before AUTH_SERVICE_OUTAGE_WINDOW has passed",
	authservice.ErrUnavailable)

// call asks the service through ask unless the breaker is open; asked is false when it did not.
func (o *outage) call(ctx context.Context, now func() time.Time, ask func() (authservice.Result, error)) (res authservice.Result, asked bool, err error) {
	if !o.enter(now()) {
		return authservice.Result{}, false, errOutage
	}
	res, err = ask()
	failed := errors.Is(err, authservice.ErrUnavailable)
	// A caller's deadline that ran out first still means the service was too slow; a cancellation
	// means the caller went away.
	o.leave(now(), failed, failed && errors.Is(ctx.Err(), context.Canceled))
	return res, true, err
}

// enter says whether a call may go to the service at now, making it the probe when the window has
// just passed.
func (o *outage) enter(now time.Time) bool {
	if o.window <= 0 {
		return true
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case o.until.IsZero():
		return true
	case o.probing || now.Before(o.until):
		return false
	}
	o.probing = true
	return true
}

// leave records a call's outcome at now; abandoned is a failure of the caller's own making.
func (o *outage) leave(now time.Time, failed, abandoned bool) {
	if o.window <= 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.probing = false
	switch {
	case abandoned:
	case failed:
		if o.until.IsZero() {
			// event is stable, for a CloudWatch metric filter across containers.
			o.log.Warn("auth service failed; not asking it again for AUTH_SERVICE_OUTAGE_WINDOW",
				"event", "auth.outage_opened", "window", o.window.String())
		}
		o.until = now.Add(o.window)
	case !o.until.IsZero():
		o.log.Info("auth service answers again", "event", "auth.outage_closed")
		o.until = time.Time{}
	}
}
