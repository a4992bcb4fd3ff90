package harness

import (
	"context"
	"encoding/json"
	"fmt"
)

// BootstrapEvent is the direct-invocation event the keys function answers with a new admin key
// (the way the first admin key is minted in AWS, with IAM credentials instead of a key).
func BootstrapEvent(userID, email, description string) []byte {
	b, _ := json.Marshal(map[string]any{"bootstrap_admin": map[string]string{
		"user_id": userID, "email": email, "description": description,
	}})
	return b
}

// MintAdminKey invokes the keys function directly and returns the plain key it created. It
// returns "" and no error when the stack has no key store (external auth source).
func (h *Harness) MintAdminKey(ctx context.Context, userID, email string) (string, error) {
	id, fn := h.lookup("keys")
	if fn == nil || fn.Env["AUTH_SOURCE"] == "external" {
		return "", nil
	}
	res, err := h.Invoke(ctx, id, BootstrapEvent(userID, email, "minted by the local harness at start"))
	if err != nil {
		return "", fmt.Errorf("invoke the keys function: %w", err)
	}
	if res.FunctionError != nil {
		return "", fmt.Errorf("keys function: %s: %s", res.FunctionError.Type, res.FunctionError.Message)
	}
	var out struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal(res.Payload, &out); err != nil || out.Key == "" {
		return "", fmt.Errorf("keys function answered without a key")
	}
	return out.Key, nil
}
