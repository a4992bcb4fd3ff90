package mlflowproxy

import "net/http"

// VersionSource is versionSource, for the fuzz target.
var VersionSource = versionSource

// SetUIHeaders is setUIHeaders for a UI route with endpoint.
func SetUIHeaders(endpoint string, status int, hdr http.Header) {
	setUIHeaders(Route{Service: ServiceUI, Endpoint: endpoint}, status, hdr)
}

// OutboxReserve and AnswerMargin are the time kept before the invocation's deadline after MLflow
// answers.
const (
	OutboxReserve = outboxReserve
	AnswerMargin  = answerMargin
)
