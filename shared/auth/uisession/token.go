// Package uisession is sign-in to the MLflow UI through the gateway: the one-time sign-in links a
// CLI mints with its key, the session cookie they and the sign-in page set, the sessions' storage,
// and the rules the authorizer and the functions apply to a request that carries the cookie
// instead of a key. The cookie never holds the key: it names a server-side session, which names
// the key by its digest, so the authorizer re-validates the key on every request through the same
// caches as an API call and a revoked key's sessions end with it.
package uisession

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// CookieName is the session cookie. The __Host- prefix makes browsers refuse it unless it is
// Secure, has Path=/ and no Domain, so no sibling host can set or read it.
const CookieName = "__Host-hokusai_session"

// Token shapes. Both are redacted from logs (logging's pattern matches their prefixes) and both
// carry 256 bits from crypto/rand, base64url without padding (43 characters).
const (
	sessionPrefix = "hss_" // hss_<id>.<expiry unix seconds>.<HMAC-SHA256>
	linkPrefix    = "hsl_" // hsl_<secret>
	randomLen     = 43
	macLen        = 43
	// maxValueLen bounds what Parse looks at: a cookie of ours is never longer.
	maxValueLen = len(sessionPrefix) + randomLen + 1 + 12 + 1 + macLen
	// MinSecretLen is the shortest session secret accepted (bytes).
	MinSecretLen = 32
)

// ErrInvalid is any cookie or link that is malformed, forged, expired, unknown or used.
var ErrInvalid = errors.New("invalid, expired or ended UI session or sign-in link")

// Codec mints and checks session cookie values with the session secret.
type Codec struct{ secret []byte }

// NewCodec returns a codec keyed by secret, which must be at least MinSecretLen bytes.
func NewCodec(secret []byte) (*Codec, error) {
	if len(secret) < MinSecretLen {
		return nil, errors.New("the session secret is shorter than 32 bytes")
	}
	return &Codec{secret: append([]byte(nil), secret...)}, nil
}

// Mint returns a new cookie value for a session ending at expires, and the session's id (the
// value's random part, which the store keeps only as a digest).
func (c *Codec) Mint(expires time.Time) (value, id string, err error) {
	id, err = random()
	if err != nil {
		return "", "", err
	}
	body := sessionPrefix + id + "." + strconv.FormatInt(expires.Unix(), 10)
	return body + "." + c.mac(body), id, nil
}

// Parse checks value strictly (shape, signature, expiry at now) and returns the session's id. The
// signature is checked before anything is looked up, so forged or junk cookies cost no read.
func (c *Codec) Parse(value string, now time.Time) (string, error) {
	if len(value) > maxValueLen || !strings.HasPrefix(value, sessionPrefix) {
		return "", ErrInvalid
	}
	parts := strings.Split(value[len(sessionPrefix):], ".")
	if len(parts) != 3 || !isRandom(parts[0]) || len(parts[2]) != macLen {
		return "", ErrInvalid
	}
	exp, ok := unixSeconds(parts[1])
	if !ok {
		return "", ErrInvalid
	}
	body := value[:len(value)-macLen-1]
	if !hmac.Equal([]byte(c.mac(body)), []byte(parts[2])) {
		return "", ErrInvalid
	}
	if !now.Before(time.Unix(exp, 0)) {
		return "", ErrInvalid
	}
	return parts[0], nil
}

func (c *Codec) mac(body string) string {
	m := hmac.New(sha256.New, c.secret)
	m.Write([]byte("hokusai-ui-session\x00")) // domain separation: this key signs nothing else
	m.Write([]byte(body))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// NewLinkToken returns a one-time sign-in link token.
func NewLinkToken() (string, error) {
	r, err := random()
	if err != nil {
		return "", err
	}
	return linkPrefix + r, nil
}

// CheckLinkToken says whether s is shaped like a link token, before any lookup.
func CheckLinkToken(s string) error {
	if len(s) != len(linkPrefix)+randomLen || !strings.HasPrefix(s, linkPrefix) || !isRandom(s[len(linkPrefix):]) {
		return ErrInvalid
	}
	return nil
}

// Digest is how the store names a session id or link token: stolen table contents open nothing.
func Digest(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func random() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// isRandom is exactly 43 base64url characters that decode to 32 bytes canonically.
func isRandom(s string) bool {
	if len(s) != randomLen {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil && len(b) == 32
}

// unixSeconds is 1–12 decimal digits without a leading zero.
func unixSeconds(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 12 || s[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
