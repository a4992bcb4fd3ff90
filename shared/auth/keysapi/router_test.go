package keysapi

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// The keys function, fed API Gateway events whose path is an ugly one (as the client encoded it,
// or decoded, as a gateway might hand it over), answers JSON and never a redirect or an echo of a
// pasted key.
func TestGatewayEventsWithUglyPaths(t *testing.T) {
	key := "hk_live_" + strings.Repeat("Ab3", 14)
	for _, tc := range []struct{ method, path string }{
		{"DELETE", "/api/keys/%2e%2e"}, {"DELETE", "/api/keys/.."}, {"DELETE", "/api/keys/."}, {"GET", "/api/keys/."},
		{"DELETE", "/api/keys/%2f"}, {"DELETE", "/api/keys/a/b"}, {"DELETE", "/api/keys/%252e%252e"},
		{"DELETE", "/api/keys/abc."}, {"GET", "/api/keys/"}, {"GET", "//api/keys"},
		{"DELETE", "/api/keys/" + key}, {"DELETE", "/api/keys/" + key + "/.."}, {"PUT", "/api/keys/" + key},
	} {
		payload, err := json.Marshal(gatewayEvent(tc.method, tc.path, "", admin))
		if err != nil {
			t.Fatal(err)
		}
		out, err := invoke(t, newHandler(testConfig(), newFakeStore()), string(payload))
		if err != nil {
			t.Fatal(err)
		}
		var res events.APIGatewayProxyResponse
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatal(err)
		}
		var body errorBody
		if res.StatusCode/100 != 4 || json.Unmarshal([]byte(res.Body), &body) != nil || body.Error == "" ||
			strings.Contains(res.Body, key[8:]) || len(res.MultiValueHeaders["Location"]) > 0 {
			t.Errorf("%s %s: %d %v %s", tc.method, tc.path, res.StatusCode, res.MultiValueHeaders, res.Body)
		}
	}
}
