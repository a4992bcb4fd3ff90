package contentcoding_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/contentcoding"
	cct "github.com/hokusai-protocol/registry-gateway/shared/platform/contentcoding/contentcodingtest"
)

func TestDecode(t *testing.T) {
	spans := []byte(`{"resourceSpans":[]}`)
	zeros := make([]byte, 1<<20)
	for _, tc := range []struct {
		name    string
		body    []byte
		coding  string
		limit   int
		want    []byte
		tooBig  bool
		invalid bool
	}{
		{"none", spans, "", 100, spans, false, false},
		{"identity, any case and spaces", spans, " Identity ", 100, spans, false, false},
		{"none, over the limit", spans, "", 5, nil, true, false},
		{"gzip", cct.Encode(t, cct.Gzip, spans), "gzip", 100, spans, false, false},
		{"x-gzip, in capitals", cct.Encode(t, cct.Gzip, spans), "X-GZIP", 100, spans, false, false},
		{"deflate, zlib-wrapped", cct.Encode(t, cct.Zlib, spans), "deflate", 100, spans, false, false},
		{"deflate, raw", cct.Encode(t, cct.Raw, spans), "deflate", 100, spans, false, false},
		{"exactly the limit", cct.Encode(t, cct.Gzip, spans), "gzip", len(spans), spans, false, false},
		// A megabyte of zeros is a kilobyte of gzip; the bound is on what it decodes to.
		{"a gzip bomb", cct.Encode(t, cct.Gzip, zeros), "gzip", 64 << 10, nil, true, false},
		{"a zlib bomb", cct.Encode(t, cct.Zlib, zeros), "deflate", 64 << 10, nil, true, false},
		{"a raw deflate bomb", cct.Encode(t, cct.Raw, zeros), "deflate", 64 << 10, nil, true, false},
		{"not gzip", spans, "gzip", 100, nil, false, true},
		{"truncated gzip", cct.Encode(t, cct.Gzip, spans)[:10], "gzip", 100, nil, false, true},
		{"not deflate either way", []byte{0xff, 0xff, 0xff}, "deflate", 100, nil, false, true},
		{"an unknown coding", spans, "br", 100, nil, false, true},
		{"two codings", cct.Encode(t, cct.Gzip, spans), "gzip, identity", 100, nil, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := contentcoding.Decode(tc.body, tc.coding, tc.limit)
			switch {
			case tc.tooBig:
				if !errors.Is(err, contentcoding.ErrTooLarge) {
					t.Errorf("err %v, want ErrTooLarge", err)
				}
			case tc.invalid:
				if err == nil || errors.Is(err, contentcoding.ErrTooLarge) {
					t.Errorf("err %v, want it refused as invalid", err)
				}
			case err != nil || !bytes.Equal(got, tc.want):
				t.Errorf("%q %v, want %q", got, err, tc.want)
			}
		})
	}
}

// FuzzDecode: whatever the body and coding, Decode returns within its bound or an error, and what
// a coder encodes decodes back.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("spans"), "gzip", 10, uint8(0))
	f.Add([]byte("spans"), "deflate", 10, uint8(1))
	f.Add([]byte("spans"), "deflate", 3, uint8(2))
	f.Add([]byte{0x1f, 0x8b, 8, 0}, "gzip", 100, uint8(3))
	f.Fuzz(func(t *testing.T, plain []byte, coding string, limit int, as uint8) {
		if limit < 0 || limit > 1<<20 {
			return
		}
		// Arbitrary bytes under an arbitrary coding.
		if out, err := contentcoding.Decode(plain, coding, limit); err == nil && len(out) > limit {
			t.Fatalf("%d bytes out, limit %d", len(out), limit)
		}
		// A real encoding of plain.
		c := [...]struct{ coder, coding string }{{cct.Gzip, "gzip"}, {cct.Zlib, "deflate"}, {cct.Raw, "deflate"}}[as%3]
		name := c.coder
		out, err := contentcoding.Decode(cct.Encode(t, c.coder, plain), c.coding, limit)
		switch {
		case len(plain) > limit:
			if !errors.Is(err, contentcoding.ErrTooLarge) {
				t.Fatalf("%d bytes under limit %d: %v", len(plain), limit, err)
			}
		case err != nil || !bytes.Equal(out, plain):
			t.Fatalf("%s round trip: %q %v, want %q", name, out, err, plain)
		}
	})
}
