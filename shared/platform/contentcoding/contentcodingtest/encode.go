// Package contentcodingtest makes the encoded bodies tests send: real gzip and deflate streams.
package contentcodingtest

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"testing"
)

// Coders Encode knows: gzip, deflate wrapped in zlib, and raw deflate.
const (
	Gzip = "gzip"
	Zlib = "zlib"
	Raw  = "raw"
)

// Encode is b encoded by coder.
func Encode(tb testing.TB, coder string, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	switch coder {
	case Gzip:
		w = gzip.NewWriter(&buf)
	case Zlib:
		w = zlib.NewWriter(&buf)
	case Raw:
		w, _ = flate.NewWriter(&buf, flate.BestCompression)
	default:
		tb.Fatalf("no coder %q", coder)
	}
	if _, err := w.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}
