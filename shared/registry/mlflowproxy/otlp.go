package mlflowproxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/contentcoding"
)

// maxOTLPDecoded bounds what a compressed OTLP export may decompress to. MLflow's OTLP route
// (decompress_otlp_body) decompresses whatever it is sent, in the memory of the one server every
// user shares, so a 6 MB gzip body of zeros would be gigabytes there. 20 MiB is the OpenTelemetry
// Collector's own bound on a decompressed body (max_request_body_size, since CVE-2024-36129), and
// what an exporter's batches stay well under.
const maxOTLPDecoded = 20 << 20

// checkOTLPBody refuses a trace export whose body MLflow would decompress past maxOTLPDecoded, or
// could not decompress at all, before MLflow reads it. The body MLflow gets is the one sent, byte
// for byte. Codings MLflow does not decompress are left for it to refuse.
func checkOTLPBody(r *http.Request) error {
	codings := r.Header.Values("Content-Encoding")
	if len(codings) == 0 || r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	if len(codings) > 1 {
		// Which one MLflow would act on is not for the proxy to guess.
		return newError(http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Send one Content-Encoding, gzip or deflate")
	}
	coding := strings.ToLower(strings.TrimSpace(codings[0]))
	if coding != "gzip" && coding != "deflate" { // MLflow's two, in its spelling
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxOTLPDecoded+1))
	_ = r.Body.Close()
	if err != nil {
		return newError(http.StatusBadRequest, "BAD_REQUEST", "The request body could not be read").withCause(err)
	}
	if _, err := contentcoding.Decode(body, coding, maxOTLPDecoded); err != nil {
		if errors.Is(err, contentcoding.ErrTooLarge) || len(body) > maxOTLPDecoded {
			return newError(http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE",
				fmt.Sprintf("A trace export may decompress to at most %d bytes; send smaller batches", maxOTLPDecoded)).withCause(err)
		}
		return newError(http.StatusBadRequest, "INVALID_PARAMETER_VALUE",
			fmt.Sprintf("The request body is not valid %s", coding)).withCause(err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return nil
}
