// Package logging builds the JSON slog logger every function uses and carries it, with the request
// id attached, through a request's context.
package logging

import (
	"context"
	"io"
	"log/slog"
	"regexp"
	"strings"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/apikey"
)

// keyPattern matches anything shaped like a Hokusai API key: an environment's prefix and the run
// of key characters after it, of any length. The run takes '_' as well, so that a key glued behind
// a prefix ("hk_live_hk_live_<secret>") cannot keep its secret out of the first match.
var keyPattern = regexp.MustCompile(`hk_(` + strings.Join(environments(), "|") + `)_[A-Za-z0-9_]+`)

func environments() []string {
	out := make([]string, len(apikey.Environments))
	for i, e := range apikey.Environments {
		out[i] = regexp.QuoteMeta(e)
	}
	return out
}

const replacement = "hk_${1}_[REDACTED]"

// tokenPattern matches the MLflow UI's session cookie values and sign-in link tokens
// (shared/auth/uisession): hss_ and hsl_ and the base64url run after them.
var tokenPattern = regexp.MustCompile(`hs([sl])_[A-Za-z0-9_.-]+`)

const tokenReplacement = "hs${1}_[REDACTED]"

// HoldsKey reports whether s contains something key-shaped (keyPattern): the one test of it, which
// Redacted, the log and every check that refuses to store, forward or echo a key share, so that
// what one lets through no other would have caught.
func HoldsKey(s string) bool { return keyPattern.MatchString(s) || tokenPattern.MatchString(s) }

// Redacted replaces every key-shaped substring of s, and every UI session or link token.
func Redacted(s string) string {
	if !HoldsKey(s) {
		return s
	}
	return tokenPattern.ReplaceAllString(keyPattern.ReplaceAllString(s, replacement), tokenReplacement)
}

// New returns a JSON logger writing to w at level, tagged with the function's name. Keys must
// never reach a log line, and the logger redacts them as a last line of defence behind the code
// that never logs them on purpose.
//
// Redaction works on the line as rendered, not on values by type: whatever a value is (a string,
// an error, a slice, a map, a struct, a json.Marshaler, a LogValuer, a group, an attribute or
// group name, a message), it reaches the output as JSON text, and a key in it is key-shaped there,
// since JSON escapes none of a key's characters. A list of types would miss the next one.
func New(w io.Writer, level slog.Leveler, function string) *slog.Logger {
	h := slog.NewJSONHandler(redactingWriter{w}, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			// The one rendering that would hide text: encoding/json writes a []byte as base64.
			// Logged bytes are bodies and payloads; show them as the text they are.
			if a.Value.Kind() == slog.KindAny {
				if b, ok := a.Value.Any().([]byte); ok {
					a.Value = slog.StringValue(string(b))
				}
			}
			return a
		},
	})
	return slog.New(h).With(slog.String("function", function))
}

// redactingWriter scrubs each line the handler writes (one Write per record). The replacement
// holds no JSON syntax and the pattern no character JSON escapes, so the line stays JSON.
type redactingWriter struct{ w io.Writer }

func (r redactingWriter) Write(p []byte) (int, error) {
	if !keyPattern.Match(p) && !tokenPattern.Match(p) {
		return r.w.Write(p)
	}
	if _, err := r.w.Write(tokenPattern.ReplaceAll(keyPattern.ReplaceAll(p, []byte(replacement)), []byte(tokenReplacement))); err != nil {
		return 0, err
	}
	return len(p), nil
}

type ctxKey struct{}

// WithLogger returns ctx carrying l.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// FromContext returns the logger carried by ctx, or slog's default.
func FromContext(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(ctxKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
