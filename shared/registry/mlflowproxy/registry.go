package mlflowproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hokusai-protocol/registry-gateway/events"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apigw"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/changes"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
)

// Registry events (issue 13). A write to a registered model or version that MLflow accepts, made
// by any client through the proxy, is announced on the bus with the registration events'
// guarantee: on MLflow's 2xx, before the client gets the answer, the proxy publishes the change
// once and, only when that fails, records it in the registrations table for the outbox relay,
// which re-publishes it under the same event id. A refused write yields nothing; a read, and any
// other call, is untouched and gains no call at all.

// Publisher sends events to the bus; *eventpub.Publisher satisfies it.
type Publisher interface {
	Publish(ctx context.Context, evs []regstore.Event) (published []string, err error)
}

// Outbox records an event that could not be published for the outbox relay; *regstore.Store
// satisfies it (one PutItem of a CHANGE# item).
type Outbox interface {
	PutChange(ctx context.Context, ev regstore.Event, now time.Time) error
}

// Store is the registrations table as the proxy uses it: owner claims and owed changes.
type Store interface {
	Owners
	Outbox
}

// registryOperation is the RPC name of a registry write that yields an event (the catalog's
// operation, when changes reads it), or false. Matching is the catalog's: exact endpoints, every
// API version MLflow serves the operation under, api/ and ajax-api/ alike.
func registryOperation(route Route, method string) (string, bool) {
	op, err := route.Operation(method)
	if err != nil {
		return "", false
	}
	if _, ok := changes.DetailType(op.Name); !ok {
		return "", false
	}
	return op.Name, true
}

// publishTimeout bounds the one PutEvents of a change, so an unreachable bus delays a write's
// answer by about this before the outbox item is written.
const publishTimeout = time.Second

// readRegistryBody buffers the body of a registry write, so the change can be read from exactly
// the bytes MLflow gets, and gives r a body that replays them. It is bounded: a longer body is
// refused before MLflow sees it, since MLflow could accept a change the proxy could not announce.
func readRegistryBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, changes.MaxRequestBody+1))
	_ = r.Body.Close()
	if err != nil {
		return nil, newError(http.StatusBadRequest, "BAD_REQUEST", "The request body could not be read").withCause(err)
	}
	if len(body) > changes.MaxRequestBody {
		return nil, newError(http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE",
			fmt.Sprintf("A model registry request body may be at most %d bytes", changes.MaxRequestBody))
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return body, nil
}

// readAnswer reads a successful answer whole (bounded) and puts it back byte for byte. false: it
// was longer than the bound or failed to read, and res.Body relays it as it would have been.
func readAnswer(res *http.Response) ([]byte, bool, error) {
	body, err := io.ReadAll(io.LimitReader(res.Body, ownedBodyLimit+1))
	if err != nil || len(body) > ownedBodyLimit {
		// Relay what was read, then the rest as it comes, or the read error, which ends the
		// answer early exactly as it would without this hook.
		rest := res.Body
		if err != nil {
			rest = io.NopCloser(failedReader{err})
		}
		res.Body = &joinedBody{Reader: io.MultiReader(bytes.NewReader(body), rest), Closer: res.Body}
		return body, false, err
	}
	_ = res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(body))
	return body, true, nil
}

// announce builds the change a successful registry write made and delivers it: one PutEvents,
// and only if that fails one PutItem for the outbox. It never fails the call: MLflow has made the
// change, and the client gets MLflow's answer.
func (h *Handler) announce(ex *exchange, res *http.Response, answer []byte) {
	ctx := res.Request.Context()
	log := logging.FromContext(ctx).With("operation", ex.operation)
	c, err := changes.Read(changes.Write{
		Operation: ex.operation, Body: ex.requestBody, Answer: answer, AnswerEncoding: res.Header.Get("Content-Encoding"),
		UserID: ex.caller.UserID, KeyID: ex.caller.KeyID, RequestID: apigw.RequestID(ctx), At: time.Now(),
	})
	if err != nil {
		log.Error("registry change not announced: MLflow accepted a write the gateway cannot read", "cause", err)
		return
	}
	detail, err := events.MarshalRegistryChange(c.Detail)
	if err != nil {
		log.Error("registry change not announced", "cause", err)
		return
	}
	ev := regstore.Event{EventID: c.Detail.EventID, DetailType: c.DetailType, Detail: detail, Status: regstore.EventPending}
	log = log.With("event_id", ev.EventID, "detail_type", ev.DetailType)
	var pubErr error
	if h.publisher == nil {
		pubErr = errors.New("no event bus configured")
	} else if pctx, cancel, ok := afterAnswer(ctx, publishTimeout, outboxReserve); !ok {
		cancel()
		// Too close to the deadline to try the bus and still record the change: record it.
		pubErr = errors.New("no time left to publish before the invocation's deadline")
	} else {
		_, pubErr = h.publisher.Publish(pctx, []regstore.Event{ev})
		cancel()
		if pubErr == nil {
			return
		}
	}
	octx, cancel, _ := afterAnswer(ctx, claimTimeout, 0)
	defer cancel()
	if err := h.store.PutChange(octx, ev, time.Now()); err != nil {
		// Both the bus and the table failed: the change is made and not announced. The detail is
		// logged whole so an operator can publish it (it holds no credential).
		log.Error("registry change neither published nor recorded for the outbox", "publish_error", pubErr,
			"cause", err, "detail", detail)
		return
	}
	log.Warn("registry change not published now; the outbox will publish it", "cause", pubErr)
}
