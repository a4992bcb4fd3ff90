package logging_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
)

const (
	key    = "hk_live_0123456789abcdefghijABCDEFGHIJ0123456789"
	secret = "0123456789abcdefghij"
)

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
		"hk_live_hk_live_ab": "hk_live_[REDACTED]",
		"hk_live_":           "hk_live_",
		"HK_LIVE_abc":        "HK_LIVE_abc",
		// Short, long and "_"-cut secrets: the proxy's query check once took these for no key.
		"q=hk_live_short":                     "q=hk_live_[REDACTED]",
		"hk_live_AB_CDEFGHIJKLMNOPQRSTUVWXYZ": "hk_live_[REDACTED]",
	} {
		if got := logging.Redacted(in); got != want {
			t.Errorf("Redacted(%q) = %q, want %q", in, got, want)
		}
		if got := logging.HoldsKey(in); got != (want != in) {
			t.Errorf("HoldsKey(%q) = %v, but Redacted gives %q", in, got, want)
		}
	}
}

// leakyStringer would show its key through String; the JSON handler renders its fields.
type leakyStringer struct{ Key string }

func (l leakyStringer) String() string { return "key " + l.Key }

// leakyValuer resolves to a group holding the key.
type leakyValuer struct{ key string }

func (l leakyValuer) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user", "u"), slog.Group("inner", slog.Any("keys", []string{l.key})))
}

// leakyMarshaler writes the key through its own MarshalJSON.
type leakyMarshaler struct{ key string }

func (l leakyMarshaler) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"k": l.key})
}

// failingMarshaler fails, quoting the key; the handler logs the failure's text.
type failingMarshaler struct{ key string }

func (f failingMarshaler) MarshalJSON() ([]byte, error) {
	return nil, errors.New("cannot marshal " + f.key)
}

// Every shape a value can take in a log record is rendered and then scrubbed: no shape carries a
// key past the handler.
func TestRedactionCoversEveryShape(t *testing.T) {
	type request struct {
		Header  map[string][]string
		Body    string
		Private string `json:"-"`
	}
	for _, tc := range []struct {
		name string
		log  func(l *slog.Logger)
	}{
		{"message", func(l *slog.Logger) { l.Info("saw " + key) }},
		{"string", func(l *slog.Logger) { l.Info("m", "v", key) }},
		{"attribute key", func(l *slog.Logger) { l.Info("m", key, 1) }},
		{"error", func(l *slog.Logger) { l.Info("m", "err", errors.New("bad "+key)) }},
		{"wrapped error", func(l *slog.Logger) { l.Info("m", "err", fmt.Errorf("ctx: %w", errors.New(key))) }},
		{"stringer", func(l *slog.Logger) { l.Info("m", "s", leakyStringer{Key: key}) }},
		{"pointer to stringer", func(l *slog.Logger) { l.Info("m", "s", &leakyStringer{Key: key}) }},
		{"[]string", func(l *slog.Logger) { l.Info("m", "v", []string{"a", key}) }},
		{"[]any", func(l *slog.Logger) { l.Info("m", "v", []any{1, key, []any{key}}) }},
		{"map[string]string", func(l *slog.Logger) { l.Info("m", "v", map[string]string{"authorization": "Bearer " + key}) }},
		{"map[string]any", func(l *slog.Logger) { l.Info("m", "v", map[string]any{"n": map[string]any{"k": []string{key}}}) }},
		{"map key", func(l *slog.Logger) { l.Info("m", "v", map[string]int{key: 1}) }},
		{"struct", func(l *slog.Logger) {
			l.Info("m", "req", request{Header: map[string][]string{"X-Api-Key": {key}}, Body: `{"k":"` + key + `"}`})
		}},
		{"[]byte", func(l *slog.Logger) { l.Info("m", "body", []byte(`{"api_key":"`+key+`"}`)) }},
		{"json.RawMessage", func(l *slog.Logger) { l.Info("m", "body", json.RawMessage(`{"api_key":"`+key+`"}`)) }},
		{"json.Marshaler", func(l *slog.Logger) { l.Info("m", "v", leakyMarshaler{key}) }},
		{"failing json.Marshaler", func(l *slog.Logger) { l.Info("m", "v", failingMarshaler{key}) }},
		{"group", func(l *slog.Logger) { l.Info("m", slog.Group("g", slog.String("k", key))) }},
		{"nested groups", func(l *slog.Logger) { l.Info("m", slog.Group("a", slog.Group("b", slog.Any("c", []string{key})))) }},
		{"group key", func(l *slog.Logger) { l.Info("m", slog.Group(key, slog.Int("n", 1))) }},
		{"LogValuer", func(l *slog.Logger) { l.Info("m", "v", leakyValuer{key}) }},
		{"With", func(l *slog.Logger) { l.With("k", key, slog.Group("g", "k", []string{key})).Info("m") }},
		{"WithGroup", func(l *slog.Logger) { l.WithGroup(key).Info("m", "n", 1) }},
		{"LogAttrs", func(l *slog.Logger) {
			l.LogAttrs(context.Background(), slog.LevelWarn, "m", slog.Any("v", map[string]any{"k": key}))
		}},
		{"log.Logger over the handler", func(l *slog.Logger) { slog.NewLogLogger(l.Handler(), slog.LevelWarn).Printf("proxy: %s", key) }},
		{"a key glued behind a prefix", func(l *slog.Logger) { l.Info("m", "v", "hk_live_"+key) }},
		{"a key glued behind another", func(l *slog.Logger) { l.Info("m", "v", key+"_"+key) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tc.log(logging.New(&buf, slog.LevelDebug, "test"))
			out := buf.String()
			if strings.Contains(out, secret) || strings.Contains(out, base64.StdEncoding.EncodeToString([]byte(key))[:20]) {
				t.Fatalf("key leaked: %s", out)
			}
			if !strings.Contains(out, "hk_live_[REDACTED]") {
				t.Errorf("no redaction marker: %s", out)
			}
			if !json.Valid(buf.Bytes()) {
				t.Errorf("not one JSON line: %s", out)
			}
		})
	}
}

// FuzzRedaction: whatever text is logged, in whatever shape, no key-shaped text survives in the
// line, in its raw form or in any string or member name it decodes to.
func FuzzRedaction(f *testing.F) {
	for _, seed := range []string{key, "hk_live_hk_live_" + secret, "x" + key + "y", "hk_test_a", "hk_dev_" + secret + "<&>",
		"hk_live_" + secret + "\x00", "hk_live_\u00e9" + secret, "\xffhk_live_" + secret, `\u0068k_live_` + secret, ""} {
		f.Add(seed, "hk_live_"+secret)
	}
	shape := regexp.MustCompile(`hk_(live|test|dev)_[A-Za-z0-9]`)
	f.Fuzz(func(t *testing.T, a, b string) {
		var buf bytes.Buffer
		l := logging.New(&buf, slog.LevelDebug, "fuzz").With(a, b).WithGroup(b)
		l.Info(a+b, a, b, "list", []string{a, b}, "any", []any{a, []any{b}}, "map", map[string]any{a: b},
			"err", fmt.Errorf("%s: %w", a, errors.New(b)), "bytes", []byte(a+b), slog.Group(a, slog.String(b, a)),
			"struct", struct{ A, B string }{a, b}, "valuer", leakyValuer{a + b})
		out := buf.Bytes()
		if m := shape.Find(out); m != nil {
			t.Fatalf("key-shaped %q in %s", m, out)
		}
		var line any
		if err := json.Unmarshal(out, &line); err != nil {
			t.Fatalf("not JSON: %v: %s", err, out)
		}
		walkStrings(line, func(s string) {
			if m := shape.FindString(s); m != "" {
				t.Fatalf("key-shaped %q decoded from %s", m, out)
			}
		})
	})
}

// walkStrings calls fn with every string and member name in a decoded JSON value.
func walkStrings(v any, fn func(string)) {
	switch v := v.(type) {
	case string:
		fn(v)
	case []any:
		for _, e := range v {
			walkStrings(e, fn)
		}
	case map[string]any:
		for k, e := range v {
			fn(k)
			walkStrings(e, fn)
		}
	}
}
