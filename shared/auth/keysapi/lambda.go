package keysapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/apigw"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/audit"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/jsonbody"
)

// ErrUnknownEvent is an invocation that is neither an API Gateway request nor a bootstrap.
var ErrUnknownEvent = errors.New(`unrecognised event: expected an API Gateway proxy request or {"bootstrap_admin": {"user_id": …}}`)

// BootstrapRequest is the "bootstrap_admin" member of a bootstrap invocation.
type BootstrapRequest struct {
	UserID      string `json:"user_id"`
	Email       string `json:"email"`
	Description string `json:"description"`
}

func (b *BootstrapRequest) fields() []jsonbody.Field {
	return []jsonbody.Field{
		{Name: "user_id", Into: &b.UserID, Want: "a string"},
		{Name: "email", Into: &b.Email, Want: "a string"},
		{Name: "description", Into: &b.Description, Want: "a string"},
	}
}

const bootstrapDescription = "admin key minted by direct invocation (bootstrap)"

// Lambda is the function's handler. It serves API Gateway proxy requests through h and mints an
// admin key (scopes ["admin"]) for the event
//
//	{"bootstrap_admin": {"user_id": "ops", "email": "ops@example.com", "description": "…"}}
//
// returning the same body as POST /api/keys. That event cannot arrive through API Gateway, which
// always sends its own envelope, so only a principal allowed lambda:InvokeFunction on this function
// can mint a key this way; it is how the first admin key comes to exist, and how access is
// recovered when every admin key is lost:
//
//	aws lambda invoke --function-name <keys function> --cli-binary-format raw-in-base64-out \
//	  --payload '{"bootstrap_admin":{"user_id":"ops","email":"ops@example.com"}}' key.json
//
// (locally, add --endpoint-url with the harness's Lambda URL). key.json then holds the plain key,
// shown once: delete the file once the key is stored. user_id is required, email and description
// optional; unknown members are rejected.
func (h *Handler) Lambda(log *slog.Logger) func(context.Context, json.RawMessage) (any, error) {
	if log == nil {
		log = slog.Default()
	}
	proxy := apigw.Handler(h, log)
	return func(ctx context.Context, event json.RawMessage) (any, error) {
		var members map[string]json.RawMessage
		if err := json.Unmarshal(event, &members); err != nil {
			return nil, ErrUnknownEvent
		}
		_, hasMethod := members["httpMethod"]
		_, hasContext := members["requestContext"]
		bootstrap, hasBootstrap := members["bootstrap_admin"]
		switch {
		case hasMethod && hasContext:
			var req events.APIGatewayProxyRequest
			if err := json.Unmarshal(event, &req); err != nil {
				return nil, fmt.Errorf("decode API Gateway event: %w", err)
			}
			return proxy(ctx, req)
		case hasBootstrap && len(members) == 1:
			return h.bootstrap(ctx, bootstrap, log)
		}
		return nil, ErrUnknownEvent
	}
}

// bootstrap mints an admin key for a direct invocation.
func (h *Handler) bootstrap(ctx context.Context, raw json.RawMessage, log *slog.Logger) (Created, error) {
	if h.disabled() {
		return Created{}, errors.New("bootstrap refused: " + errDisabled().Detail.(string))
	}
	var b BootstrapRequest
	errs, err := jsonbody.DecodeObject(raw, b.fields(), true)
	if err != nil {
		return Created{}, fmt.Errorf("bootstrap_admin: %s", describe(err))
	}
	req := CreateRequest{UserID: b.UserID, Email: b.Email, Scopes: []string{"admin"}, Description: b.Description}
	if req.Description == "" {
		req.Description = bootstrapDescription
	}
	rules := req.validate()
	if b.UserID == "" {
		rules = append(rules, httpapi.FieldError{Field: "user_id", Message: "is required"})
	}
	if errs = jsonbody.Merge(errs, rules); len(errs) > 0 {
		return Created{}, fmt.Errorf("bootstrap_admin: %s", describe(httpapi.Validation(errs...)))
	}
	out, err := h.issue(ctx, req)
	if err != nil {
		return Created{}, fmt.Errorf("bootstrap admin key: %w", err)
	}
	attrs := []any{"key_id", out.KeyID, "user_id", out.UserID}
	// Not an HTTP call: no method, and no caller but whoever may invoke the function (IAM's
	// CloudTrail names them); the status is the one POST /api/keys answers with the same body.
	rec := audit.Record{Operation: OpBootstrapAdminKey, Resource: audit.Resource{Kind: ResourceAPIKey, ID: out.KeyID},
		Outcome: audit.Allowed, Status: http.StatusCreated}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		attrs = append(attrs, "aws_request_id", lc.AwsRequestID)
		rec.RequestID = lc.AwsRequestID
	}
	h.writeAudit(ctx, rec)
	// Warn: an admin key minted outside the API is worth an operator's attention.
	log.Warn("admin key minted by direct invocation", attrs...)
	return out, nil
}

// describe renders a decoding error for an invoker, who sees only the error's message.
func describe(err error) string {
	var he *httpapi.Error
	if !errors.As(err, &he) {
		return err.Error()
	}
	fields, ok := he.Detail.([]httpapi.FieldError)
	if !ok {
		return fmt.Sprint(he.Detail)
	}
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return strings.Join(parts, "; ")
}
