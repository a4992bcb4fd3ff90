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
	Why     string
}

// refusals are MLflow's localhost-only and server-internal routes, and those that run work on the
// MLflow server, under api/ too. The web UI's own data routes are operations (UIOnly), so only
// the UI routes that run work on the server or are localhost-only are here. None is called by the
// stock client (TestEveryClientEndpointMaps).
var refusals = []Refusal{
	{Tracking, "assistant/**", "MLflow's Assistant is meant for localhost only"},
	{Tracking, "gateway-proxy", "the UI's AI gateway proxy"},
	{Tracking, "gateway/supported-providers", "a UI helper of the AI gateway"},
	{Tracking, "gateway/supported-models", "a UI helper of the AI gateway"},
	{Tracking, "gateway/provider-config", "a UI helper of the AI gateway"},
	{Tracking, "gateway/secrets/config", "a UI helper of the AI gateway"},
	{Tracking, "jobs/**", "MLflow's server-side job runner"},
	// Every prompt-optimization route drives a job on MLflow's runner (create submits it, get and
	// cancel reach the runner, delete removes its run); the stock client's optimize_prompts runs
	// the optimizer in the caller's process and never calls them.
	{Tracking, "prompt-optimization/**", "prompt optimization jobs on the MLflow server"},
	{Tracking, "scorer/invoke", "runs a scorer on the MLflow server"},
	{Tracking, "issues/invoke", "runs issue detection on the MLflow server"},
	{Tracking, "genai/evaluate/invoke", "runs an evaluation on the MLflow server"},
	{Tracking, "runs/create-promptlab-run", "runs a prompt on the MLflow server"},
	{Tracking, "demo/**", "generates or deletes MLflow's demo data"},
	// The UI's usage telemetry, nothing a person needs to work; the UI carries on without it.
	{Tracking, "ui-telemetry", "the web UI's telemetry"},
	{Tracking, "users/create-ui", "the basic-auth app's sign-up form (users are Hokusai's)"},

	// Outside the API roots the gateway routes: the router never reaches them; listed so every
	// route MLflow has is accounted for.
	// MLflow's build folder under another name; the page loads its files from static-files/.
	{0, "build/**", "the web UI's assets"},
	// One query may read many resources of every kind; per-resource permissions cannot judge it
	// by its route. MLflow 3.17's run page reads its run through it (mlflowGetRun), so that page
	// does not load until the gateway judges GraphQL queries (open in issue 15).
	{0, "graphql", "the web UI's GraphQL"},
	{0, "signup", "the basic-auth app's sign-up page (users are Hokusai's)"},
	{0, "health", "the server's liveness probe, for its host"},
	{0, "ajax-api/3.0/jobs/**", "MLflow's server-side job runner"},
	{0, "gateway/**", "MLflow's AI gateway serving: calls model providers with the server's credentials"},
	// MLflow 3.17 registers search-datasets under "/api/2.0mlflow/…" too, a typo naming no real path.
	{0, "api/2.0mlflow/**", "a typo in MLflow's route table"},
	{0, "ajax-api/2.0mlflow/**", "a typo in MLflow's route table"},
}

// Refused reports whether the decoded endpoint under service's root is one the gateway refuses
// (a trailing slash changes nothing), and which refusal it is.
func Refused(service Service, endpoint string) (Refusal, bool) {
	segs := strings.Split(strings.TrimSuffix(endpoint, "/"), "/")
	for _, r := range refusals {
		if r.Service == service && matchGlob(strings.Split(r.Pattern, "/"), segs) {
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
