// Package outbox re-publishes the events registrations still owe: the ones PutEvents could not
// send while the client waited (SPEC section 7, delivery guarantee). A schedule runs it every
// minute; each run publishes what is due, backs off what fails, and reports how long the oldest
// owed event has waited.
package outbox

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/backoff"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
)

// Store is the part of the registrations store the outbox uses; *regstore.Store satisfies it.
// The items owing events are registrations and the registry changes the MLflow proxy could not
// publish (regstore.ChangePK); both are addressed by their key, pk.
type Store interface {
	// ListPending returns up to limit items with pending events due at or before now.
	ListPending(ctx context.Context, now time.Time, limit int) ([]regstore.Registration, error)
	// MarkPublishedItem records that the events of item pk went out.
	MarkPublishedItem(ctx context.Context, pk string, eventIDs []string) error
	// RecordFailureItem counts a failed attempt on item pk's pending events and makes them due
	// again at next.
	RecordFailureItem(ctx context.Context, pk, errMsg string, next time.Time) error
}

// Publisher sends a registration's events; *eventpub.Publisher satisfies it.
type Publisher interface {
	Publish(ctx context.Context, evs []regstore.Event) (published []string, err error)
}

// Defaults of the Relay's tuning fields.
const (
	DefaultReserve     = 3 * time.Second
	DefaultMaxPages    = 20
	DefaultSurveyLimit = 500
)

// surveyHorizon reaches past every pending registration's next attempt: none is scheduled
// further ahead than MaxBackoff, which is minutes.
const surveyHorizon = 24 * time.Hour

// maxErrorLen bounds the error kept on the record; EventBridge's messages are short, but the
// record must stay far from DynamoDB's item limit whatever they say.
const maxErrorLen = 1000

// Relay moves owed events from the store to the bus.
type Relay struct {
	Store     Store
	Publisher Publisher
	Log       *slog.Logger
	// Metrics receives one CloudWatch embedded-metric-format line per run (the function's stdout).
	Metrics     io.Writer
	Environment string

	Batch                   int
	BaseBackoff, MaxBackoff time.Duration
	// Reserve is the time kept before the invocation's deadline for the survey and the metric:
	// no registration is started later than that (0: DefaultReserve).
	Reserve time.Duration
	// MaxPages bounds the store queries per run, so a store that keeps answering the same
	// registrations cannot hold the function until its deadline (0: DefaultMaxPages).
	MaxPages int
	// SurveyLimit bounds the registrations read to count what remains (0: DefaultSurveyLimit).
	SurveyLimit int

	// Now and Jitter are the clock and the backoff's randomness; tests replace them.
	Now    func() time.Time
	Jitter func(time.Duration) time.Duration
}

// New returns a Relay configured by cfg.
func New(cfg Config, store Store, pub Publisher, log *slog.Logger, metrics io.Writer) *Relay {
	return &Relay{
		Store: store, Publisher: pub, Log: log, Metrics: metrics, Environment: cfg.Environment,
		Batch: cfg.Batch, BaseBackoff: cfg.BaseBackoff, MaxBackoff: cfg.MaxBackoff,
		Now: time.Now, Jitter: backoff.EqualJitter,
	}
}

// Summary is what one run did and what it left.
type Summary struct {
	Registrations int // registrations attempted
	Published     int // events published
	Failed        int // registrations left with pending events (backed off)
	StoppedEarly  bool
	// Remaining counts the registrations still owing events after the run, due or backed off;
	// at least this many when RemainingCapped.
	Remaining       int
	RemainingCapped bool
	// OldestPending is how long the oldest registration still owing events has waited (0: none).
	OldestPending time.Duration
}

// Handle is the scheduled Lambda handler: one run, its summary logged and its metric written.
// It fails only when the store cannot be read, so the function's error alarm means exactly that.
func (r *Relay) Handle(ctx context.Context) error {
	s, err := r.Run(ctx)
	log := r.Log.With("registrations", s.Registrations, "published", s.Published, "failed", s.Failed,
		"remaining", s.Remaining, "remaining_capped", s.RemainingCapped,
		"oldest_pending_seconds", int64(s.OldestPending.Seconds()), "stopped_early", s.StoppedEarly)
	if err != nil {
		log.Error("outbox run failed", "error", err)
		return err
	}
	if s.Failed > 0 {
		log.Warn("outbox run")
	} else {
		log.Info("outbox run")
	}
	if err := writeMetrics(r.Metrics, r.Environment, r.now(), s); err != nil {
		r.Log.Error("write metrics", "error", err)
	}
	return nil
}

// Run publishes the due registrations' pending events, page by page, until none is due, the
// page limit is reached or the deadline comes near; then it surveys what remains.
func (r *Relay) Run(ctx context.Context) (Summary, error) {
	var s Summary
	// One instant for every query: what fails now is rescheduled after it and so drops out of
	// the next page instead of coming straight back.
	now := r.now()
	seen := map[string]bool{}
pages:
	for range r.maxPages() {
		if r.outOfTime(ctx) {
			s.StoppedEarly = true
			break
		}
		regs, err := r.Store.ListPending(ctx, now, r.batch())
		if err != nil {
			return s, fmt.Errorf("list due registrations: %w", err)
		}
		fresh := 0
		for _, reg := range regs {
			if seen[reg.PK] {
				continue // a record we could not update comes back; once a run is enough
			}
			if r.outOfTime(ctx) {
				s.StoppedEarly = true
				break pages
			}
			seen[reg.PK] = true
			fresh++
			r.relay(ctx, reg, &s)
		}
		if len(regs) < r.batch() || fresh == 0 {
			break
		}
	}
	if err := r.survey(ctx, &s); err != nil {
		return s, err
	}
	return s, nil
}

// relay publishes one registration's pending events and records the outcome.
func (r *Relay) relay(ctx context.Context, reg regstore.Registration, s *Summary) {
	pending, attempts := pendingEvents(reg)
	log := r.Log.With("pk", reg.PK)
	if len(pending) == 0 {
		log.Warn("listed as owing events but none is pending")
		return
	}
	s.Registrations++
	published, err := r.Publisher.Publish(ctx, pending)
	s.Published += len(published)
	if len(published) > 0 {
		if merr := r.Store.MarkPublishedItem(ctx, reg.PK, published); merr != nil {
			// They went out; left pending they will go out again with the same event ids,
			// which subscribers de-duplicate. Back off like any failure.
			err = fmt.Errorf("mark %d published event(s): %w", len(published), merr)
		}
	}
	if err == nil && len(published) < len(pending) {
		err = fmt.Errorf("%d of %d events not published", len(pending)-len(published), len(pending))
	}
	if err == nil {
		log.Info("events published", "event_ids", published)
		return
	}
	s.Failed++
	wait := r.backoff(attempts)
	next := r.now().Add(wait)
	log.Warn("events not published; backing off", "error", err, "attempts", attempts+1, "next_attempt_in", wait.String())
	if rerr := r.Store.RecordFailureItem(ctx, reg.PK, truncate(err.Error(), maxErrorLen), next); rerr != nil {
		log.Error("record the failure", "error", rerr)
	}
}

// pendingEvents returns the registration's pending events and the most attempts any has had.
func pendingEvents(reg regstore.Registration) (pending []regstore.Event, attempts int) {
	for _, ev := range reg.Events {
		if ev.Status == regstore.EventPending {
			pending = append(pending, ev)
			attempts = max(attempts, ev.Attempts)
		}
	}
	return pending, attempts
}

// backoff is the wait after a failure that follows `attempts` earlier ones:
// BaseBackoff·2^attempts, capped at MaxBackoff, then jittered.
func (r *Relay) backoff(attempts int) time.Duration {
	d := backoff.Exponential{Base: r.BaseBackoff, Max: r.MaxBackoff}.Delay(attempts)
	if r.Jitter != nil {
		d = r.Jitter(d)
	}
	return d
}

// survey counts the registrations still owing events and the age of the oldest.
func (r *Relay) survey(ctx context.Context, s *Summary) error {
	limit := r.SurveyLimit
	if limit <= 0 {
		limit = DefaultSurveyLimit
	}
	now := r.now()
	regs, err := r.Store.ListPending(ctx, now.Add(surveyHorizon), limit)
	if err != nil {
		return fmt.Errorf("survey pending registrations: %w", err)
	}
	s.Remaining, s.RemainingCapped = len(regs), len(regs) >= limit
	for _, reg := range regs {
		created, err := time.Parse(time.RFC3339Nano, reg.CreatedAt)
		if err != nil {
			r.Log.Warn("item owing events has no valid created_at", "pk", reg.PK)
			continue
		}
		s.OldestPending = max(s.OldestPending, now.Sub(created))
	}
	return nil
}

// outOfTime reports whether the invocation is too close to its deadline to start more work.
func (r *Relay) outOfTime(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	reserve := r.Reserve
	if reserve <= 0 {
		reserve = DefaultReserve
	}
	dl, ok := ctx.Deadline()
	return ok && dl.Sub(r.now()) < reserve
}

func (r *Relay) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Relay) batch() int {
	if r.Batch > 0 {
		return r.Batch
	}
	return 25
}

func (r *Relay) maxPages() int {
	if r.MaxPages > 0 {
		return r.MaxPages
	}
	return DefaultMaxPages
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
