// Package logging builds the JSON slog logger every function uses and carries it, with the request
// id attached, through a request's context.
package logging

import (
	"context"
	"io"
	"log/slog"
	"regexp"
)

// keyPattern matches anything shaped like a Hokusai API key. Keys must never reach a log line; the
// handler redacts them as a last line of defence behind the code that never logs them on purpose.
var keyPattern = regexp.MustCompile(`hk_(live|test|dev)_[A-Za-z0-9]+`)

// Redacted replaces every key-shaped substring of s.
func Redacted(s string) string {
	if !keyPattern.MatchString(s) {
		return s
	}
	return keyPattern.ReplaceAllString(s, "hk_${1}_[REDACTED]")
}

// New returns a JSON logger writing to w at level, tagged with the function's name.
func New(w io.Writer, level slog.Leveler, function string) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			switch a.Value.Kind() {
			case slog.KindString:
				if s := a.Value.String(); keyPattern.MatchString(s) {
					a.Value = slog.StringValue(Redacted(s))
				}
			case slog.KindAny:
				// Errors often quote what they failed on; render them here so they can be scrubbed.
				if err, ok := a.Value.Any().(error); ok {
					a.Value = slog.StringValue(Redacted(err.Error()))
				}
			}
			return a
		},
	})
	return slog.New(h).With(slog.String("function", function))
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
