package faultproxy

import (
	"bufio"
	"fmt"
	"net/http"
	"time"
)

// Fault is what the proxy does to a call instead of passing it through.
type Fault interface {
	// Name says what the fault is, e.g. "LimitExceededException 400"; the
	// proxy counts injections by name.
	Name() string
	apply(w http.ResponseWriter, x *exchange)
}

type errorFault struct {
	status int
	code   string
}

// Error answers without contacting the upstream with an AWS error of the
// HTTP status and error code, in the protocol of the call, so that the SDK
// decodes it as AWS's own (a typed error where the service model has one).
func Error(status int, code string) Fault { return errorFault{status: status, code: code} }

// ServerError is Error(500, "InternalFailure").
func ServerError() Fault { return Error(http.StatusInternalServerError, "InternalFailure") }

// Throttling is Error(400, code): "ThrottlingException" for Kinesis,
// "Throttling" for CloudWatch and SNS.
func Throttling(code string) Fault { return Error(http.StatusBadRequest, code) }

// LimitExceeded is Kinesis's Error(400, "LimitExceededException"): the API
// rate limit on most calls, the reshard quota on UpdateShardCount.
func LimitExceeded() Fault { return Error(http.StatusBadRequest, "LimitExceededException") }

// ResourceInUse is Kinesis's Error(400, "ResourceInUseException").
func ResourceInUse() Fault { return Error(http.StatusBadRequest, "ResourceInUseException") }

func (f errorFault) Name() string { return fmt.Sprintf("%s %d", f.code, f.status) }

func (f errorFault) apply(w http.ResponseWriter, x *exchange) {
	writeError(w, x.req.Protocol, f.status, f.code, "fault injected by faultproxy")
	x.p.update(x.idx, func(c *Call) { c.Status = f.status })
}

type delayFault struct{ d time.Duration }

// Delay holds the call for d, then passes it through; a client that gives up
// first gets nothing and the call is not forwarded.
func Delay(d time.Duration) Fault { return delayFault{d: d} }

// Hang holds the call until the client gives up, when it is never
// forwarded, or until ReleaseHung.
func Hang() Fault { return delayFault{d: -1} }

func (f delayFault) Name() string {
	if f.d < 0 {
		return "hang"
	}
	return "slow " + f.d.String()
}

func (f delayFault) apply(w http.ResponseWriter, x *exchange) {
	var timer <-chan time.Time
	if f.d >= 0 {
		t := time.NewTimer(f.d)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-x.r.Context().Done():
		return
	case <-timer:
	case <-x.p.releasedChan():
	}
	x.pass(w)
}

type dropFault struct{ afterForward bool }

// Drop closes the connection without an answer and without forwarding the
// call: the operation did not happen, but the client cannot know.
func Drop() Fault { return dropFault{} }

// DropAfterForward forwards the call, so that the operation happens
// upstream, then closes the connection without an answer.
func DropAfterForward() Fault { return dropFault{afterForward: true} }

func (f dropFault) Name() string {
	if f.afterForward {
		return "dropped after forward"
	}
	return "dropped"
}

func (f dropFault) apply(w http.ResponseWriter, x *exchange) {
	if f.afterForward {
		if _, _, err := x.forward(); err != nil {
			return
		}
	}
	hijackAndClose(w, nil)
}

type truncateFault struct{}

// Truncate forwards the call, so that the operation happens upstream, then
// sends the upstream's status and headers with the full Content-Length but
// only half of the body, and closes the connection.
func Truncate() Fault { return truncateFault{} }

func (truncateFault) Name() string { return "truncated body" }

func (truncateFault) apply(w http.ResponseWriter, x *exchange) {
	resp, body, err := x.forward()
	if err != nil {
		return
	}
	status := resp.StatusCode
	hijackAndClose(w, func(bw *bufio.Writer) {
		fmt.Fprintf(bw, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
		for k, vs := range resp.Header {
			if http.CanonicalHeaderKey(k) == "Content-Length" || http.CanonicalHeaderKey(k) == "Transfer-Encoding" {
				continue
			}
			for _, v := range vs {
				fmt.Fprintf(bw, "%s: %s\r\n", k, v)
			}
		}
		fmt.Fprintf(bw, "Content-Length: %d\r\nConnection: close\r\n\r\n", len(body))
		_, _ = bw.Write(body[:len(body)/2])
	})
	x.p.update(x.idx, func(c *Call) { c.Status = status })
}

// hijackAndClose takes the connection over, lets write send raw bytes, and
// closes it.
func hijackAndClose(w http.ResponseWriter, write func(*bufio.Writer)) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("faultproxy: the response writer cannot be hijacked")
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	if write != nil {
		write(rw.Writer)
		_ = rw.Flush()
	}
}
