package gateway

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Listener wraps the API's listener so that the errors net/http answers itself, before any
// handler runs, come out as the gateway's JSON error responses rather than Go's text/plain: a
// malformed request line or header (400), headers over the server's MaxHeaderBytes (431), an
// unsupported Transfer-Encoding (501) or HTTP version (505).
//
// net/http writes each of those answers with one Write straight to the connection, in a fixed
// form (status line, Content-Type text/plain, Connection: close, then the text) and closes it;
// a handler's response always carries Date and framing headers, so it never takes that form.
func (g *Gateway) Listener(ln net.Listener) net.Listener { return &errorListener{Listener: ln, g: g} }

type errorListener struct {
	net.Listener
	g *Gateway
}

func (l *errorListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &errorConn{Conn: c, g: l.g}, nil
}

type errorConn struct {
	net.Conn
	g  *Gateway
	mu sync.Mutex
}

// serverError matches what net/http's conn.serve writes when it cannot read a request.
var serverError = regexp.MustCompile(`\AHTTP/1\.1 ([45]\d\d) ([^\r\n]*)\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n`)

func (c *errorConn) Write(p []byte) (int, error) {
	m := serverError.FindSubmatch(p)
	if m == nil {
		return c.Conn.Write(p)
	}
	status, _ := strconv.Atoi(string(m[1]))
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.Conn.Write(c.g.serverErrorResponse(status, string(m[2]))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// serverErrorResponse is a whole HTTP/1.1 response carrying the gateway error for a request
// net/http could not read; reason is Go's reason phrase, e.g. "Bad Request: missing required Host header".
func (g *Gateway) serverErrorResponse(status int, reason string) []byte {
	typ := "DEFAULT_4XX"
	if status >= 500 {
		typ = "DEFAULT_5XX"
	}
	// Keep Go's status: a template's DEFAULT_4XX status would say less than 431 or 505 does.
	requestID := newUUID()
	_, header, body := g.renderGatewayError(requestID, gatewayError{Type: typ, Status: status, Message: strings.TrimSpace(reason)})
	header.Set("x-amzn-RequestId", requestID)
	header.Set("Content-Length", strconv.Itoa(len(body)))
	header.Set("Connection", "close")
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	_ = header.Write(&b)
	b.WriteString("\r\n")
	b.WriteString(body)
	return b.Bytes()
}
