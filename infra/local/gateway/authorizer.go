package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hokusai-protocol/registry-gateway/infra/local/template"
)

// authorization is a decision the authorizer returned: its principal, context and policy.
type authorization struct {
	PrincipalID string
	Context     map[string]any
	allow       []string
	deny        []string
}

// permits evaluates the policy as IAM does: an explicit Deny wins, otherwise an Allow is needed.
func (a *authorization) permits(methodArn string) bool {
	for _, p := range a.deny {
		if arnMatch(p, methodArn) {
			return false
		}
	}
	for _, p := range a.allow {
		if arnMatch(p, methodArn) {
			return true
		}
	}
	return false
}

// arnMatch matches IAM resource wildcards: * any run of characters, ? any one.
func arnMatch(pattern, arn string) bool {
	// path.Match treats / specially, IAM does not: compare with / swapped for a byte path.Match
	// sees as ordinary.
	const sep = "\x00"
	ok, err := path.Match(strings.ReplaceAll(escapeMeta(pattern), "/", sep), strings.ReplaceAll(arn, "/", sep))
	return err == nil && ok
}

func escapeMeta(p string) string {
	return strings.NewReplacer(`[`, `\[`, `]`, `\]`, `\`, `\\`).Replace(p)
}

// stringList decodes IAM's "string or list of strings".
type stringList []string

func (s *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

type authorizerResponse struct {
	PrincipalID    *string `json:"principalId"`
	PolicyDocument *struct {
		Statement []struct {
			Effect   string     `json:"Effect"`
			Action   stringList `json:"Action"`
			Resource stringList `json:"Resource"`
		} `json:"Statement"`
	} `json:"policyDocument"`
	Context map[string]any `json:"context"`
}

func parseAuthorization(payload []byte) (*authorization, error) {
	var res authorizerResponse
	if err := json.Unmarshal(payload, &res); err != nil {
		return nil, fmt.Errorf("authorizer response is not JSON: %w", err)
	}
	if res.PrincipalID == nil || res.PolicyDocument == nil {
		return nil, errors.New("authorizer response lacks principalId or policyDocument")
	}
	a := &authorization{PrincipalID: *res.PrincipalID, Context: map[string]any{}}
	for k, v := range res.Context {
		switch v.(type) {
		case string, float64, bool:
			a.Context[k] = v
		default:
			// API Gateway rejects objects and arrays in the context.
			return nil, fmt.Errorf("authorizer context %q is not a string, number or boolean", k)
		}
	}
	for _, st := range res.PolicyDocument.Statement {
		invoke := false
		for _, act := range st.Action {
			if act == "execute-api:Invoke" || act == "execute-api:*" || act == "*" {
				invoke = true
			}
		}
		if !invoke {
			continue
		}
		switch st.Effect {
		case "Allow":
			a.allow = append(a.allow, st.Resource...)
		case "Deny":
			a.deny = append(a.deny, st.Resource...)
		}
	}
	return a, nil
}

// authCache is API Gateway's authorizer result cache: per authorizer, keyed by the identity
// source values, for the authorizer's TTL.
type authCache struct {
	mu      sync.Mutex
	entries map[string]cached
}

type cached struct {
	auth    *authorization
	expires time.Time
}

func (c *authCache) get(key string, now time.Time) *authorization {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || now.After(e.expires) {
		delete(c.entries, key)
		return nil
	}
	return e.auth
}

func (c *authCache) put(key string, a *authorization, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]cached{}
	}
	c.entries[key] = cached{auth: a, expires: expires}
}

// identity returns the identity source values and whether every one is present.
func identity(az *template.Authorizer, r *http.Request, stageVars map[string]string) ([]string, bool) {
	vals := make([]string, 0, len(az.IdentitySources))
	complete := true
	for _, src := range az.IdentitySources {
		var v string
		switch src.Kind {
		case "header":
			v = r.Header.Get(src.Name)
		case "querystring":
			v = r.URL.Query().Get(src.Name)
		case "stageVariables":
			v = stageVars[src.Name]
		}
		if v == "" {
			complete = false
		}
		vals = append(vals, v)
	}
	return vals, complete
}

// authorize runs the route's authorizer (or its cached decision) and returns the decision, or the
// gateway error to answer with.
func (g *Gateway) authorize(ctx context.Context, rt *template.Route, r *http.Request, ev *events.APIGatewayProxyRequest, methodArn string) (*authorization, *gatewayError) {
	az := rt.Authorizer
	vals, complete := identity(az, r, nil)
	// With caching on, the identity sources are the cache key and required: API Gateway answers
	// 401 itself, without calling the authorizer, when one is missing.
	caching := az.TTL > 0
	if caching && (!complete || len(vals) == 0) {
		return nil, &errUnauthorized
	}
	key := az.LogicalID + "\x00" + strings.Join(vals, "\x00")
	if caching {
		if a := g.authCache.get(key, g.now()); a != nil {
			return a, nil
		}
	}

	req := events.APIGatewayCustomAuthorizerRequestTypeRequest{
		Type:                            az.Type,
		MethodArn:                       methodArn,
		Resource:                        ev.Resource,
		Path:                            ev.Path,
		HTTPMethod:                      ev.HTTPMethod,
		Headers:                         ev.Headers,
		MultiValueHeaders:               ev.MultiValueHeaders,
		QueryStringParameters:           ev.QueryStringParameters,
		MultiValueQueryStringParameters: ev.MultiValueQueryStringParameters,
		PathParameters:                  ev.PathParameters,
		StageVariables:                  ev.StageVariables,
		RequestContext: events.APIGatewayCustomAuthorizerRequestTypeRequestContext{
			Path:         ev.RequestContext.Path,
			AccountID:    ev.RequestContext.AccountID,
			ResourceID:   ev.RequestContext.ResourceID,
			Stage:        ev.RequestContext.Stage,
			RequestID:    ev.RequestContext.RequestID,
			ResourcePath: ev.RequestContext.ResourcePath,
			HTTPMethod:   ev.RequestContext.HTTPMethod,
			APIID:        ev.RequestContext.APIID,
			Identity:     events.APIGatewayCustomAuthorizerRequestTypeRequestIdentity{SourceIP: ev.RequestContext.Identity.SourceIP},
		},
	}
	var payload []byte
	var err error
	if az.Type == "TOKEN" {
		token := ""
		if len(vals) > 0 {
			token = vals[0]
		}
		payload, err = json.Marshal(events.APIGatewayCustomAuthorizerRequest{Type: "TOKEN", AuthorizationToken: token, MethodArn: methodArn})
	} else {
		payload, err = json.Marshal(req)
	}
	if err != nil {
		return nil, &errAuthorizerFailed
	}
	ctx, cancel := context.WithTimeout(ctx, g.opts.IntegrationTimeout)
	defer cancel()
	res, err := g.inv.Invoke(ctx, az.Function, payload)
	switch {
	case err != nil:
		g.log.Warn("authorizer invocation failed", "authorizer", az.Name, "error", err)
		return nil, &errAuthorizerFailed
	case res.FunctionError != nil && res.FunctionError.Message == "Unauthorized":
		return nil, &errUnauthorized
	case res.FunctionError != nil:
		g.log.Warn("authorizer failed", "authorizer", az.Name, "type", res.FunctionError.Type)
		return nil, &errAuthorizerFailed
	}
	a, err := parseAuthorization(res.Payload)
	if err != nil {
		g.log.Warn("authorizer answered an invalid response", "authorizer", az.Name, "error", err)
		return nil, &errAuthorizerConfig
	}
	if caching {
		g.authCache.put(key, a, g.now().Add(az.TTL))
	}
	return a, nil
}
