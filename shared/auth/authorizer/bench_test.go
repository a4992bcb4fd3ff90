package authorizer_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/authorizer"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/keystore"
)

// BenchmarkValidate measures one decision on each path, with in-process fakes for DynamoDB and the
// auth service (the fakes store marshalled items, so attributevalue's cost is included), and
// reports the calls each path makes per request.
func BenchmarkValidate(b *testing.B) {
	ctx := context.Background()
	quiet := func(s *authorizer.Settings) { s.Log = slog.New(slog.DiscardHandler) }
	k1, k2 := testKey("live", 1), testKey("live", 2)

	b.Run("memory-hit", func(b *testing.B) {
		r := newRig(b, false, quiet)
		r.db.putRecord(b, k1, keystore.Record{UserID: "u", Status: keystore.StatusActive, Scopes: []string{"model:read"}})
		mustValidate(b, r.v, k1)
		measure(b, r, func() { mustValidate(b, r.v, k1) })
	})
	b.Run("dynamodb-miss", func(b *testing.B) {
		r := newRig(b, false, quiet)
		r.db.putRecord(b, k1, keystore.Record{UserID: "u", Status: keystore.StatusActive, Scopes: []string{"model:read"}})
		measure(b, r, func() {
			r.clk.Advance(ttl) // the memory entry has just expired
			mustValidate(b, r.v, k1)
		})
	})
	b.Run("external-cache-hit", func(b *testing.B) {
		// One memory slot and two keys in turn: every request misses memory and finds the
		// shared cache fresh (TTL an hour, clock still).
		r := newRig(b, true, func(s *authorizer.Settings) { quiet(s); s.MaxEntries = 1; s.TTL = time.Hour })
		mustValidate(b, r.v, k1)
		mustValidate(b, r.v, k2)
		keys := [2]string{k1, k2}
		i := 0
		measure(b, r, func() {
			mustValidate(b, r.v, keys[i&1])
			i++
		})
	})
	b.Run("external-miss", func(b *testing.B) {
		r := newRig(b, true, quiet)
		measure(b, r, func() {
			r.clk.Advance(ttl + grace) // memory and shared entries are past any use
			mustValidate(b, r.v, k1)
		})
	})
	b.Run("malformed-key", func(b *testing.B) {
		r := newRig(b, true, quiet)
		measure(b, r, func() {
			if _, err := r.v.Validate(ctx, "hk_live_not!a!key!at!all!!!!!", ""); err == nil {
				b.Fatal("accepted")
			}
		})
	})
}

// BenchmarkHandle is the whole Lambda handler on a memory hit: extraction, validation, policy and
// context, as API Gateway will pay for it after JSON decoding.
func BenchmarkHandle(b *testing.B) {
	r := newRig(b, true, func(s *authorizer.Settings) { s.Log = slog.New(slog.DiscardHandler) })
	h := authorizer.NewHandler(r.v, slog.New(slog.DiscardHandler))
	req := request(map[string]string{"host": "api.example", "user-agent": "mlflow-python-client", "authorization": "Bearer " + testKey("live", 1)})
	if _, err := h.Handle(context.Background(), req); err != nil {
		b.Fatal(err)
	}
	measure(b, r, func() {
		if _, err := h.Handle(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	})
}

func mustValidate(b *testing.B, v *authorizer.Validator, key string) {
	if _, err := v.Validate(context.Background(), key, "203.0.113.7"); err != nil {
		b.Fatal(err)
	}
}

// measure runs op in the benchmark loop and reports calls per op to each dependency.
func measure(b *testing.B, r *rig, op func()) {
	before := r.calls()
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		op()
		n++
	}
	after := r.calls()
	per := func(x, y int) float64 { return float64(y-x) / float64(n) }
	b.ReportMetric(per(before.get, after.get), "getitem/op")
	b.ReportMetric(per(before.service, after.service), "service/op")
	b.ReportMetric(per(before.put, after.put), "putitem/op")
}
