package searchfilter_test

import (
	"context"
	"slices"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/searchfilter"
)

// facts is a permission store of fixed facts that counts its reads.
type facts struct {
	of    map[permissions.Resource]permissions.Facts
	reads int
}

func (f *facts) Facts(_ context.Context, r permissions.Resource) (permissions.Facts, error) {
	f.reads++
	return f.of[r], nil
}

func TestPolicyPermissions(t *testing.T) {
	store := &facts{of: map[permissions.Resource]permissions.Facts{
		exp("1"):     {Owner: "alice"},
		exp("2"):     {Owner: "bob", Grants: []permissions.Grant{{Kind: permissions.Experiment, Target: "2", UserID: "alice", Level: permissions.Read}}},
		exp("3"):     {Owner: "bob", Grants: []permissions.Grant{{Kind: permissions.Experiment, Target: "3", UserID: "alice", Level: permissions.NoPermissions}}},
		model("m-a"): {Grants: []permissions.Grant{{Kind: permissions.RegisteredModel, Target: "m-*", Pattern: true, UserID: "alice", Level: permissions.Edit}}},
		model("x"):   {Owner: "bob"},
	}}
	asked := []permissions.Resource{exp("1"), exp("2"), exp("3"), model("m-a"), model("x"), exp("1")}
	cases := []struct {
		name     string
		policy   permissions.Policy
		caller   permissions.Caller
		readsAll bool
		want     []bool
	}{
		{"NO_PERMISSIONS: owned, granted and pattern-granted", permissions.Policy{Default: permissions.NoPermissions},
			permissions.Caller{UserID: "alice"}, false, []bool{true, true, false, true, false, true}},
		{"NO_PERMISSIONS, a narrowed key reads no less", permissions.Policy{Default: permissions.NoPermissions},
			permissions.Caller{UserID: "alice", Patterns: []permissions.Pattern{{Kind: permissions.RegisteredModel, Glob: "other"}}}, false, []bool{true, true, false, true, false, true}},
		{"NO_PERMISSIONS, an admin", permissions.Policy{Default: permissions.NoPermissions},
			permissions.Caller{UserID: "root", Admin: true}, true, []bool{true, true, true, true, true, true}},
		{"the default READ", permissions.Policy{Default: permissions.Read},
			permissions.Caller{UserID: "carol"}, true, []bool{true, true, true, true, true, true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := searchfilter.PolicyPermissions{Policy: c.policy, Facts: store}
			if got := p.ReadsAll(c.caller); got != c.readsAll {
				t.Errorf("ReadsAll %v", got)
			}
			store.reads = 0
			got, err := p.Readable(context.Background(), c.caller, asked)
			if err != nil || !slices.Equal(got, c.want) {
				t.Errorf("Readable %v, %v; want %v", got, err, c.want)
			}
			if store.reads != 5 {
				t.Errorf("%d store reads for 5 resources", store.reads)
			}
		})
	}
}
