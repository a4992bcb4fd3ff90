package webhook_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/hokusai-protocol/registry-gateway/shared/delivery/webhook"
)

// A receiver checks the signature over the raw body before trusting anything in it, and
// de-duplicates on the idempotency key: a delivery may arrive more than once.
func ExampleVerify() {
	secret := []byte("the webhook secret from Secrets Manager")

	receiver := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		if !webhook.Verify(secret, body, r.Header.Get("X-Hokusai-Signature")) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		eventID := r.Header.Get("X-Hokusai-Idempotency-Key") // skip it if already processed
		var p webhook.Payload
		if err := json.Unmarshal(body, &p); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		fmt.Println(p.EventType, p.Model.ID, p.Model.Name, p.Model.Version, eventID)
		w.WriteHeader(http.StatusNoContent)
	})

	// What the webhook function sends, and the same body tampered with.
	body := []byte(`{"event_type":"model_registered","model":{"id":"xray","name":"hokusai-XRAY","version":"3","status":"registered"},"timestamp":"2026-01-15T10:30:00Z","source":"mlflow"}`)
	for _, sent := range [][]byte{body, bytes.Replace(body, []byte(`"3"`), []byte(`"4"`), 1)} {
		req := httptest.NewRequest(http.MethodPost, "/hooks/hokusai", bytes.NewReader(sent))
		req.Header.Set("X-Hokusai-Signature", webhook.Sign(secret, body))
		req.Header.Set("X-Hokusai-Idempotency-Key", "5abf0f8e-0a41-5ba8-8efa-c467299ce6d1")
		rec := httptest.NewRecorder()
		receiver.ServeHTTP(rec, req)
		fmt.Println(rec.Code)
	}
	// Output:
	// model_registered xray hokusai-XRAY 3 5abf0f8e-0a41-5ba8-8efa-c467299ce6d1
	// 204
	// 401
}
