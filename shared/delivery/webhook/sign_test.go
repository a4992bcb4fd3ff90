package webhook_test

import (
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/delivery/webhook"
)

func TestSignAndVerify(t *testing.T) {
	secret, body := []byte("s3cret"), []byte(`{"event_type":"model_registered"}`)
	sig := webhook.Sign(secret, body)
	// HMAC-SHA256("s3cret", body), computed independently with openssl dgst -sha256 -hmac.
	if want := "sha256=060fb8d51c87f75b3b330fa5a618abe7a73db87b40c2d28ad2dde5ac6fb3b596"; sig != want {
		t.Fatalf("Sign = %q, want %q", sig, want)
	}
	tests := []struct {
		name   string
		secret []byte
		body   []byte
		header string
		want   bool
	}{
		{"valid", secret, body, sig, true},
		{"valid, upper-case hex", secret, body, "sha256=" + strings.ToUpper(strings.TrimPrefix(sig, "sha256=")), true},
		{"other secret", []byte("other"), body, sig, false},
		{"body changed", secret, []byte(`{"event_type":"model_registered" }`), sig, false},
		{"no prefix", secret, body, strings.TrimPrefix(sig, "sha256="), false},
		{"other algorithm", secret, body, "sha1=" + strings.TrimPrefix(sig, "sha256="), false},
		{"truncated", secret, body, sig[:len(sig)-2], false},
		{"not hex", secret, body, "sha256=" + strings.Repeat("zz", 32), false},
		{"empty", secret, body, "", false},
		{"prefix only", secret, body, "sha256=", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := webhook.Verify(tc.secret, tc.body, tc.header); got != tc.want {
				t.Errorf("Verify = %v, want %v", got, tc.want)
			}
		})
	}
}
