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
	"slices"
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

// parsers give every function the same reading of each Go type, whichever variable it is: a
// variable two functions share can never be valid for one and malformed for the other.
var parsers = map[reflect.Type]env.ParserFunc{
	reflect.TypeFor[time.Duration](): func(v string) (any, error) { return ParseDuration(v) },
	reflect.TypeFor[[]string]():      func(v string) (any, error) { return ParseList(v), nil },
}

// ParseDuration reads a time.Duration variable: seconds ("60", "2.5", as CloudFormation users
// write them) or a Go duration ("60s", "1m"). Surrounding spaces are ignored.
func ParseDuration(v string) (time.Duration, error) {
	s := strings.TrimSpace(v)
	if secs, err := strconv.ParseFloat(s, 64); err == nil {
		// A day is far beyond any Lambda's life; the bound keeps the conversion exact. The sign is
		// each Validate's business, so one bad value does not hide the others.
		if math.IsNaN(secs) || math.Abs(secs) > 86400 {
			return 0, fmt.Errorf("want seconds up to a day, got %q", s)
		}
		return time.Duration(secs * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("want seconds or a duration such as 30s, got %q", s)
	}
	return d, nil
}

// ParseList reads a []string variable: comma-separated, each entry trimmed, blank entries
// dropped ("live, test," → [live test]).
func ParseList(v string) []string {
	out := []string{}
	for e := range strings.SplitSeq(v, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// Load parses the environment into a new T and, when T has a Validate method, runs it.
// environ replaces the process environment when non-nil (tests, and the stack's contract test,
// which loads each function's configuration from the variables the template gives it).
func Load[T any](environ map[string]string) (T, error) {
	cfg, err := env.ParseAsWithOptions[T](env.Options{Environment: environ, FuncMap: parsers})
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

// Vars lists the variables T reads, from its fields' env tags (embedded structs included), sorted.
func Vars[T any]() []string {
	return slices.Sorted(maps.Values(envKeys(reflect.TypeFor[T]())))
}

// VarTypes maps each variable T reads to the Go type it is parsed as.
func VarTypes[T any]() map[string]reflect.Type {
	out := map[string]reflect.Type{}
	walkEnv(reflect.TypeFor[T](), func(f reflect.StructField, name string) { out[name] = f.Type })
	return out
}

// envKeys maps each tagged field's name, embedded structs included, to its variable.
func envKeys(t reflect.Type) map[string]string {
	keys := map[string]string{}
	walkEnv(t, func(f reflect.StructField, name string) { keys[f.Name] = name })
	return keys
}

// walkEnv calls fn for each field of t with an env tag, descending as env does into structs
// without one, embedded or not (a nested settings struct such as permstore.Config).
func walkEnv(t reflect.Type, fn func(f reflect.StructField, name string)) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	for f := range t.Fields() {
		if tag, ok := f.Tag.Lookup("env"); ok {
			name, _, _ := strings.Cut(tag, ",")
			fn(f, name)
		} else if f.Anonymous || f.IsExported() && f.Type.Kind() == reflect.Struct {
			walkEnv(f.Type, fn)
		}
	}
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
