package searchfilter

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// tokenPrefix marks (and versions) the gateway's page tokens. MLflow's own are base64 JSON and
// never start with it, so a gateway token is told from MLflow's by its first characters.
const tokenPrefix = "hkp1."

// maxTokenLength bounds a page token as received: MLflow's are a few dozen characters.
const maxTokenLength = 4096

// maxPageSize bounds the upstream page size a token may name: MLflow's largest max_results (model
// versions) is 200000.
const maxPageSize = 200_000

// position is where the next client page starts: in the upstream page MLflow answers to Upstream
// ("" its first page) with max_results Size, after the first Skip results, which an earlier
// client page returned (or dropped as unreadable).
type position struct {
	Operation string `json:"o"`
	Upstream  string `json:"t"`
	Skip      int    `json:"k"`
	Size      int    `json:"n"`
}

// encode is the gateway's page token for p: opaque to the client, base64 of its JSON.
func (p position) encode() string {
	b, err := json.Marshal(p)
	if err != nil {
		panic(err) // a struct of strings and ints always marshals
	}
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

var errNotGatewayToken = errors.New("not a page token of this gateway")

// isGatewayToken reports whether s claims to be the gateway's token (it may still be invalid).
func isGatewayToken(s string) bool { return strings.HasPrefix(s, tokenPrefix) }

// decodeToken reads a page token the gateway issued for operation, strictly: a token of another
// search, another version, altered or truncated is an error, never a guess.
func decodeToken(s, operation string) (position, error) {
	var p position
	if len(s) > maxTokenLength {
		return p, fmt.Errorf("page token over %d characters", maxTokenLength)
	}
	rest, ok := strings.CutPrefix(s, tokenPrefix)
	if !ok {
		return p, errNotGatewayToken
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(rest)
	if err != nil {
		return p, errors.New("page token is not base64")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var fields struct {
		Operation *string `json:"o"`
		Upstream  *string `json:"t"`
		Skip      *int    `json:"k"`
		Size      *int    `json:"n"`
	}
	if err := dec.Decode(&fields); err != nil {
		return p, errors.New("page token is not readable")
	}
	if dec.More() {
		return p, errors.New("page token has trailing data")
	}
	if fields.Operation == nil || fields.Upstream == nil || fields.Skip == nil || fields.Size == nil {
		return p, errors.New("page token lacks a field")
	}
	p = position{Operation: *fields.Operation, Upstream: *fields.Upstream, Skip: *fields.Skip, Size: *fields.Size}
	switch {
	case p.Operation != operation:
		return p, errors.New("page token belongs to another search")
	case p.Size < 1 || p.Size > maxPageSize:
		return p, errors.New("page token names an invalid page size")
	case p.Skip < 0 || p.Skip >= p.Size:
		return p, errors.New("page token names an invalid offset")
	case p.Upstream == "" && p.Skip == 0:
		return p, errors.New("page token names the first page")
	case isGatewayToken(p.Upstream):
		return p, errors.New("page token nests a gateway token")
	}
	// Canonical form only: one token per position, so a token cannot be varied to look new.
	if p.encode() != s {
		return p, errors.New("page token is not in canonical form")
	}
	return p, nil
}
