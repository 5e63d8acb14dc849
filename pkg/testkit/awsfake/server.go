// Package awsfake is a fast in-process fake of the AWS calls the daemon makes
// — Kinesis (AWS JSON 1.1), CloudWatch GetMetricData (RPC v2 CBOR) and SNS
// Publish (AWS Query) — for tests with many simulated cycles and for
// benchmarks with thousands of streams, where an emulator is too slow.
//
// It behaves like AWS where the daemon's correctness depends on it: a
// reshard keeps the stream UPDATING for a while and refuses other reshards
// (ResourceInUseException), targets beyond double or below half are refused
// (InvalidArgumentException), and the 11th UpdateShardCount of a stream in
// a rolling 24 h is refused (LimitExceededException). Its clock can be the
// test's.
//
// It counts every call per operation and enforces AWS's per-account API rate
// limits (see AWSLimits), answering calls over them as AWS does:
// LimitExceededException for Kinesis, Throttling for CloudWatch. It records
// the highest number of calls of each operation received in any one-second
// window, so that a test can show the daemon never went over a limit.
//
// CloudWatch metrics are derived from each stream's load (the records and
// read bytes per second its producers and consumers ask for) and its open
// shards at the time of the query: what the stream accepted, and what it
// refused as throttled.
package awsfake

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/internal/awswire"
)

// Limit is an API rate limit: PerSecond calls a second with bursts of Burst.
type Limit struct {
	PerSecond float64
	Burst     int
	// PerStream makes the limit apply to each stream on its own rather than
	// to the account.
	PerStream bool
}

// AWSLimits are AWS's documented default rate limits of the calls the daemon
// makes, per account and region unless PerStream. AWS does not document its
// bursts; one second's worth is assumed. UpdateShardCount has no documented
// rate limit, only its quota of 10 calls per stream per rolling 24 h, which
// the fake enforces separately.
var AWSLimits = map[string]Limit{
	"DescribeStreamSummary": {PerSecond: 20, Burst: 20},
	"DescribeStream":        {PerSecond: 10, Burst: 10},
	"ListStreams":           {PerSecond: 5, Burst: 5},
	"ListShards":            {PerSecond: 1000, Burst: 1000, PerStream: true},
	"ListTagsForStream":     {PerSecond: 5, Burst: 5},
	"AddTagsToStream":       {PerSecond: 5, Burst: 5},
	"RemoveTagsFromStream":  {PerSecond: 5, Burst: 5},
	"GetMetricData":         {PerSecond: 50, Burst: 50},
}

// AWS rules the fake enforces.
const (
	// MaxQueriesPerCall is how many queries one GetMetricData call may carry.
	MaxQueriesPerCall = 500
	// MaxDatapointsPerCall is how many datapoints one GetMetricData answer
	// holds before it pages.
	MaxDatapointsPerCall = 100_800
	// MaxReshardsPerDay is UpdateShardCount's quota per stream per rolling 24 h.
	MaxReshardsPerDay = 10
	// MaxStreamsPerListStreams is the most streams one ListStreams returns.
	MaxStreamsPerListStreams = 100
)

// Options configure a Server.
type Options struct {
	// Clock is the time of reshards, the quota window and metrics; nil is the
	// wall clock. Rate limits always run on the wall clock.
	Clock func() time.Time
	// ReshardDuration is how long a stream stays UPDATING after
	// UpdateShardCount; 0 means 30 s.
	ReshardDuration time.Duration
	// Limits are the rate limits by operation; nil means AWSLimits. Use an
	// empty map for none.
	Limits map[string]Limit
	// PublicationDelay is how long after a minute ends its metrics appear;
	// 0 means 2 minutes.
	PublicationDelay time.Duration
}

// OpStats are the figures of one operation.
type OpStats struct {
	// Calls is how many calls arrived; Throttled how many of them were over
	// the rate limit; Failed how many got another error.
	Calls, Throttled, Failed int
	// MaxPerSecond is the most calls that arrived in any one-second window.
	MaxPerSecond int
	// Queries and Datapoints are GetMetricData's queries and returned
	// datapoints.
	Queries, Datapoints int
}

type opStats struct {
	OpStats
	window []time.Time // arrival times within the last second
}

// Server is a running fake.
type Server struct {
	// URL is the base URL of every service, for BaseEndpoint.
	URL string

	opts Options

	mu       sync.Mutex
	streams  map[string]*fakeStream
	names    []string // sorted; nil when it must be rebuilt
	stats    map[string]*opStats
	limiters map[string]*rate.Limiter
}

// New returns a fake that is not listening; serve it with Handler.
func New(opts Options) *Server {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.ReshardDuration == 0 {
		opts.ReshardDuration = 30 * time.Second
	}
	if opts.Limits == nil {
		opts.Limits = AWSLimits
	}
	if opts.PublicationDelay == 0 {
		opts.PublicationDelay = 2 * time.Minute
	}
	return &Server{opts: opts, streams: map[string]*fakeStream{}, stats: map[string]*opStats{}, limiters: map[string]*rate.Limiter{}}
}

// Start starts a fake on a local port that stops when the test ends.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s := New(opts)
	srv := httptest.NewServer(s.Handler())
	tb.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Serve serves the fake on l until l is closed, for a fake in a process of
// its own; the URL is set from l.
func (s *Server) Serve(l net.Listener) error {
	s.URL = "http://" + l.Addr().String()
	return http.Serve(l, s.Handler())
}

// Handler serves the AWS calls and, under /_awsfake/, the control calls
// that a fake in another process is driven with: GET stats, POST reset,
// POST streams (a JSON list of StreamSpec) and POST limits (a JSON map of
// operation to Limit, replacing the limits).
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serve)
}

// Stats returns the figures of every operation called so far.
func (s *Server) Stats() map[string]OpStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]OpStats, len(s.stats))
	for op, st := range s.stats {
		out[op] = st.OpStats
	}
	return out
}

// SetLimits replaces the rate limits; nil means AWSLimits.
func (s *Server) SetLimits(limits map[string]Limit) {
	if limits == nil {
		limits = AWSLimits
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.Limits = limits
	s.limiters = map[string]*rate.Limiter{}
}

// ResetStats forgets the figures, for example between benchmark cycles.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = map[string]*opStats{}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_awsfake/") {
		s.control(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := awswire.Parse(r, body)
	if !s.admit(req) {
		code := "LimitExceededException"
		if req.Protocol != awswire.JSON {
			code = "Throttling"
		}
		awswire.WriteError(w, req.Protocol, http.StatusBadRequest, code, "Rate exceeded for "+req.Operation+" (awsfake)")
		return
	}
	var apiErr *apiError
	switch req.Protocol {
	case awswire.JSON:
		apiErr = s.kinesis(w, req)
	case awswire.CBOR:
		apiErr = s.cloudWatch(w, req)
	case awswire.Query:
		apiErr = s.sns(w, req)
	default:
		apiErr = &apiError{status: http.StatusBadRequest, code: "UnknownOperationException", message: "awsfake does not know this protocol"}
	}
	if apiErr != nil {
		s.mu.Lock()
		s.statsOf(req.Operation).Failed++
		s.mu.Unlock()
		awswire.WriteError(w, req.Protocol, apiErr.status, apiErr.code, apiErr.message)
	}
}

// admit counts the call and reports whether it is within its rate limit.
func (s *Server) admit(req awswire.Request) bool {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.statsOf(req.Operation)
	st.Calls++
	cut := 0
	for cut < len(st.window) && now.Sub(st.window[cut]) >= time.Second {
		cut++
	}
	st.window = append(st.window[cut:], now)
	st.MaxPerSecond = max(st.MaxPerSecond, len(st.window))

	limit, ok := s.opts.Limits[req.Operation]
	if !ok {
		return true
	}
	key := req.Operation
	if limit.PerStream {
		key += "/" + req.Stream
	}
	l := s.limiters[key]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(limit.PerSecond), limit.Burst)
		s.limiters[key] = l
	}
	if !l.AllowN(now, 1) {
		st.Throttled++
		return false
	}
	return true
}

func (s *Server) statsOf(op string) *opStats {
	st := s.stats[op]
	if st == nil {
		st = &opStats{}
		s.stats[op] = st
	}
	return st
}

type apiError struct {
	status        int
	code, message string
}

func badRequest(code, message string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, message: message}
}

// control serves the calls that drive a fake in another process.
func (s *Server) control(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/_awsfake/stats":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Stats())
	case r.Method == http.MethodPost && r.URL.Path == "/_awsfake/reset":
		s.ResetStats()
	case r.Method == http.MethodPost && r.URL.Path == "/_awsfake/limits":
		var limits map[string]Limit
		if err := json.NewDecoder(r.Body).Decode(&limits); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.SetLimits(limits)
	case r.Method == http.MethodPost && r.URL.Path == "/_awsfake/streams":
		var specs []StreamSpec
		if err := json.NewDecoder(r.Body).Decode(&specs); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, spec := range specs {
			s.AddStream(spec)
		}
	default:
		http.NotFound(w, r)
	}
}

// sortedNames returns the stream names in order; the caller holds mu.
func (s *Server) sortedNames() []string {
	if s.names == nil {
		s.names = make([]string, 0, len(s.streams))
		for n := range s.streams {
			s.names = append(s.names, n)
		}
		sort.Strings(s.names)
	}
	return s.names
}
