// Package regstore keeps registration records, with the events each registration owes, and
// idempotency records in the registrations table (partition key pk; TTL attribute ttl; sparse
// index pending_events on outbox_status/next_attempt_at).
package regstore

// Item key prefixes in the single registrations table.
const (
	RegistrationPrefix = "REG#"
	IdempotencyPrefix  = "IDEM#"
)

// Table attribute and index names (infra/stack/data.go defines the table).
const (
	PKAttr           = "pk"
	TTLAttr          = "ttl"
	OutboxIndex      = "pending_events"
	OutboxStatusAttr = "outbox_status"
	NextAttemptAttr  = "next_attempt_at"
	OutboxPending    = "pending" // the only outbox_status value; absent when nothing is owed
)

// Event statuses.
const (
	EventPending     = "pending"
	EventPublished   = "published"
	EventNotEligible = "not_eligible"
)

// Event is one event a registration owes: published, still pending (the outbox retries it), or
// not eligible (never published; Reason says why).
type Event struct {
	EventID    string `dynamodbav:"event_id" json:"event_id,omitempty"`
	DetailType string `dynamodbav:"detail_type" json:"detail_type"`
	// Detail is the event detail as JSON (events.Detail), exactly what PutEvents sends.
	Detail    string `dynamodbav:"detail,omitempty" json:"-"`
	Status    string `dynamodbav:"status" json:"status"`
	Reason    string `dynamodbav:"reason,omitempty" json:"reason,omitempty"`
	Attempts  int    `dynamodbav:"attempts" json:"-"`
	LastError string `dynamodbav:"last_error,omitempty" json:"-"`
}

// Registration is one registration's record.
type Registration struct {
	PK             string `dynamodbav:"pk"`
	RegistrationID string `dynamodbav:"registration_id"`
	// UserID and KeyID are the registration's owner and their key: whoever acts on it later
	// (an admin re-announcing it) leaves them as they are.
	UserID string `dynamodbav:"user_id"`
	KeyID  string `dynamodbav:"key_id"`
	// ActorUserID and ActorKeyID name who last wrote the record when that was not its owner (an
	// admin acting on the owner's registration); absent otherwise.
	ActorUserID string  `dynamodbav:"actor_user_id,omitempty"`
	ActorKeyID  string  `dynamodbav:"actor_key_id,omitempty"`
	ModelName   string  `dynamodbav:"model_name"`
	Version     string  `dynamodbav:"version"`
	TokenID     string  `dynamodbav:"token_id"`
	ModelID     string  `dynamodbav:"model_id"`
	RunID       string  `dynamodbav:"mlflow_run_id"`
	CreatedAt   string  `dynamodbav:"created_at"` // RFC 3339 UTC
	Events      []Event `dynamodbav:"events"`
	// Response is the JSON answer given to the client (replayed for idempotent retries and
	// served by GET /api/registrations/{id} with the events' current statuses).
	Response string `dynamodbav:"response"`
	// OutboxStatus is OutboxPending while any event is pending, absent otherwise (sparse index).
	OutboxStatus  string `dynamodbav:"outbox_status,omitempty"`
	NextAttemptAt int64  `dynamodbav:"next_attempt_at,omitempty"` // epoch ms
	TTL           int64  `dynamodbav:"ttl,omitempty"`
}
