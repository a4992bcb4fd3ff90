package uisession

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxCookieHeader bounds the Cookie header scanned for ours (browsers send up to a few KB).
const maxCookieHeader = 16 << 10

// FromCookieHeaders returns the session cookie's value among the request's Cookie header lines.
// Exactly one cookie of our name must be present: two (one tossed in by a sibling site or a
// script) are refused rather than guessed between.
func FromCookieHeaders(lines []string) (string, bool) {
	var found string
	n, total := 0, 0
	for _, line := range lines {
		total += len(line)
		if total > maxCookieHeader {
			return "", false
		}
		for part := range strings.SplitSeq(line, ";") {
			name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || name != CookieName {
				continue
			}
			n++
			found = value
		}
	}
	if n != 1 || found == "" {
		return "", false
	}
	return found, true
}

// SetCookie is the Set-Cookie header value for a session cookie holding value until expires.
// Built by hand so every attribute is exactly what the security review asked for.
func SetCookie(value string, expires, now time.Time) string {
	maxAge := int(expires.Sub(now).Seconds())
	if maxAge < 1 {
		maxAge = 1
	}
	return CookieName + "=" + value + "; Path=/; Max-Age=" + strconv.Itoa(maxAge) +
		"; Secure; HttpOnly; SameSite=Strict"
}

// ClearCookie is the Set-Cookie header value that removes the session cookie.
func ClearCookie() string {
	return CookieName + "=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict"
}

// SameOrigin reports whether a browser request that carries the cookie comes from the gateway's own
// pages: Sec-Fetch-Site same-origin when the browser sends it (every current one does), else an
// Origin equal to this host's. A request with neither is refused: only a browser sends the
// cookie, and a browser that sends no Origin on a write is not one we can protect.
func SameOrigin(r *http.Request) bool {
	if site := r.Header.Values("Sec-Fetch-Site"); len(site) > 0 {
		return len(site) == 1 && site[0] == "same-origin"
	}
	origins := r.Header.Values("Origin")
	if len(origins) != 1 || r.Host == "" {
		return false
	}
	scheme := "https"
	if p := r.Header.Get("X-Forwarded-Proto"); p == "http" {
		scheme = "http"
	}
	return strings.EqualFold(origins[0], scheme+"://"+r.Host)
}

// Safe reports whether method only reads: the one kind a cookie may carry without SameOrigin.
func Safe(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}
