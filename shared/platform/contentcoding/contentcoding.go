// Package contentcoding decodes an HTTP body by its Content-Encoding within a bound on what it
// decodes to: a few kilobytes of gzip can stand for gigabytes (CVE-2024-36129 is the OpenTelemetry
// Collector's case), so nothing here decodes more than the caller's limit, whatever the body's
// own size.
package contentcoding

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrTooLarge reports a body that decodes to more than the limit.
var ErrTooLarge = errors.New("decodes to more than the limit")

// Decode is body decoded as coding says, at most limit bytes of it. It knows what MLflow sends and
// reads: none (or identity), gzip (or x-gzip), and deflate, zlib-wrapped or, failing that, raw, as
// MLflow's OTLP route reads it. Names are matched as HTTP reads them, in any case, without the
// surrounding spaces. Any other coding is an error, as is a body that is not what it claims.
func Decode(body []byte, coding string, limit int) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(coding)) {
	case "", "identity":
		if len(body) > limit {
			return nil, fmt.Errorf("%d bytes: %w (%d)", len(body), ErrTooLarge, limit)
		}
		return body, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return read("gzip", zr, limit)
	case "deflate":
		out, err := zlibBody(body, limit)
		if err == nil || errors.Is(err, ErrTooLarge) {
			return out, err
		}
		// Some clients send deflate without the zlib wrapper; MLflow accepts both.
		return read("deflate", flate.NewReader(bytes.NewReader(body)), limit)
	default:
		return nil, fmt.Errorf("content coding %q is not gzip or deflate", coding)
	}
}

func zlibBody(body []byte, limit int) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("deflate: %w", err)
	}
	return read("deflate", zr, limit)
}

// read decodes r to its end, refusing to go past limit.
func read(coding string, r io.Reader, limit int) ([]byte, error) {
	out, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", coding, err)
	}
	if len(out) > limit {
		return nil, fmt.Errorf("%s: %w (%d)", coding, ErrTooLarge, limit)
	}
	return out, nil
}
