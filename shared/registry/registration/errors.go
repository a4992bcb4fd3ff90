package registration

import (
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/idempotency"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/mlflowops"
)

// Error codes of the registration API beyond httpapi's.
const (
	CodeMLflowUnavailable     = mlflowops.CodeMLflowUnavailable
	CodeTimeout               = mlflowops.CodeTimeout
	CodeRunNotFound           = mlflowops.CodeRunNotFound
	CodeLoggedModelNotFound   = mlflowops.CodeLoggedModelNotFound
	CodeModelVersionNotFound  = mlflowops.CodeModelVersionNotFound
	CodeRegistrationNotFound  = "REGISTRATION_NOT_FOUND"
	CodeIdempotencyReused     = idempotency.CodeReused
	CodeIdempotencyInProgress = idempotency.CodeInProgress
	CodeEventEmitFailed       = "EVENT_EMIT_FAILED"
	// CodeModelOwned: another user registered this model name first (403).
	CodeModelOwned = "MODEL_OWNED_BY_ANOTHER_USER"
	// CodeVersionOwned: another user registered or announced this model version first (403).
	CodeVersionOwned = "MODEL_VERSION_OWNED_BY_ANOTHER_USER"
	// CodeOutcomeUnknown: see idempotency.CodeOutcomeUnknown.
	CodeOutcomeUnknown = idempotency.CodeOutcomeUnknown
)
