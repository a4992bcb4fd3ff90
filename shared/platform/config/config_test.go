package config_test

import (
	"log/slog"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/config"
)

type sample struct {
	config.Common
	URL     *url.URL      `env:"SAMPLE_URL,required"`
	Timeout time.Duration `env:"SAMPLE_TIMEOUT" envDefault:"5s"`
	Count   int           `env:"SAMPLE_COUNT"`
	List    []string      `env:"SAMPLE_LIST" envDefault:"a,b"`
}

func (s *sample) Validate() error { return config.HTTPURL("SAMPLE_URL", s.URL) }

func TestLoad(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		wantErr []string // substrings the error must contain; nil means success
		check   func(t *testing.T, s sample)
	}{
		{
			name: "defaults applied",
			env:  map[string]string{"SAMPLE_URL": "http://mlflow:5000"},
			check: func(t *testing.T, s sample) {
				if s.Timeout != 5*time.Second || s.LogLevel != slog.LevelInfo || s.URL.Host != "mlflow:5000" {
					t.Errorf("got %+v", s)
				}
			},
		},
		{
			name: "log level parsed",
			env:  map[string]string{"SAMPLE_URL": "https://x", "LOG_LEVEL": "DEBUG"},
			check: func(t *testing.T, s sample) {
				if s.LogLevel != slog.LevelDebug {
					t.Errorf("level %v", s.LogLevel)
				}
			},
		},
		{
			name: "every duration accepts seconds and every list is trimmed",
			env:  map[string]string{"SAMPLE_URL": "http://x", "SAMPLE_TIMEOUT": "60", "SAMPLE_LIST": " live, test ,,"},
			check: func(t *testing.T, s sample) {
				if s.Timeout != time.Minute || !slices.Equal(s.List, []string{"live", "test"}) {
					t.Errorf("timeout %v, list %q", s.Timeout, s.List)
				}
			},
		},
		{
			name: "list default parsed the same way",
			env:  map[string]string{"SAMPLE_URL": "http://x"},
			check: func(t *testing.T, s sample) {
				if !slices.Equal(s.List, []string{"a", "b"}) {
					t.Errorf("list %q", s.List)
				}
			},
		},
		{name: "missing required names the variable", env: map[string]string{}, wantErr: []string{"SAMPLE_URL"}},
		{name: "malformed duration names the variable",
			env: map[string]string{"SAMPLE_URL": "http://x", "SAMPLE_TIMEOUT": "soon"}, wantErr: []string{"SAMPLE_TIMEOUT"}},
		{name: "every bad variable is named at once",
			env: map[string]string{"SAMPLE_TIMEOUT": "soon", "SAMPLE_COUNT": "many"}, wantErr: []string{"SAMPLE_URL", "SAMPLE_TIMEOUT", "SAMPLE_COUNT"}},
		{name: "validate runs", env: map[string]string{"SAMPLE_URL": "ftp://x"}, wantErr: []string{"SAMPLE_URL must be an absolute http(s) URL"}},
		{name: "relative url rejected", env: map[string]string{"SAMPLE_URL": "/just/a/path"}, wantErr: []string{"SAMPLE_URL"}},
		{name: "credentials are not echoed", env: map[string]string{"SAMPLE_URL": "ftp://user:s3cret@x"}, wantErr: []string{"SAMPLE_URL"}},
		{name: "unparsable url hides its credentials", env: map[string]string{"SAMPLE_URL": "http://user:s3cret@[::1"}, wantErr: []string{"SAMPLE_URL is malformed"}},
		{name: "bad log level", env: map[string]string{"SAMPLE_URL": "http://x", "LOG_LEVEL": "LOUD"}, wantErr: []string{"LOG_LEVEL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := config.Load[sample](tc.env)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, s)
				return
			}
			if err == nil {
				t.Fatalf("no error for %v", tc.env)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error leaks a credential: %q", err)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"60": time.Minute, "2.5": 2500 * time.Millisecond, " 8s ": 8 * time.Second, "1m": time.Minute, "-1": -time.Second, "0": 0,
	} {
		if d, err := config.ParseDuration(in); err != nil || d != want {
			t.Errorf("%q: %v %v, want %v", in, d, err, want)
		}
	}
	for _, in := range []string{"", "soon", "NaN", "86401", "1e300", "Inf"} {
		if d, err := config.ParseDuration(in); err == nil {
			t.Errorf("%q accepted as %v", in, d)
		}
	}
}

func TestParseList(t *testing.T) {
	for in, want := range map[string][]string{
		" a@x , ,b@y,  ": {"a@x", "b@y"}, "": {}, ",": {}, "live": {"live"}, "live, test": {"live", "test"},
	} {
		if got := config.ParseList(in); !slices.Equal(got, want) {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestVars(t *testing.T) {
	want := []string{"LOG_LEVEL", "SAMPLE_COUNT", "SAMPLE_LIST", "SAMPLE_TIMEOUT", "SAMPLE_URL"}
	if got := config.Vars[sample](); !slices.Equal(got, want) {
		t.Errorf("Vars %q, want %q", got, want)
	}
	types := config.VarTypes[sample]()
	if types["SAMPLE_TIMEOUT"] != reflect.TypeFor[time.Duration]() || types["LOG_LEVEL"] != reflect.TypeFor[slog.Level]() || len(types) != len(want) {
		t.Errorf("VarTypes %v", types)
	}
}
