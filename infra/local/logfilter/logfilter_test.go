package logfilter_test

import (
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/infra/local/logfilter"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/audit"
)

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, message string
		want             bool
	}{
		// The stack's own pattern.
		{audit.FilterPattern, `{"hokusai_audit":"v1","user_id":"u"}`, true},
		{audit.FilterPattern, ` {"hokusai_audit":"v1"} `, true},
		{audit.FilterPattern, `{"hokusai_audit":"v2"}`, false},
		{audit.FilterPattern, `{"hokusai_audit":"v1 "}`, false},
		{audit.FilterPattern, `{"Hokusai_Audit":"v1"}`, false}, // member names exactly
		{audit.FilterPattern, `{"msg":"hokusai_audit v1"}`, false},
		{audit.FilterPattern, `{"nested":{"hokusai_audit":"v1"}}`, false},
		{audit.FilterPattern, `{"hokusai_audit":1}`, false},      // a number is no string
		{audit.FilterPattern, `{"hokusai_audit":["v1"]}`, false}, // nor is a list
		{audit.FilterPattern, `{"hokusai_audit":null}`, false},   // nor null
		{audit.FilterPattern, `{}`, false},                       // missing
		{audit.FilterPattern, `not json {"hokusai_audit":"v1"}`, false},
		{audit.FilterPattern, `{"hokusai_audit":"v1"} trailing`, false},
		{audit.FilterPattern, `{"hokusai_audit":"v1"}{"a":1}`, false},
		{audit.FilterPattern, `{"hokusai_audit":"v1"`, false}, // truncated
		{audit.FilterPattern, `"hokusai_audit"`, false},
		{audit.FilterPattern, ``, false},
		{audit.FilterPattern, `START RequestId: 1 Version: $LATEST`, false},
		{audit.FilterPattern, `{"hokusai_audit":"v\u0031"}`, true}, // the value as JSON reads it
		{audit.FilterPattern, `{"hokusai_audit":"v0","hokusai_audit":"v1"}`, true},
		// Nested selectors and indexes.
		{`{ $.a.b = "x" }`, `{"a":{"b":"x"}}`, true},
		{`{ $.a.b = "x" }`, `{"a":"b"}`, false},
		{`{ $.a[1] = "y" }`, `{"a":["x","y"]}`, true},
		{`{ $.a[2] = "y" }`, `{"a":["x","y"]}`, false},
		{`{ $.a[0].b = 1 }`, `{"a":[{"b":1}]}`, true},
		// Unquoted values, wildcards.
		{`{ $.op = Create* }`, `{"op":"CreateRegisteredModel"}`, true},
		{`{ $.op = "*Model" }`, `{"op":"CreateRegisteredModel"}`, true},
		{`{ $.op = "C*e*l" }`, `{"op":"CreateRegisteredModel"}`, true},
		{`{ $.op = "a*a" }`, `{"op":"a"}`, false},
		{`{ $.op = "x?[" }`, `{"op":"x?["}`, true},
		{`{ $.op != "Get*" }`, `{"op":"CreateRun"}`, true},
		{`{ $.op != "Get*" }`, `{"op":"GetRun"}`, false},
		{`{ $.op != "Get*" }`, `{}`, false}, // a missing field differs from nothing
		// Numbers against numbers only.
		{`{ $.status = 403 }`, `{"status":403}`, true},
		{`{ $.status = 403 }`, `{"status":403.0}`, true},
		{`{ $.status = 403 }`, `{"status":"403"}`, false},
		{`{ $.status = "403" }`, `{"status":403}`, false},
		{`{ $.status >= 400 }`, `{"status":404}`, true},
		{`{ $.status < 400 }`, `{"status":404}`, false},
		{`{ $.status > 1e2 }`, `{"status":101}`, true},
		{`{ $.status != 200 }`, `{"status":201}`, true},
		{`{ $.status <= -1 }`, `{"status":-1}`, true},
		{`{ $.n > 1 }`, `{"n":1e400}`, false},
		// IS, NOT EXISTS.
		{`{ $.ok IS TRUE }`, `{"ok":true}`, true},
		{`{ $.ok IS TRUE }`, `{"ok":"true"}`, false},
		{`{ $.ok IS FALSE }`, `{"ok":false}`, true},
		{`{ $.ok IS NULL }`, `{"ok":null}`, true},
		{`{ $.ok IS NULL }`, `{}`, false},
		{`{ $.ok NOT EXISTS }`, `{}`, true},
		{`{ $.ok NOT EXISTS }`, `{"ok":null}`, false},
		// Logic.
		{`{ $.a = "x" && $.b = "y" }`, `{"a":"x","b":"y"}`, true},
		{`{ $.a = "x" && $.b = "y" }`, `{"a":"x","b":"z"}`, false},
		{`{ $.a = "x" || $.b = "y" }`, `{"a":"q","b":"y"}`, true},
		{`{ ($.a = "x" && $.b = "y") || $.c IS TRUE }`, `{"c":true}`, true},
		{`{ ($.a = "x" || $.b = "y") && $.c IS TRUE }`, `{"a":"x","c":false}`, false},
		// The empty pattern matches every event.
		{``, `anything at all`, true},
		{`  `, ``, true},
	} {
		p, err := logfilter.Parse(tc.pattern)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.pattern, err)
			continue
		}
		if got := p.Match(tc.message); got != tc.want {
			t.Errorf("%q matching %q = %v, want %v", tc.pattern, tc.message, got, tc.want)
		}
	}
}

// Forms the harness does not implement are refused, never read as something else.
func TestParseRefusesUnsupportedAndBadPatterns(t *testing.T) {
	for _, pattern := range []string{
		`ERROR`, `"quoted phrase"`, `ERROR -DEBUG`, `?ERROR ?WARN`, `[ip, user, ...]`,
		`%ERROR%`, `{ $.msg = %bind.*% }`, `{ $.msg = /regex/ }`,
		`{`, `{ }`, `{ $.a }`, `{ $.a = }`, `{ $.a = "x" `, `{ $.a = "x" } extra`,
		`{ $.a = "unterminated }`, `{ $.a = "\q" }`, `{ a = "x" }`, `{ $ = "x" }`, `{ $. = "x" }`,
		`{ $.a[x] = 1 }`, `{ $.a[-1] = 1 }`, `{ $.a[1 = 1 }`, `{ $.* = "x" }`, `{ $..a = "x" }`,
		`{ $.a > "x" }`, `{ $.a IS MAYBE }`, `{ $.a NOT THERE }`, `{ $.a == "x" }`,
		`{ $.a = "x" && $.b = "y" || $.c = "z" }`, `{ ($.a = "x" }`, `{ $.a = "x") }`,
		`{ ` + strings.Repeat("(", 40) + `$.a = 1` + strings.Repeat(")", 40) + ` }`,
		`{ $.a = "` + strings.Repeat("x", 1100) + `" }`,
	} {
		if p, err := logfilter.Parse(pattern); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", pattern, p)
		}
	}
}

func FuzzMatch(f *testing.F) {
	for _, s := range [][2]string{
		{audit.FilterPattern, `{"hokusai_audit":"v1"}`},
		{`{ ($.a = "x*" && $.b[0] > 2) || $.c NOT EXISTS }`, `{"a":"xy","b":[3]}`},
		{`{ $.ok IS NULL }`, `[1,2]`},
		{``, `plain`},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, message string) {
		p, err := logfilter.Parse(pattern)
		if err != nil {
			return
		}
		got := p.Match(message)
		if again := p.Match(message); again != got {
			t.Fatalf("Match is not deterministic")
		}
		if p.String() != pattern {
			t.Fatalf("String() = %q", p.String())
		}
	})
}

// The stack's pattern selects exactly the lines audit.Is calls audit lines, whatever the line.
func FuzzAuditPatternAgreesWithAuditIs(f *testing.F) {
	p, err := logfilter.Parse(audit.FilterPattern)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{`{"hokusai_audit":"v1"}`, `{"hokusai_audit":"v1"} x`, `{"a":{"hokusai_audit":"v1"}}`,
		`{"hokusai_audit":"v1","hokusai_audit":2}`, `["v1"]`, `null`, ``, `{"hokusai_audit":"\u0076\u0031"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if got, want := p.Match(line), audit.Is([]byte(line)); got != want {
			t.Fatalf("pattern %v, audit.Is %v for %q", got, want, line)
		}
	})
}
