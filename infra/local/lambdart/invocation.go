package lambdart

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// invocation is one event on its way through an instance.
type invocation struct {
	id      string
	traceID string
	ctx     context.Context
	payload []byte
	stream  bool

	// done receives the first outcome; capacity 1 so whoever finishes the
	// invocation never waits for a caller that may have gone.
	done chan outcome
	once sync.Once

	// Set for stream invocations: the function's response flows from pw to
	// pr, the caller's Result.Stream. stopCtx unhooks ending the pipe when
	// ctx ends, and must be called once the pipe is finished with.
	pr      *io.PipeReader
	pw      *io.PipeWriter
	stopCtx func() bool

	// Guarded by the owning instance's mu; the caller reads them after
	// receiving from done.
	dispatched   time.Time
	deadline     time.Time
	initDuration time.Duration
	timer        *time.Timer
	answered     bool
}

type outcome struct {
	payload     []byte
	contentType string
	stream      bool // the response is flowing through inv.pr
	fnErr       *FunctionError
	err         error // failure outside the function, e.g. ErrClosed
	at          time.Time
}

func newInvocation(ctx context.Context, payload []byte, stream bool) *invocation {
	inv := &invocation{
		id:      newRequestID(),
		traceID: newTraceID(),
		ctx:     ctx,
		payload: payload,
		stream:  stream,
		done:    make(chan outcome, 1),
		stopCtx: func() bool { return false },
	}
	if stream {
		inv.pr, inv.pw = io.Pipe()
		// Closing the write half makes the caller's reads return ctx.Err()
		// and pump's writes fail, so it stops passing the response on.
		inv.stopCtx = context.AfterFunc(ctx, func() { inv.pw.CloseWithError(ctx.Err()) })
	}
	return inv
}

// finish records the outcome unless one was recorded already.
func (inv *invocation) finish(o outcome) {
	inv.once.Do(func() {
		o.at = time.Now()
		inv.done <- o
	})
}

// fail ends inv because its instance died or was killed for reason,
// including a response stream already handed to the caller.
func (inv *invocation) fail(reason error) {
	if inv.timer != nil {
		inv.timer.Stop()
	}
	o := failure(reason, inv.id)
	inv.finish(o)
	if inv.pw != nil {
		if o.fnErr != nil {
			inv.pw.CloseWithError(o.fnErr)
		} else {
			inv.pw.CloseWithError(o.err)
		}
		inv.stopCtx()
	}
}

// sandboxError is a failure Lambda itself detects, such as a timeout or a
// crash; Lambda prefixes its message with the request id.
type sandboxError struct{ typ, msg string }

func (e sandboxError) Error() string { return e.typ + ": " + e.msg }

func failure(reason error, requestID string) outcome {
	var se sandboxError
	var fe *FunctionError
	switch {
	case errors.As(reason, &se):
		return outcome{fnErr: &FunctionError{Type: se.typ, Message: fmt.Sprintf("RequestId: %s Error: %s", requestID, se.msg)}}
	case errors.As(reason, &fe):
		return outcome{fnErr: fe}
	default:
		return outcome{err: reason}
	}
}

// newRequestID returns a random (version 4) UUID, the form Lambda uses.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newTraceID returns an X-Ray trace header of the shape Lambda sends.
func newTraceID() string {
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", time.Now().Unix(), randomHex(12), randomHex(8))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
