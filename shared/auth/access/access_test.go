package access_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/access"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apigw"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
)

func TestRequire(t *testing.T) {
	req := func(auth map[string]any) *httptest.ResponseRecorder {
		ev := events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/x", RequestContext: events.APIGatewayProxyRequestContext{Authorizer: auth}}
		r, err := apigw.NewRequest(context.Background(), ev, nil)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		if _, err := (access.Policy{}).Require(r, principal.Write); err != nil {
			httpapi.WriteError(rec, r, err)
		}
		return rec
	}
	if rec := req(map[string]any{"user_id": "u", "scopes": "model:write"}); rec.Body.Len() != 0 {
		t.Errorf("writer refused: %s", rec.Body)
	}
	rec := req(map[string]any{"user_id": "u", "scopes": "model:read"})
	var body map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	if rec.Code != 403 || body["error"] != "FORBIDDEN" || body["required_scope"] != "write" || len(body["current_scopes"].([]any)) != 1 {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
	if rec := req(nil); rec.Code != 401 {
		t.Errorf("no principal: %d", rec.Code)
	}
}
