// Package apikey is the Hokusai API key format: generation, the format check every lookup is
// gated on, the digest keys are stored and cached under, and extraction from request headers.
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// Environments a key may be issued for.
var Environments = []string{"live", "test", "dev"}

const (
	prefix        = "hk_"
	secretLen     = 40 // issued keys
	minSecretLen  = 20 // accepted: the external service has issued 32-character secrets
	maxSecretLen  = 64
	base62        = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	displayLength = 4 // characters of the secret shown in listings
)

// ErrMalformed is a key that is not hk_<env>_<20–64 base62> or whose env is not allowed here.
var ErrMalformed = errors.New("malformed API key")

// Generate mints a key for env: hk_<env>_<40 base62 characters> from crypto/rand (238 bits).
func Generate(env string) (string, error) {
	if !slices.Contains(Environments, env) {
		return "", fmt.Errorf("key environment must be one of %s, got %q", strings.Join(Environments, ", "), env)
	}
	var b strings.Builder
	b.Grow(len(prefix) + len(env) + 1 + secretLen)
	b.WriteString(prefix + env + "_")
	max := big.NewInt(int64(len(base62)))
	for range secretLen {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("generate key: %w", err)
		}
		b.WriteByte(base62[n.Int64()])
	}
	return b.String(), nil
}

// Env returns the key's environment if key is well formed: hk_(live|test|dev)_[A-Za-z0-9]{20,64}.
// It allocates nothing, so a malformed key costs no more than this check.
func Env(key string) (string, bool) {
	if !strings.HasPrefix(key, prefix) {
		return "", false
	}
	rest := key[len(prefix):]
	env, secret, ok := strings.Cut(rest, "_")
	if !ok || !slices.Contains(Environments, env) {
		return "", false
	}
	if len(secret) < minSecretLen || len(secret) > maxSecretLen {
		return "", false
	}
	for i := 0; i < len(secret); i++ {
		c := secret[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return "", false
		}
	}
	return env, true
}

// Check returns ErrMalformed unless key is well formed and its environment is in allowed.
func Check(key string, allowed []string) error {
	env, ok := Env(key)
	if !ok || !slices.Contains(allowed, env) {
		return ErrMalformed
	}
	return nil
}

// Digest is the hex SHA-256 of key: keys carry 119+ bits of entropy, so a fast hash is right, and
// it is the only form in which a key is stored or used as a cache key.
func Digest(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// DisplayPrefix is what listings show of a key: its environment and first characters.
func DisplayPrefix(key string) string {
	env, ok := Env(key)
	if !ok {
		return ""
	}
	return key[:len(prefix)+len(env)+1+displayLength]
}

// Source says where a key was found.
type Source string

const (
	FromBearer Source = "bearer"
	FromApiKey Source = "apikey"
	FromHeader Source = "x-api-key"
)

// Extract finds the key in the request headers: Authorization: Bearer <key>, then
// Authorization: ApiKey <key>, then X-API-Key: <key>. Never the query string, which ends up in
// logs and browser history. values gives every value a header has (http.Header.Values). A request that carries two different values for either header is refused
// rather than resolved: which one a reader picks would depend on header order or map order, so
// the authorizer and anything reading the request after it could disagree on whose key it is.
func Extract(values func(name string) []string) (string, Source, bool) {
	auth, ok := single(values("Authorization"))
	if !ok {
		return "", "", false
	}
	if auth != "" {
		scheme, value, ok := strings.Cut(auth, " ")
		value = strings.TrimSpace(value)
		if ok && value != "" {
			switch {
			case strings.EqualFold(scheme, "Bearer"):
				return value, FromBearer, true
			case strings.EqualFold(scheme, "ApiKey"):
				return value, FromApiKey, true
			}
		}
	}
	if v, ok := single(values("X-API-Key")); ok && v != "" {
		return v, FromHeader, true
	}
	return "", "", false
}

// single is the one non-empty value, trimmed, among vs; "" with ok when there is none, and not
// ok when there are two that differ.
func single(vs []string) (string, bool) {
	one := ""
	for _, v := range vs {
		v = strings.TrimSpace(v)
		switch {
		case v == "" || v == one:
		case one == "":
			one = v
		default:
			return "", false
		}
	}
	return one, true
}
