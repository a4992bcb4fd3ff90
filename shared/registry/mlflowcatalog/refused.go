package mlflowcatalog

import "strings"

// Refusal is a route of MLflow's the gateway never serves, to anyone, and why.
type Refusal struct {
	// Service is the API root the pattern is under; zero for a route outside every root the
	// gateway routes (Pattern is then the path after the server's root).
	Service Service
	// Pattern is matched on the decoded endpoint, segment by segment, under api/ and ajax-api/
	// and in every API version: "*" is one segment, a final "**" any rest.
	Pattern string
	// Method, when set, refuses only that method of a route the catalog serves with others (a
	// request with it is answered 405 with the catalog's methods); "" refuses every method.
	Method string
	Why    string
}

// refusals are MLflow's localhost-only and server-internal routes, and those that run work on the
// MLflow server, under api/ too. The web UI's own data routes are operations (UIOnly), so only
// the UI routes that run work on the server or are localhost-only are here. None is called by the
// stock client (TestEveryClientEndpointMaps).
var refusals = []Refusal{
	{Service: Tracking, Pattern: "assistant/**", Why: "MLflow's Assistant is meant for localhost only"},
	{Service: Tracking, Pattern: "gateway-proxy", Why: "the UI's AI gateway proxy"},
	{Service: Tracking, Pattern: "gateway/supported-providers", Why: "a UI helper of the AI gateway"},
	{Service: Tracking, Pattern: "gateway/supported-models", Why: "a UI helper of the AI gateway"},
	{Service: Tracking, Pattern: "gateway/provider-config", Why: "a UI helper of the AI gateway"},
	{Service: Tracking, Pattern: "gateway/secrets/config", Why: "a UI helper of the AI gateway"},
	{Service: Tracking, Pattern: "jobs/**", Why: "MLflow's server-side job runner"},
	// Every prompt-optimization route drives a job on MLflow's runner (create submits it, get and
	// cancel reach the runner, delete removes its run); the stock client's optimize_prompts runs
	// the optimizer in the caller's process and never calls them.
	{Service: Tracking, Pattern: "prompt-optimization/**", Why: "prompt optimization jobs on the MLflow server"},
	{Service: Tracking, Pattern: "scorer/invoke", Why: "runs a scorer on the MLflow server"},
	{Service: Tracking, Pattern: "issues/invoke", Why: "runs issue detection on the MLflow server"},
	{Service: Tracking, Pattern: "genai/evaluate/invoke", Why: "runs an evaluation on the MLflow server"},
	{Service: Tracking, Pattern: "runs/create-promptlab-run", Why: "runs a prompt on the MLflow server"},
	{Service: Tracking, Pattern: "demo/**", Why: "generates or deletes MLflow's demo data"},
	// The UI's usage telemetry, nothing a person needs to work; the UI carries on without it.
	{Service: Tracking, Pattern: "ui-telemetry", Why: "the web UI's telemetry"},
	{Service: Tracking, Pattern: "users/create-ui", Why: "the basic-auth app's sign-up form (users are Hokusai's)"},

	// Outside the API roots the gateway routes: the router never reaches them; listed so every
	// route MLflow has is accounted for.
	// MLflow's build folder under another name; the page loads its files from static-files/.
	{Service: 0, Pattern: "build/**", Why: "the web UI's assets"},
	// The UI posts its GraphQL queries (the GraphQL operation); a GET would carry the query in the
	// URL, into logs and caches, and the UI never sends one.
	{Service: UI, Pattern: "graphql", Method: "GET", Why: "GraphQL over GET (the web UI posts its queries)"},
	{Service: 0, Pattern: "signup", Why: "the basic-auth app's sign-up page (users are Hokusai's)"},
	{Service: 0, Pattern: "health", Why: "the server's liveness probe, for its host"},
	{Service: 0, Pattern: "ajax-api/3.0/jobs/**", Why: "MLflow's server-side job runner"},
	{Service: 0, Pattern: "gateway/**", Why: "MLflow's AI gateway serving: calls model providers with the server's credentials"},
	// MLflow 3.17 registers search-datasets under "/api/2.0mlflow/…" too, a typo naming no real path.
	{Service: 0, Pattern: "api/2.0mlflow/**", Why: "a typo in MLflow's route table"},
	{Service: 0, Pattern: "ajax-api/2.0mlflow/**", Why: "a typo in MLflow's route table"},
}

// Refused reports whether the decoded endpoint under service's root is one the gateway refuses
// (a trailing slash changes nothing), and which refusal it is.
func Refused(service Service, endpoint string) (Refusal, bool) {
	return RefusedMethod(service, "", endpoint)
}

// RefusedMethod is Refused for a method: the refusals of every method, and those of method alone.
func RefusedMethod(service Service, method, endpoint string) (Refusal, bool) {
	segs := strings.Split(strings.TrimSuffix(endpoint, "/"), "/")
	for _, r := range refusals {
		if r.Service == service && (r.Method == "" || r.Method == method) && matchGlob(strings.Split(r.Pattern, "/"), segs) {
			return r, true
		}
	}
	return Refusal{}, false
}

// Refusals returns a copy of the refused routes.
func Refusals() []Refusal { return append([]Refusal(nil), refusals...) }

func matchGlob(pattern, segs []string) bool {
	for i, p := range pattern {
		if p == "**" {
			return true
		}
		if i >= len(segs) || (p != "*" && p != segs[i]) {
			return false
		}
	}
	return len(segs) == len(pattern)
}
