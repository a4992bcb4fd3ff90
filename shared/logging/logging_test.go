package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/logging"
)

const key = "hk_live_0123456789abcdefghijABCDEFGHIJ0123456789"

func TestKeysAreRedactedEverywhere(t *testing.T) {
	var buf bytes.Buffer
	log := logging.New(&buf, slog.LevelDebug, "test")
	log.Info("saw "+key, "header", "Bearer "+key, "cause", errors.New("lookup "+key+" failed"),
		slog.Group("g", slog.String("k", key)))
	out := buf.String()
	if strings.Contains(out, key) || strings.Contains(out, "0123456789abcdefghij") {
		t.Fatalf("key leaked: %s", out)
	}
	if c := strings.Count(out, "hk_live_[REDACTED]"); c != 4 {
		t.Errorf("want 4 redactions, got %d: %s", c, out)
	}
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if line["function"] != "test" {
		t.Errorf("function attr missing: %v", line)
	}
}

func TestContextCarriesLogger(t *testing.T) {
	var buf bytes.Buffer
	log := logging.New(&buf, slog.LevelInfo, "test").With("request_id", "r-1")
	ctx := logging.WithLogger(context.Background(), log)
	logging.FromContext(ctx).Info("hello")
	if !strings.Contains(buf.String(), `"request_id":"r-1"`) {
		t.Errorf("request id missing: %s", buf.String())
	}
	if logging.FromContext(context.Background()) == nil {
		t.Error("no default logger")
	}
}

func TestRedactedLeavesOtherTextAlone(t *testing.T) {
	for in, want := range map[string]string{
		"nothing here":       "nothing here",
		"hk_prod_abc":        "hk_prod_abc",
		"x hk_test_abc y":    "x hk_test_[REDACTED] y",
		"hk_dev_a,hk_live_b": "hk_dev_[REDACTED],hk_live_[REDACTED]",
	} {
		if got := logging.Redacted(in); got != want {
			t.Errorf("Redacted(%q) = %q, want %q", in, got, want)
		}
	}
}
