package webhook_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/delivery/webhook"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/config"
)

func TestConfig(t *testing.T) {
	base := map[string]string{"WEBHOOK_URL": "https://hooks.example.com/hokusai?token=abc", "WEBHOOK_SECRET_ARN": "arn:s"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	cfg, err := config.Load[webhook.Config](base)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Timeout != 10*time.Second || !slices.Equal(cfg.DetailTypes, []string{"model_registered", "model_ready_to_deploy"}) ||
		cfg.RetryBase != time.Minute || cfg.RetryMax != 15*time.Minute || cfg.DeadLetterURL != "" {
		t.Errorf("defaults %+v", cfg)
	}
	cfg, err = config.Load[webhook.Config](with("WEBHOOK_DETAIL_TYPES", " model_ready_to_deploy ,,model_ready_to_deploy", "WEBHOOK_TIMEOUT", "3s"))
	if err != nil || !slices.Equal(cfg.DetailTypes, []string{"model_ready_to_deploy"}) || cfg.Timeout != 3*time.Second {
		t.Errorf("%+v, %v", cfg, err)
	}

	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"no URL":               {map[string]string{"WEBHOOK_SECRET_ARN": "arn:s"}, "WEBHOOK_URL"},
		"no secret":            {map[string]string{"WEBHOOK_URL": "https://x"}, "WEBHOOK_SECRET_ARN"},
		"relative URL":         {with("WEBHOOK_URL", "/hook"), "WEBHOOK_URL"},
		"unknown detail type":  {with("WEBHOOK_DETAIL_TYPES", "model_deleted"), "model_deleted"},
		"no detail type":       {with("WEBHOOK_DETAIL_TYPES", " , "), "WEBHOOK_DETAIL_TYPES"},
		"zero timeout":         {with("WEBHOOK_TIMEOUT", "0s"), "WEBHOOK_TIMEOUT"},
		"retry cap below base": {with("WEBHOOK_RETRY_BASE", "5m", "WEBHOOK_RETRY_MAX", "1m"), "WEBHOOK_RETRY_MAX"},
		"retry past 12 hours":  {with("WEBHOOK_RETRY_MAX", "13h"), "WEBHOOK_RETRY_MAX"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := config.Load[webhook.Config](tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want mention of %s", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "token=abc") {
				t.Errorf("URL query leaked: %v", err)
			}
		})
	}
}
