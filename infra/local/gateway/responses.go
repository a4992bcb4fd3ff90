package gateway

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/hokusai-protocol/registry-gateway/infra/local/template"
)

// gatewayError is one error API Gateway generates itself, with its default status and message
// (what a deployed API answers when the template defines no response for the type).
type gatewayError struct {
	Type    string
	Status  int
	Message string
}

var (
	errMissingAuthToken = gatewayError{"MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token"}
	errUnauthorized     = gatewayError{"UNAUTHORIZED", 401, "Unauthorized"}
	errAccessDenied     = gatewayError{"ACCESS_DENIED", 403, "User is not authorized to access this resource with an explicit deny"}
	errAuthorizerFailed = gatewayError{"AUTHORIZER_FAILURE", 500, "Internal server error"}
	errAuthorizerConfig = gatewayError{"AUTHORIZER_CONFIGURATION_ERROR", 500, "Internal server error"}
	errRequestTooLarge  = gatewayError{"REQUEST_TOO_LARGE", 413, "Request Too Long"}
	errIntegrationTime  = gatewayError{"INTEGRATION_TIMEOUT", 504, "Endpoint request timed out"}
	errThrottled        = gatewayError{"THROTTLED", 429, "Too Many Requests"}
	// An integration failure: a function that failed (502) or an invocation Lambda rejected,
	// e.g. an event over its 6 MB payload (500). AWS documents the two statuses and the message
	// (docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html); API Gateway's access
	// log names the type INTEGRATION_FAILURE for them.
	errLambdaFailed = gatewayError{"INTEGRATION_FAILURE", 502, "Internal server error"}
	// A proxy response API Gateway cannot read: 502 "Malformed Lambda proxy response" in the
	// execution log; no gateway response type is documented for it, so the 5XX default applies.
	errMalformedResponse = gatewayError{"DEFAULT_5XX", 502, "Internal server error"}
	errInvokeRejected    = gatewayError{"INTEGRATION_FAILURE", 500, "Internal server error"}
)

// writeGatewayError renders e through the template's gateway response for its type, falling back
// to DEFAULT_4XX/DEFAULT_5XX and then to API Gateway's built-in {"message": …} as AWS does.
func (g *Gateway) writeGatewayError(w http.ResponseWriter, requestID string, e gatewayError) {
	status, header, body := g.renderGatewayError(requestID, e)
	for k, vs := range header {
		w.Header()[k] = vs
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func (g *Gateway) renderGatewayError(requestID string, e gatewayError) (int, http.Header, string) {
	header := http.Header{}
	resp := g.api.GatewayResponses[e.Type]
	if resp == nil {
		fallback := "DEFAULT_4XX"
		if e.Status >= 500 {
			fallback = "DEFAULT_5XX"
		}
		resp = g.api.GatewayResponses[fallback]
	}
	status := e.Status
	body := `{"message":` + jsonQuote(e.Message) + `}`
	if resp != nil {
		if resp.Status != 0 {
			status = resp.Status
		}
		for k, v := range resp.Headers {
			header.Set(k, v)
		}
		if tmpl, ok := pickTemplate(resp); ok {
			body = render(tmpl, e, requestID)
		}
	}
	header.Set("Content-Type", "application/json")
	header.Set("x-amzn-ErrorType", errorTypeHeader(e.Type))
	return status, header, body
}

func pickTemplate(resp *template.GatewayResponse) (string, bool) {
	if t, ok := resp.Templates["application/json"]; ok {
		return t, true
	}
	for _, t := range resp.Templates {
		return t, true
	}
	return "", false
}

// render substitutes the $context variables gateway response templates use.
func render(tmpl string, e gatewayError, requestID string) string {
	return strings.NewReplacer(
		"$context.error.messageString", jsonQuote(e.Message),
		"$context.error.message", e.Message,
		"$context.error.responseType", e.Type,
		"$context.requestId", requestID,
	).Replace(tmpl)
}

func jsonQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func errorTypeHeader(t string) string {
	switch t {
	case "UNAUTHORIZED":
		return "UnauthorizedException"
	case "ACCESS_DENIED":
		return "AccessDeniedException"
	case "MISSING_AUTHENTICATION_TOKEN":
		return "MissingAuthenticationTokenException"
	case "THROTTLED":
		return "TooManyRequestsException"
	case "REQUEST_TOO_LARGE":
		return "RequestEntityTooLargeException"
	case "AUTHORIZER_FAILURE", "AUTHORIZER_CONFIGURATION_ERROR":
		return "AuthorizerConfigurationException"
	default:
		return "InternalServerErrorException"
	}
}
