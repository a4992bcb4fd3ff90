package permissions_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
)

func TestParseLevel(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want permissions.Level
		ok   bool
	}{
		{"NO_PERMISSIONS", permissions.NoPermissions, true},
		{"READ", permissions.Read, true},
		{"USE", permissions.Use, true},
		{"EDIT", permissions.Edit, true},
		{"MANAGE", permissions.Manage, true},
		{"read", 0, false},
		{" READ", 0, false},
		{"READ\n", 0, false},
		{"", 0, false},
		{"ADMIN", 0, false},
		{"Level(9)", 0, false},
	} {
		got, err := permissions.ParseLevel(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
		if tc.ok && got.String() != tc.in {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), tc.in)
		}
	}
	if s := permissions.Level(7).String(); s != "Level(7)" {
		t.Errorf("out-of-range level prints %q", s)
	}
	if !(permissions.NoPermissions < permissions.Read && permissions.Read < permissions.Use &&
		permissions.Use < permissions.Edit && permissions.Edit < permissions.Manage) {
		t.Error("levels are not in MLflow's order")
	}
}

func TestFoldName(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"Model", "model", true},
		{"hokusai-XRAY", "HOKUSAI-xray", true},
		{"K", "\u212a", true},        // Kelvin sign folds with K and k
		{"ſ", "S", true},             // long s folds with s
		{"straße", "STRASSE", false}, // simple folding only, as strings.EqualFold
		{"model-1", "model-2", false},
		{"", "", true},
	} {
		if got := permissions.FoldName(tc.a) == permissions.FoldName(tc.b); got != tc.same {
			t.Errorf("FoldName(%q) == FoldName(%q) is %v, want %v", tc.a, tc.b, got, tc.same)
		}
		if got := strings.EqualFold(tc.a, tc.b); got != tc.same {
			t.Errorf("the folding disagrees with strings.EqualFold on %q, %q", tc.a, tc.b)
		}
	}
}

func TestParsePattern(t *testing.T) {
	long := strings.Repeat("a", permissions.MaxGlobLength)
	for _, tc := range []struct {
		in      string
		want    permissions.Pattern
		wantErr string
	}{
		{in: "registered_model:hokusai-XRAY*", want: permissions.Pattern{Kind: permissions.RegisteredModel, Glob: "hokusai-XRAY*"}},
		{in: "registered_model:*", want: permissions.Pattern{Kind: permissions.RegisteredModel, Glob: "*"}},
		{in: "registered_model:a:b", want: permissions.Pattern{Kind: permissions.RegisteredModel, Glob: "a:b"}},
		{in: "registered_model:my model *", want: permissions.Pattern{Kind: permissions.RegisteredModel, Glob: "my model *"}},
		{in: "registered_model:" + long, want: permissions.Pattern{Kind: permissions.RegisteredModel, Glob: long}},
		{in: "experiment:12*", want: permissions.Pattern{Kind: permissions.Experiment, Glob: "12*"}},
		{in: "experiment:7", want: permissions.Pattern{Kind: permissions.Experiment, Glob: "7"}},
		{in: "hokusai-XRAY*", wantErr: "kind"},
		{in: "", wantErr: "kind"},
		{in: "run:abc", wantErr: "kind"},
		{in: "Registered_Model:x", wantErr: "kind"},
		{in: " registered_model:x", wantErr: "kind"},
		{in: "registered_model:", wantErr: "empty"},
		{in: "registered_model: x", wantErr: "space"},
		{in: "registered_model:x ", wantErr: "space"},
		{in: "registered_model:" + long + "a", wantErr: "longer"},
		{in: "registered_model:a\x00b", wantErr: "unprintable"},
		{in: "registered_model:a\nb", wantErr: "unprintable"},
		{in: "registered_model:a\u202eb", wantErr: "unprintable"},
		{in: "registered_model:\xff", wantErr: "UTF-8"},
		{in: "experiment:abc", wantErr: "digits"},
		{in: "experiment:1?", wantErr: "digits"},
	} {
		got, err := permissions.ParsePattern(tc.in)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("ParsePattern(%q): %v", tc.in, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("ParsePattern(%q) = %v, %v; want an error about %q", tc.in, got, err, tc.wantErr)
		case got != tc.want:
			t.Errorf("ParsePattern(%q) = %+v, want %+v", tc.in, got, tc.want)
		case err == nil && got.String() != tc.in:
			t.Errorf("ParsePattern(%q).String() = %q", tc.in, got.String())
		}
	}
}

func TestPatternMatches(t *testing.T) {
	model := func(name string) permissions.Resource {
		return permissions.Resource{Kind: permissions.RegisteredModel, ID: name}
	}
	for _, tc := range []struct {
		pattern string
		r       permissions.Resource
		want    bool
	}{
		{"registered_model:hokusai-XRAY*", model("hokusai-XRAY"), true},
		{"registered_model:hokusai-XRAY*", model("hokusai-XRAY-chest-v2"), true},
		{"registered_model:hokusai-XRAY*", model("HOKUSAI-xray-chest"), true}, // folded, as MySQL reads names
		{"registered_model:hokusai-XRAY*", model("hokusai-XRA"), false},
		{"registered_model:hokusai-XRAY*", model("other-hokusai-XRAY"), false},
		{"registered_model:hokusai-XRAY*", permissions.Resource{Kind: permissions.Experiment, ID: "hokusai-XRAY"}, false},
		{"registered_model:*", model(""), true},
		{"registered_model:*", model("anything"), true},
		{"registered_model:a*b*c", model("abc"), true},
		{"registered_model:a*b*c", model("aXbYc"), true},
		{"registered_model:a*b*c", model("aXbYcZ"), false},
		{"registered_model:a*b*c", model("acb"), false},
		{"registered_model:*-prod", model("x-prod-prod"), true},
		{"registered_model:**x", model("yx"), true},
		{"registered_model:exact", model("exact"), true},
		{"registered_model:exact", model("exactly"), false},
		{"registered_model:exact", model("Exact"), true},
		{"registered_model:a*", model("ſ"), false},
		{"registered_model:s*", model("ſx"), true}, // long s folds with s
		{"registered_model:" + strings.Repeat("*a", 100) + "b", model(strings.Repeat("a", 200)), false},
		{"experiment:1*", permissions.Resource{Kind: permissions.Experiment, ID: "12"}, true},
		{"experiment:1*", permissions.Resource{Kind: permissions.Experiment, ID: "21"}, false},
		{"experiment:1*", model("12"), false},
	} {
		p, err := permissions.ParsePattern(tc.pattern)
		if err != nil {
			t.Fatalf("ParsePattern(%q): %v", tc.pattern, err)
		}
		if got := p.Matches(tc.r); got != tc.want {
			t.Errorf("%q.Matches(%+v) = %v, want %v", tc.pattern, tc.r, got, tc.want)
		}
	}
}

func TestEffective(t *testing.T) {
	const alice, bob = "user-a", "user-b"
	xray := permissions.Resource{Kind: permissions.RegisteredModel, ID: "hokusai-XRAY-chest"}
	exp := permissions.Resource{Kind: permissions.Experiment, ID: "7"}
	narrowTo := func(s ...string) []permissions.Pattern {
		var ps []permissions.Pattern
		for _, x := range s {
			p, err := permissions.ParsePattern(x)
			if err != nil {
				t.Fatal(err)
			}
			ps = append(ps, p)
		}
		return ps
	}
	userGrant := func(kind permissions.Kind, target, user string, l permissions.Level) permissions.Grant {
		return permissions.Grant{Kind: kind, Target: target, UserID: user, Level: l}
	}
	patternGrant := func(kind permissions.Kind, glob, user string, l permissions.Level) permissions.Grant {
		return permissions.Grant{Kind: kind, Target: glob, Pattern: true, UserID: user, Level: l}
	}
	read := permissions.Policy{Default: permissions.Read}
	none := permissions.Policy{Default: permissions.NoPermissions}
	for _, tc := range []struct {
		name   string
		policy permissions.Policy
		caller permissions.Caller
		r      permissions.Resource
		facts  permissions.Facts
		want   permissions.Level
	}{
		{"the default applies to others", read, permissions.Caller{UserID: bob}, xray, permissions.Facts{Owner: alice}, permissions.Read},
		{"a NO_PERMISSIONS default", none, permissions.Caller{UserID: bob}, xray, permissions.Facts{Owner: alice}, permissions.NoPermissions},
		{"the owner manages", none, permissions.Caller{UserID: alice}, xray, permissions.Facts{Owner: alice}, permissions.Manage},
		{"an admin manages", none, permissions.Caller{UserID: bob, Admin: true}, xray, permissions.Facts{Owner: alice}, permissions.Manage},
		{"an admin manages the unowned", none, permissions.Caller{UserID: bob, Admin: true}, xray, permissions.Facts{}, permissions.Manage},
		{"an empty user id owns nothing", none, permissions.Caller{}, xray, permissions.Facts{}, permissions.NoPermissions},
		{"a user grant raises", read, permissions.Caller{UserID: bob}, xray,
			permissions.Facts{Owner: alice, Grants: []permissions.Grant{userGrant(permissions.RegisteredModel, "hokusai-XRAY-chest", bob, permissions.Edit)}}, permissions.Edit},
		{"a user grant matches folded", read, permissions.Caller{UserID: bob}, xray,
			permissions.Facts{Owner: alice, Grants: []permissions.Grant{userGrant(permissions.RegisteredModel, "HOKUSAI-xray-CHEST", bob, permissions.Edit)}}, permissions.Edit},
		{"a grant never lowers the default", read, permissions.Caller{UserID: bob}, xray,
			permissions.Facts{Owner: alice, Grants: []permissions.Grant{userGrant(permissions.RegisteredModel, xray.ID, bob, permissions.NoPermissions)}}, permissions.Read},
		{"the highest grant wins", none, permissions.Caller{UserID: bob}, xray,
			permissions.Facts{Owner: alice, Grants: []permissions.Grant{
				userGrant(permissions.RegisteredModel, xray.ID, bob, permissions.Use),
				patternGrant(permissions.RegisteredModel, "hokusai-*", bob, permissions.Manage),
				userGrant(permissions.RegisteredModel, xray.ID, bob, permissions.Read)}}, permissions.Manage},
		{"another user's grant is not mine", none, permissions.Caller{UserID: bob}, xray,
			permissions.Facts{Owner: alice, Grants: []permissions.Grant{userGrant(permissions.RegisteredModel, xray.ID, "user-c", permissions.Edit)}}, permissions.NoPermissions},
		{"a grant on another model is not this one's", none, permissions.Caller{UserID: bob}, xray,
			permissions.Facts{Owner: alice, Grants: []permissions.Grant{userGrant(permissions.RegisteredModel, "hokusai-XRAY", bob, permissions.Edit)}}, permissions.NoPermissions},
		{"a grant of the other kind is not this one's", none, permissions.Caller{UserID: bob}, exp,
			permissions.Facts{Owner: alice, Grants: []permissions.Grant{userGrant(permissions.RegisteredModel, "7", bob, permissions.Edit)}}, permissions.NoPermissions},
		{"a pattern grant matching", none, permissions.Caller{UserID: bob}, xray,
			permissions.Facts{Owner: alice, Grants: []permissions.Grant{patternGrant(permissions.RegisteredModel, "hokusai-XRAY*", bob, permissions.Edit)}}, permissions.Edit},
		{"a pattern grant not matching", none, permissions.Caller{UserID: bob}, xray,
			permissions.Facts{Owner: alice, Grants: []permissions.Grant{patternGrant(permissions.RegisteredModel, "hokusai-CT*", bob, permissions.Edit)}}, permissions.NoPermissions},
		{"an experiment grant", none, permissions.Caller{UserID: bob}, exp,
			permissions.Facts{Owner: alice, Grants: []permissions.Grant{userGrant(permissions.Experiment, "7", bob, permissions.Use)}}, permissions.Use},
		{"unowned: the default stops below MANAGE", permissions.Policy{Default: permissions.Manage}, permissions.Caller{UserID: bob}, xray, permissions.Facts{}, permissions.Edit},
		{"owned: a MANAGE default is MANAGE", permissions.Policy{Default: permissions.Manage}, permissions.Caller{UserID: bob}, xray, permissions.Facts{Owner: alice}, permissions.Manage},
		{"unowned: a grant may give MANAGE", none, permissions.Caller{UserID: bob}, xray,
			permissions.Facts{Grants: []permissions.Grant{userGrant(permissions.RegisteredModel, xray.ID, bob, permissions.Manage)}}, permissions.Manage},
		{"unowned: the default READ", read, permissions.Caller{UserID: bob}, xray, permissions.Facts{}, permissions.Read},
		{"narrowed, matching: unchanged", read, permissions.Caller{UserID: alice, Patterns: narrowTo("registered_model:hokusai-XRAY*")}, xray, permissions.Facts{Owner: alice}, permissions.Manage},
		{"narrowed, one of several matching", read, permissions.Caller{UserID: alice, Patterns: narrowTo("experiment:1", "registered_model:hokusai-*")}, xray, permissions.Facts{Owner: alice}, permissions.Manage},
		{"narrowed, not matching: at most READ", read, permissions.Caller{UserID: alice, Patterns: narrowTo("registered_model:hokusai-CT*")}, xray, permissions.Facts{Owner: alice}, permissions.Read},
		{"narrowed, not matching, the other kind", read, permissions.Caller{UserID: alice, Patterns: narrowTo("registered_model:*")}, exp, permissions.Facts{Owner: alice}, permissions.Read},
		{"narrowed admin key, not matching: at most READ", read, permissions.Caller{UserID: alice, Admin: true, Patterns: narrowTo("registered_model:hokusai-CT*")}, xray, permissions.Facts{}, permissions.Read},
		{"narrowed, not matching, below READ stays", none, permissions.Caller{UserID: bob, Patterns: narrowTo("registered_model:hokusai-CT*")}, xray, permissions.Facts{Owner: alice}, permissions.NoPermissions},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.policy.Effective(tc.caller, tc.r, tc.facts); got != tc.want {
				t.Errorf("Effective = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCanCreate(t *testing.T) {
	xray, err := permissions.ParsePattern("registered_model:hokusai-XRAY*")
	if err != nil {
		t.Fatal(err)
	}
	p := permissions.Policy{Default: permissions.NoPermissions}
	model := permissions.Resource{Kind: permissions.RegisteredModel, ID: "hokusai-xray-new"}
	other := permissions.Resource{Kind: permissions.RegisteredModel, ID: "hokusai-ct-new"}
	exp := permissions.Resource{Kind: permissions.Experiment, ID: "9"}
	for _, tc := range []struct {
		name   string
		caller permissions.Caller
		r      permissions.Resource
		want   bool
	}{
		{"a key not narrowed, a model", permissions.Caller{UserID: "u"}, model, true},
		{"a key not narrowed, an experiment", permissions.Caller{UserID: "u"}, exp, true},
		{"narrowed, a matching name", permissions.Caller{UserID: "u", Patterns: []permissions.Pattern{xray}}, model, true},
		{"narrowed, another name", permissions.Caller{UserID: "u", Patterns: []permissions.Pattern{xray}}, other, false},
		{"narrowed, an experiment", permissions.Caller{UserID: "u", Patterns: []permissions.Pattern{xray}}, exp, false},
		{"a narrowed admin key, another name", permissions.Caller{UserID: "u", Admin: true, Patterns: []permissions.Pattern{xray}}, other, false},
		{"a kind that carries no permissions", permissions.Caller{UserID: "u"}, permissions.Resource{Kind: "run", ID: "x"}, false},
	} {
		if got := p.CanCreate(tc.caller, tc.r); got != tc.want {
			t.Errorf("%s: CanCreate = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// FuzzParsePattern: whatever a key holder sends, parsing never panics, and what it accepts is a
// known kind with a bounded, printable glob that prints back to the input and matches itself.
func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{"registered_model:hokusai-XRAY*", "experiment:1*", "registered_model:*", ":", "a:b:c",
		"registered_model:\xff", "experiment:", "registered_model: x", "registered_model:**"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := permissions.ParsePattern(s)
		if err != nil {
			return
		}
		if !p.Kind.Valid() || p.Glob == "" || !utf8.ValidString(p.Glob) || utf8.RuneCountInString(p.Glob) > permissions.MaxGlobLength {
			t.Fatalf("accepted %q as %+v", s, p)
		}
		if p.String() != s {
			t.Fatalf("%q prints back as %q", s, p.String())
		}
		literal := permissions.Resource{Kind: p.Kind, ID: strings.ReplaceAll(p.Glob, "*", "")}
		if !p.Matches(literal) {
			t.Fatalf("%q does not match %q", s, literal.ID)
		}
	})
}
