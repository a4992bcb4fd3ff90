package eventheader_test

import (
	"net/http"
	"reflect"
	"slices"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/eventheader"
)

func TestHeader(t *testing.T) {
	for _, tc := range []struct {
		name   string
		single map[string]string
		multi  map[string][]string
		want   http.Header
	}{
		{"single only", map[string]string{"x-one": "1"}, nil, http.Header{"X-One": {"1"}}},
		{"multi holds every value; single's last one is not added again",
			map[string]string{"X-Two": "b"}, map[string][]string{"X-Two": {"a", "b"}}, http.Header{"X-Two": {"a", "b"}}},
		{"single counts for a name multi lacks",
			map[string]string{"X-Two": "b", "X-Only": "s"}, map[string][]string{"X-Two": {"a", "b"}}, http.Header{"X-Two": {"a", "b"}, "X-Only": {"s"}}},
		// The maps keep the client's spelling: both spellings' values are kept, in key order.
		{"two spellings in single", map[string]string{"x-api-key": "b", "X-Api-Key": "a"}, nil, http.Header{"X-Api-Key": {"a", "b"}}},
		{"two spellings in multi", nil, map[string][]string{"cookie": {"c"}, "Cookie": {"a", "b"}}, http.Header{"Cookie": {"a", "b", "c"}}},
		{"a spelling in single only, another in multi",
			map[string]string{"x-api-key": "b"}, map[string][]string{"X-Api-Key": {"a"}}, http.Header{"X-Api-Key": {"a"}}},
		{"nothing", nil, nil, http.Header{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := eventheader.Parse(tc.single, tc.multi); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// FuzzHeader: whatever names a client sends, the header read is the same every time (never map
// order), every value lands under its canonical name, and nothing is invented.
func FuzzHeader(f *testing.F) {
	f.Add("X-Api-Key", "a", "x-api-key", "b", "X-API-KEY", "c")
	f.Add("Cookie", "s=1", "cookie", "s=2", "", "")
	f.Add("bad name", "v", "X-\u212aey", "k", "x-key", "k")
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2, n3, v3 string) {
		single := map[string]string{n1: v1, n2: v2}
		multi := map[string][]string{n2: {v2, v3}, n3: {v3}}
		first := eventheader.Parse(single, multi)
		for range 4 {
			if again := eventheader.Parse(single, multi); !reflect.DeepEqual(again, first) {
				t.Fatalf("read %v, then %v", first, again)
			}
		}
		values := 0
		for k, vs := range first {
			if k != http.CanonicalHeaderKey(k) {
				t.Fatalf("name %q is not canonical", k)
			}
			values += len(vs)
		}
		if most := len(single) + len(multi[n2]) + len(multi[n3]); values > most {
			t.Fatalf("%d values from at most %d: %v", values, most, first)
		}
		inMulti := map[string]bool{}
		for k := range multi {
			inMulti[http.CanonicalHeaderKey(k)] = true
		}
		for k, vs := range multi {
			for _, v := range vs {
				if !slices.Contains(first.Values(k), v) {
					t.Fatalf("%q: %q lost from %v", k, v, first)
				}
			}
		}
		for k, v := range single {
			if !inMulti[http.CanonicalHeaderKey(k)] && !slices.Contains(first.Values(k), v) {
				t.Fatalf("%q: %q lost from %v", k, v, first)
			}
		}
	})
}
