package authorizer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/apikey"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/eventheader"
)

var (
	// errUnauthorized is the one error API Gateway turns into its UNAUTHORIZED response (401): it
	// matches the message exactly.
	errUnauthorized = errors.New("Unauthorized")
	// errFailure is any other error: the AUTHORIZER_FAILURE response, which the stack maps to 503
	// with Retry-After. Its text reaches the access log ($context.authorizer.error), so it is fixed.
	errFailure = errors.New("authorizer failure: key source unavailable")
)

// Handler is the Lambda REQUEST authorizer. API Gateway's outcomes are few, so: a missing,
// malformed, invalid or revoked key is Unauthorized; an unavailable key source is a failure; a key
// the auth service rate limited is a Deny (ACCESS_DENIED, mapped to 429 by the stack), which
// nothing else uses.
type Handler struct {
	v        *Validator
	log      *slog.Logger
	sessions *sessions // nil: the session cookie is never accepted
}

// NewHandler answers API Gateway with v's decisions.
func NewHandler(v *Validator, log *slog.Logger) *Handler {
	return &Handler{v: v, log: log}
}

// Handle is the Lambda handler.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	start := time.Now()
	resource, err := apiWide(req.MethodArn)
	if err != nil {
		h.log.ErrorContext(ctx, "cannot build the policy", "request_id", req.RequestContext.RequestID, "error", err)
		return events.APIGatewayCustomAuthorizerResponse{}, errFailure
	}
	key, from, ok := KeyFrom(req)
	if !ok {
		// A key, when present, decides alone: a request that carries both is judged by its key.
		return h.fromSession(ctx, req, resource, start)
	}
	d, err := h.v.Validate(ctx, key, req.RequestContext.Identity.SourceIP)
	switch {
	case err == nil:
		level := slog.LevelInfo
		if d.Via == ViaMemory {
			level = slog.LevelDebug // the common case; the gateway's access log already counts it
		}
		h.logOutcome(ctx, req, level, "allow", d, from, start, nil)
		return policy(d.Principal.UserID, "Allow", resource, d.Principal.Context()), nil
	case errors.Is(err, ErrUnauthorized):
		h.logOutcome(ctx, req, slog.LevelInfo, "unauthorized", d, from, start, err)
		return events.APIGatewayCustomAuthorizerResponse{}, errUnauthorized
	case errors.Is(err, ErrRateLimited):
		h.logOutcome(ctx, req, slog.LevelWarn, "rate_limited", d, from, start, nil)
		// principalId reaches the access log: the digest prefix correlates it with ours.
		return policy("key:"+d.KeyRef, "Deny", resource, nil), nil
	default:
		h.logOutcome(ctx, req, slog.LevelError, "unavailable", d, from, start, err)
		return events.APIGatewayCustomAuthorizerResponse{}, errFailure
	}
}

// KeyFrom is the request's API key: from Authorization (Bearer, then ApiKey) or X-API-Key, header
// names in any case, and refused when it carries two; never the query string, which ends up in logs and browser history.
func KeyFrom(req events.APIGatewayCustomAuthorizerRequestTypeRequest) (string, apikey.Source, bool) {
	return apikey.Extract(eventheader.Parse(req.Headers, req.MultiValueHeaders).Values)
}

// apiWide turns the method ARN arn:aws:execute-api:<region>:<account>:<api>/<stage>/<METHOD>/<path>
// into arn:…:<api>/<stage>/*/*, so that one decision, cached by the gateway, serves every route;
// each function enforces its own scopes.
func apiWide(methodArn string) (string, error) {
	api, rest, ok := strings.Cut(methodArn, "/")
	stage, _, _ := strings.Cut(rest, "/")
	if !ok || stage == "" || !strings.HasPrefix(api, "arn:") || strings.Count(api, ":") != 5 {
		return "", fmt.Errorf("method ARN %q is not arn:<partition>:execute-api:<region>:<account>:<api>/<stage>/…", methodArn)
	}
	return api + "/" + stage + "/*/*", nil
}

func policy(principalID, effect, resource string, ctx map[string]any) events.APIGatewayCustomAuthorizerResponse {
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: principalID,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version:   "2012-10-17",
			Statement: []events.IAMPolicyStatement{{Action: []string{"execute-api:Invoke"}, Effect: effect, Resource: []string{resource}}},
		},
		Context: ctx,
	}
}

// logOutcome writes one line per decision: outcome, layer, latency, and the key only as its
// digest prefix.
func (h *Handler) logOutcome(ctx context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest,
	level slog.Level, outcome string, d Decision, from apikey.Source, start time.Time, err error) {
	if !h.log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("outcome", outcome),
		slog.String("via", string(d.Via)),
		slog.Float64("latency_ms", float64(time.Since(start).Microseconds())/1000),
		slog.String("request_id", req.RequestContext.RequestID),
	}
	if d.KeyRef != "" {
		attrs = append(attrs, slog.String("key_ref", d.KeyRef))
	}
	if from != "" {
		attrs = append(attrs, slog.String("key_from", string(from)))
	}
	if d.Principal.UserID != "" {
		attrs = append(attrs, slog.String("user_id", d.Principal.UserID))
	}
	if err != nil {
		attrs = append(attrs, slog.Any("error", err))
	}
	h.log.LogAttrs(ctx, level, "authorization", attrs...)
}
