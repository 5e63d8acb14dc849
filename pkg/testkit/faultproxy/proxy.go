// Package faultproxy is an HTTP proxy for tests that stands between the real
// AWS SDK clients and an AWS emulator (kinesis-mock, kumo, cwtest) and injects
// faults into chosen calls: AWS error answers in the right protocol, slow
// answers, dropped connections, truncated bodies and CloudWatch answers with
// datapoints missing.
//
// It understands the three protocols the daemon's clients speak — AWS JSON 1.1
// (Kinesis), Smithy RPC v2 CBOR (CloudWatch) and AWS Query (SNS) — well enough
// to name each call's operation and, for Kinesis, its stream, and to write
// errors the SDK decodes into the same typed errors AWS would produce. Every
// call is logged with what happened to it, so that tests can assert on the
// requests the daemon really made and on the faults it really met.
package faultproxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Call is one request the proxy received, with what it did about it.
type Call struct {
	// Seq numbers the calls from 1 in the order they arrived.
	Seq int
	// Label is the proxy's label when the call arrived (see SetLabel).
	Label string
	// At is when the call arrived.
	At time.Time
	// Request describes the request.
	Request Request
	// Fault is the name of the fault injected, "" when none was.
	Fault string
	// Forwarded is true when the request reached the upstream.
	Forwarded bool
	// UpstreamStatus is the upstream's HTTP status, 0 when not forwarded or
	// when the upstream could not be reached.
	UpstreamStatus int
	// UpstreamBody is the upstream's response body as it answered, before
	// any fault changed it.
	UpstreamBody []byte
	// Status is the HTTP status the client was sent; 0 when the connection
	// was dropped before a status line.
	Status int
}

// Accepted is true when the upstream answered the call with a 2xx status,
// whether or not the client got to see that answer: the operation took
// effect upstream.
func (c Call) Accepted() bool { return c.UpstreamStatus >= 200 && c.UpstreamStatus < 300 }

// Proxy is a running fault-injecting proxy in front of one upstream.
type Proxy struct {
	// URL is the proxy's base URL, the SDK client's BaseEndpoint.
	URL string

	upstream string
	client   *http.Client

	mu       sync.Mutex
	released chan struct{}
	label    string
	rules    []*Rule
	calls    []Call
	injected map[string]int
}

// New starts a proxy in front of upstream (a base URL such as
// "http://127.0.0.1:4567") that stops when the test ends.
func New(tb testing.TB, upstream string) *Proxy {
	tb.Helper()
	p := &Proxy{
		upstream: strings.TrimSuffix(upstream, "/"),
		client:   &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		injected: map[string]int{},
		released: make(chan struct{}),
	}
	srv := httptest.NewServer(http.HandlerFunc(p.serve))
	tb.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		p.client.CloseIdleConnections()
	})
	p.URL = srv.URL
	return p
}

// Rule injects a fault into the calls it matches.
type Rule struct {
	// Operation, when set, is the only operation matched, e.g.
	// "DescribeStreamSummary", "GetMetricData" or "Publish".
	Operation string
	// Stream, when set, is the only Kinesis stream matched.
	Stream string
	// Match, when set, must also accept the request.
	Match func(Request) bool
	// Fault is what happens to a matched call.
	Fault Fault
	// Times is how many calls the rule affects before it retires itself; 0
	// means until Remove.
	Times int

	proxy *Proxy
	hits  int
}

func (r *Rule) matches(req Request) bool {
	return (r.Operation == "" || r.Operation == req.Operation) &&
		(r.Stream == "" || r.Stream == req.Stream) &&
		(r.Match == nil || r.Match(req))
}

// Hits is how many calls the rule has affected.
func (r *Rule) Hits() int {
	r.proxy.mu.Lock()
	defer r.proxy.mu.Unlock()
	return r.hits
}

// Remove retires the rule: later calls pass untouched.
func (r *Rule) Remove() {
	p := r.proxy
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = slices.DeleteFunc(p.rules, func(x *Rule) bool { return x == r })
}

// Inject adds a rule; the newest matching rule wins. It returns the rule so
// that the test can count its hits and remove it.
func (p *Proxy) Inject(r Rule) *Rule {
	if r.Fault == nil {
		panic("faultproxy: rule without a fault")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	rule := r
	rule.proxy = p
	p.rules = append(p.rules, &rule)
	return &rule
}

// Clear removes every rule.
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = nil
}

// ReleaseHung ends every call that a Hang or Delay fault is holding now:
// each is passed through as if its delay were over.
func (p *Proxy) ReleaseHung() {
	p.mu.Lock()
	defer p.mu.Unlock()
	close(p.released)
	p.released = make(chan struct{})
}

func (p *Proxy) releasedChan() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.released
}

// SetLabel sets the label recorded with the calls that arrive from now on,
// for example the cycle a test is running.
func (p *Proxy) SetLabel(label string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.label = label
}

// Calls returns the calls received so far, in order.
func (p *Proxy) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.calls)
}

// Injected returns how many faults of each name were injected.
func (p *Proxy) Injected() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.injected))
	for k, v := range p.injected {
		out[k] = v
	}
	return out
}

// InjectedTotal is how many faults were injected in all.
func (p *Proxy) InjectedTotal() int {
	n := 0
	for _, v := range p.Injected() {
		n += v
	}
	return n
}

// exchange is one call in flight: the request, its log entry and the means
// to forward it.
type exchange struct {
	p    *Proxy
	r    *http.Request
	body []byte
	req  Request
	idx  int
}

// forward sends the request upstream and returns the upstream's answer with
// its body read. The outcome is logged. Once sent, the request runs to its
// end upstream even if the client goes away, as it would at AWS: the log
// then says whether the operation took effect.
func (x *exchange) forward() (*http.Response, []byte, error) {
	out, err := http.NewRequestWithContext(context.WithoutCancel(x.r.Context()), x.r.Method, x.p.upstream+x.r.URL.RequestURI(), bytes.NewReader(x.body))
	if err != nil {
		return nil, nil, err
	}
	for k, vs := range x.r.Header {
		out.Header[k] = slices.Clone(vs)
	}
	out.ContentLength = int64(len(x.body))
	x.p.update(x.idx, func(c *Call) { c.Forwarded = true })
	resp, err := x.p.client.Do(out)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	x.p.update(x.idx, func(c *Call) { c.UpstreamStatus, c.UpstreamBody = resp.StatusCode, body })
	return resp, body, nil
}

// reply sends an answer to the client and logs its status.
func (x *exchange) reply(w http.ResponseWriter, status int, header http.Header, body []byte) {
	for k, vs := range header {
		if strings.EqualFold(k, "Content-Length") {
			continue
		}
		w.Header()[k] = slices.Clone(vs)
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
	x.p.update(x.idx, func(c *Call) { c.Status = status })
}

// pass forwards the request and relays the answer unchanged.
func (x *exchange) pass(w http.ResponseWriter) {
	resp, body, err := x.forward()
	if err != nil {
		writeError(w, x.req.Protocol, http.StatusBadGateway, "ProxyUpstreamError", err.Error())
		x.p.update(x.idx, func(c *Call) { c.Status = http.StatusBadGateway })
		return
	}
	x.reply(w, resp.StatusCode, resp.Header, body)
}

func (p *Proxy) update(idx int, f func(*Call)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(&p.calls[idx])
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := parseRequest(r, body)

	p.mu.Lock()
	x := &exchange{p: p, r: r, body: body, req: req, idx: len(p.calls)}
	p.calls = append(p.calls, Call{Seq: len(p.calls) + 1, Label: p.label, At: time.Now(), Request: req})
	var fault Fault
	for i := len(p.rules) - 1; i >= 0; i-- {
		rule := p.rules[i]
		if !rule.matches(req) {
			continue
		}
		fault = rule.Fault
		rule.hits++
		if rule.Times > 0 && rule.hits >= rule.Times {
			p.rules = slices.Delete(p.rules, i, i+1)
		}
		p.injected[fault.Name()]++
		p.calls[x.idx].Fault = fault.Name()
		break
	}
	p.mu.Unlock()

	if fault == nil {
		x.pass(w)
		return
	}
	fault.apply(w, x)
}
