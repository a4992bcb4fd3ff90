// Package eventheader reads the request header out of an API Gateway REST (v1) event, the proxy
// integration's and the REQUEST authorizer's alike, so that both read one request the same way.
package eventheader

import (
	"maps"
	"net/http"
	"slices"
)

// Parse is the request header API Gateway's two maps describe, names canonical as net/http reads
// them. multiValueHeaders holds every value and headers only the last, so headers counts only
// for a name multi lacks. The maps keep the client's spelling, so one name may come under two
// keys: all their values are kept, in the order of the keys, never in map order, so that every
// reader of the same event (the authorizer, then the function) reads the same header.
func Parse(single map[string]string, multi map[string][]string) http.Header {
	h := make(http.Header, len(single))
	for _, k := range slices.Sorted(maps.Keys(multi)) {
		for _, v := range multi[k] {
			h.Add(k, v)
		}
	}
	fromMulti := make(map[string]bool, len(h))
	for k := range h {
		fromMulti[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(single)) {
		if !fromMulti[http.CanonicalHeaderKey(k)] {
			h.Add(k, single[k])
		}
	}
	return h
}
