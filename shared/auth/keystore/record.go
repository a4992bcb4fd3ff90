// Package keystore keeps API keys in DynamoDB, by the SHA-256 digest of the key (never the key).
package keystore

import "time"

// Key statuses.
const (
	StatusActive  = "active"
	StatusRevoked = "revoked"
)

// Record is one issued key. Attribute names match the stack's keys table (partition key
// key_hash, index by_user on user_id/created_at, index by_key_id on key_id).
type Record struct {
	KeyHash       string    `dynamodbav:"key_hash" json:"-"`
	KeyID         string    `dynamodbav:"key_id" json:"key_id"`
	UserID        string    `dynamodbav:"user_id" json:"user_id"`
	Email         string    `dynamodbav:"email,omitempty" json:"email,omitempty"`
	Scopes        []string  `dynamodbav:"scopes" json:"scopes"`
	Status        string    `dynamodbav:"status" json:"status"`
	CreatedAt     time.Time `dynamodbav:"created_at" json:"created_at"`
	ExpiresAt     time.Time `dynamodbav:"expires_at,omitempty" json:"expires_at,omitzero"`
	RevokedAt     time.Time `dynamodbav:"revoked_at,omitempty" json:"revoked_at,omitzero"`
	Description   string    `dynamodbav:"description,omitempty" json:"description,omitempty"`
	DisplayPrefix string    `dynamodbav:"display_prefix" json:"display_prefix"`
	// ResourcePatterns narrow the key ("registered_model:hokusai-XRAY*", permissions.ParsePattern);
	// none: not narrowed.
	ResourcePatterns []string `dynamodbav:"resource_patterns,omitempty" json:"resource_patterns,omitempty"`
}

// Usable reports whether the key may authenticate at now.
func (r *Record) Usable(now time.Time) bool {
	return r.Status == StatusActive && (r.ExpiresAt.IsZero() || now.Before(r.ExpiresAt))
}
