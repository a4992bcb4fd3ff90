// Package config loads a function's typed configuration from the environment once, at start.
//
// Each function declares one struct with `env` tags (see github.com/caarlos0/env); Load fills it and
// returns an error that names every missing or malformed variable, so a bad deployment fails at
// init with a readable message instead of at the first request.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// Common is embedded in every function's configuration.
type Common struct {
	// LogLevel is DEBUG, INFO, WARN or ERROR.
	LogLevel slog.Level `env:"LOG_LEVEL" envDefault:"INFO"`
}

// Level is the configured log level (every function's configuration embeds Common).
func (c Common) Level() slog.Level { return c.LogLevel }

// Duration is read from the environment as seconds ("60", "2.5", as the stack writes them) or as
// a Go duration ("60s", "1m", as people write them).
type Duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler, which Load uses.
func (d *Duration) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if secs, err := strconv.ParseFloat(s, 64); err == nil {
		// A day is far beyond any Lambda's life; the bound keeps the conversion exact. The sign is
		// each Validate's business, so one bad value does not hide the others.
		if math.IsNaN(secs) || math.Abs(secs) > 86400 {
			return fmt.Errorf("want seconds up to a day, got %q", s)
		}
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want seconds or a duration such as 30s, got %q", s)
	}
	*d = Duration(v)
	return nil
}

// Trimmed drops blank entries and surrounding spaces from a comma-separated list variable
// ("a@x, b@y," → [a@x b@y]).
func Trimmed(list []string) []string {
	out := make([]string, 0, len(list))
	for _, e := range list {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// Load parses the environment into a new T and, when T has a Validate method, runs it.
// environ replaces the process environment when non-nil (tests).
func Load[T any](environ map[string]string) (T, error) {
	cfg, err := env.ParseAsWithOptions[T](env.Options{Environment: environ})
	if err != nil {
		return cfg, fmt.Errorf("configuration: %s", describe(err, envKeys(reflect.TypeFor[T]())))
	}
	if v, ok := any(&cfg).(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return cfg, fmt.Errorf("configuration: %w", err)
		}
	}
	return cfg, nil
}

// describe turns env's aggregate error into one line naming each offending variable. env names a
// malformed value by its Go field; keys maps that back to the variable an operator sets.
func describe(err error, keys map[string]string) string {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err.Error()
	}
	parts := make([]string, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			cause := pe.Err.Error()
			// A URL's parse error quotes the value, which may hold credentials.
			if pe.Type == reflect.TypeFor[url.URL]() || pe.Type == reflect.TypeFor[*url.URL]() {
				cause = "not a valid URL"
			}
			parts = append(parts, fmt.Sprintf("%s is malformed: %s", keys[pe.Name], cause))
			continue
		}
		parts = append(parts, e.Error())
	}
	return strings.Join(parts, "; ")
}

// envKeys maps each tagged field's name, embedded structs included, to its variable.
func envKeys(t reflect.Type) map[string]string {
	keys := map[string]string{}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return keys
	}
	for f := range t.Fields() {
		if tag, ok := f.Tag.Lookup("env"); ok {
			keys[f.Name], _, _ = strings.Cut(tag, ",")
		} else if f.Anonymous {
			maps.Copy(keys, envKeys(f.Type))
		}
	}
	return keys
}

// HTTPURL checks that u is an absolute http(s) URL; name is the variable, for the message.
func HTTPURL(name string, u *url.URL) error {
	if u == nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		shown := ""
		if u != nil {
			shown = u.Redacted()
		}
		return fmt.Errorf("%s must be an absolute http(s) URL, got %q", name, shown)
	}
	return nil
}
