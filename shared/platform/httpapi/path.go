package httpapi

import (
	"strings"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
)

// maxShownDecodes bounds how many layers of percent-encoding ShownPath peels. Real paths carry
// one; decoding strictly shortens the text, so the bound only caps the work on hostile input.
const maxShownDecodes = 8

// ShownPath is a client's path as an error message may quote it: decoded layer after layer
// (bounded) as a server along the way might read it, then with every key-shaped part redacted,
// so a key pasted into a path is not echoed however many times it was encoded.
func ShownPath(path string) string {
	for range maxShownDecodes {
		next := LenientUnescape(path)
		if next == path {
			break
		}
		path = next
	}
	return logging.Redacted(strings.ToValidUTF8(path, "?"))
}

// LenientUnescape decodes every valid %XX and keeps anything else as is, as Python's unquote
// (which MLflow's server uses) does. A strict decoder would stop at the first bad escape and
// miss the valid ones after it.
func LenientUnescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
