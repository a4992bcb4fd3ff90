package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// SignaturePrefix starts every X-Hokusai-Signature value.
const SignaturePrefix = "sha256="

// Sign is the X-Hokusai-Signature value for body: "sha256=" and the hex HMAC-SHA256 of the exact
// bytes sent, keyed with secret.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return SignaturePrefix + hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether header is body's signature under secret. Receivers must verify the raw
// request body, before any JSON parsing, since re-encoding changes the bytes. The comparison takes
// the same time wherever the first wrong byte is, so it leaks nothing about the expected value.
func Verify(secret, body []byte, header string) bool {
	hexMAC, ok := strings.CutPrefix(header, SignaturePrefix)
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexMAC)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}
