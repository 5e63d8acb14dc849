// Package cwtest is a CloudWatch GetMetricData server for tests, spoken to by
// the real SDK client over HTTP in the Smithy RPC v2 CBOR protocol.
//
// Tests put datapoints of Kinesis stream metrics into it directly, at any time
// in the past. GetMetricData then answers like CloudWatch: it aggregates the
// points per Period with the query's Stat (Sum, Maximum, Minimum, Average,
// SampleCount), returns each query's timestamps and values under its Id,
// newest first unless ScanBy asks otherwise, and pages with NextToken after a
// configurable number of datapoints. It refuses more than 500 queries per
// call, and it counts calls and can fail the next ones on request.
//
// Datapoints carry the dimension StreamName, or StreamName and ShardId for
// the enhanced shard-level metrics (PutShard); like CloudWatch, a query
// matches only the series with exactly its dimensions. It does not do metric
// math, units, other dimensions, or anything but GetMetricData.
package cwtest

import (
	"cmp"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/awsclient"
)

const (
	// Namespace is the only namespace the server keeps datapoints for.
	Namespace = "AWS/Kinesis"
	// Dimension is the dimension every datapoint carries: the stream name.
	Dimension = "StreamName"
	// ShardDimension is the second dimension of shard-level datapoints.
	ShardDimension = "ShardId"
	// MaxQueries is how many queries CloudWatch accepts in one call.
	MaxQueries = 500
	// DefaultPageSize is CloudWatch's default MaxDatapoints per call.
	DefaultPageSize = 100_800
)

var idPattern = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)

// Server is a running CloudWatch test server.
type Server struct {
	// URL is the server's base URL, the client's BaseEndpoint.
	URL string

	pageSize int

	mu       sync.Mutex
	points   map[series][]point
	calls    []Call
	failures []failure
}

// series names one stream's metric, or one shard's when shard is not empty.
type series struct{ stream, shard, metric string }

type point struct {
	at    time.Time
	value float64
}

// Call is one GetMetricData request the server answered.
type Call struct {
	// Queries is how many MetricDataQueries the request had.
	Queries int
	// NextToken is the token the request carried, empty on a first page.
	NextToken string
	// StartTime and EndTime are the request's window.
	StartTime, EndTime time.Time
}

type failure struct {
	status        int
	code, message string
}

// Option configures a Server.
type Option func(*Server)

// WithPageSize makes the server page after n datapoints, so that tests see
// NextToken without huge data. A request's MaxDatapoints, when smaller, wins.
func WithPageSize(n int) Option {
	return func(s *Server) { s.pageSize = n }
}

// New starts a server that stops when the test ends.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{pageSize: DefaultPageSize, points: map[series][]point{}}
	for _, o := range opts {
		o(s)
	}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Client returns a real SDK CloudWatch client that talks to the server, with
// static test credentials and the SDK's standard retryer without backoff
// delays, so that retried failures cost no time.
func (s *Server) Client() *cloudwatch.Client {
	return cloudwatch.New(cloudwatch.Options{
		Region:                    "us-east-1",
		BaseEndpoint:              aws.String(s.URL),
		Credentials:               credentials.NewStaticCredentialsProvider("AKIDCWTEST", "secret", ""),
		DisableRequestCompression: true,
		Retryer:                   retry.NewStandard(func(o *retry.StandardOptions) { o.Backoff = noBackoff{} }),
		HTTPClient:                awsclient.OwnBodies(nil),
	})
}

type noBackoff struct{}

func (noBackoff) BackoffDelay(int, error) (time.Duration, error) { return 0, nil }

// Put stores one datapoint of a stream's metric (e.g. "IncomingBytes") in
// the AWS/Kinesis namespace. Several points may share a time or a period;
// queries aggregate them.
func (s *Server) Put(stream, metric string, at time.Time, value float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := series{stream: stream, metric: metric}
	s.points[k] = append(s.points[k], point{at: at, value: value})
}

// PutShard stores one datapoint of a shard's enhanced shard-level metric
// (dimensions StreamName and ShardId), like Put.
func (s *Server) PutShard(stream, shard, metric string, at time.Time, value float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := series{stream: stream, shard: shard, metric: metric}
	s.points[k] = append(s.points[k], point{at: at, value: value})
}

// Calls returns the GetMetricData requests answered so far, failures
// included, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// FailNext makes the next n GetMetricData requests fail with the HTTP status
// and error code, e.g. (1, 400, "InvalidParameterValueException") or
// (2, 500, "InternalServiceFault"). Retries of the SDK count as requests.
func (s *Server) FailNext(n, status int, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{status: status, code: code, message: "failure injected by cwtest"})
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	const prefix = "/service/GraniteServiceVersion20100801/operation/"
	op, ok := cutPrefix(r.URL.Path, prefix)
	if r.Method != http.MethodPost || !ok {
		writeError(w, http.StatusNotFound, "UnknownOperationException", "cwtest serves only RPC v2 CBOR requests")
		return
	}
	if op != "GetMetricData" {
		writeError(w, http.StatusBadRequest, "UnknownOperationException", "cwtest serves only GetMetricData, not "+op)
		return
	}
	if r.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" {
		writeError(w, http.StatusBadRequest, "ValidationError", "missing header Smithy-Protocol: rpc-v2-cbor")
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	req, err := decodeRequest(body)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Call{Queries: len(req.queries), NextToken: req.nextToken, StartTime: req.start, EndTime: req.end})
	if len(s.failures) > 0 {
		f := s.failures[0]
		s.failures = s.failures[1:]
		writeError(w, f.status, f.code, f.message)
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	if err := req.validate(); err != nil {
		writeError(w, http.StatusBadRequest, err.code, err.message)
		return
	}
	out, apiErr := s.answer(req)
	if apiErr != nil {
		writeError(w, http.StatusBadRequest, apiErr.code, apiErr.message)
		return
	}
	write(w, http.StatusOK, out)
}

// answer computes one page of results.
func (s *Server) answer(req request) (cbor.Map, *apiError) {
	type entry struct {
		query int
		at    time.Time
		value float64
	}
	var entries []entry
	var returned []int
	for i, q := range req.queries {
		if !q.returnData {
			continue
		}
		returned = append(returned, i)
		for _, p := range s.aggregate(q, req.start, req.end, req.ascending) {
			entries = append(entries, entry{query: i, at: p.at, value: p.value})
		}
	}

	offset := 0
	if req.nextToken != "" {
		if _, err := fmt.Sscanf(req.nextToken, "cwtest-%d", &offset); err != nil || offset <= 0 || offset >= len(entries) {
			return nil, &apiError{code: "InvalidNextToken", message: "next token " + req.nextToken + " is not one this server gave"}
		}
	}
	size := s.pageSize
	if req.maxDatapoints > 0 {
		size = min(size, req.maxDatapoints)
	}
	end := min(offset+max(size, 1), len(entries))
	page := entries[offset:end]

	results := cbor.List{}
	for _, qi := range returned {
		var ts, vs cbor.List
		for _, e := range page {
			if e.query == qi {
				ts = append(ts, &cbor.Tag{ID: 1, Value: cbor.Float64(float64(e.at.UnixMilli()) / 1e3)})
				vs = append(vs, cbor.Float64(e.value))
			}
		}
		more := slices.ContainsFunc(entries[end:], func(e entry) bool { return e.query == qi })
		if len(ts) == 0 && (offset > 0 || more) {
			continue // its points are on other pages
		}
		status := "Complete"
		if more {
			status = "PartialData"
		}
		q := req.queries[qi]
		results = append(results, cbor.Map{
			"Id":         cbor.String(q.id),
			"Label":      cbor.String(cmp.Or(q.label, q.metric)),
			"Timestamps": orEmpty(ts),
			"Values":     orEmpty(vs),
			"StatusCode": cbor.String(status),
		})
	}
	out := cbor.Map{"MetricDataResults": results, "Messages": cbor.List{}}
	if end < len(entries) {
		out["NextToken"] = cbor.String(fmt.Sprintf("cwtest-%d", end))
	}
	return out, nil
}

// aggregate returns the query's values per period in [start, end), newest
// first unless ascending.
func (s *Server) aggregate(q query, start, end time.Time, ascending bool) []point {
	key := series{stream: q.dimensions[Dimension], shard: q.dimensions[ShardDimension], metric: q.metric}
	want := 1
	if key.shard != "" {
		want = 2
	}
	if q.namespace != Namespace || len(q.dimensions) != want || key.stream == "" {
		return nil
	}
	period := time.Duration(q.period) * time.Second
	from := start.Truncate(period)
	buckets := map[time.Time][]float64{}
	for _, p := range s.points[key] {
		b := p.at.Truncate(period)
		if b.Before(from) || !b.Before(end) {
			continue
		}
		buckets[b] = append(buckets[b], p.value)
	}
	out := make([]point, 0, len(buckets))
	for b, vs := range buckets {
		out = append(out, point{at: b, value: statistic(q.stat, vs)})
	}
	slices.SortFunc(out, func(a, b point) int {
		if ascending {
			return a.at.Compare(b.at)
		}
		return b.at.Compare(a.at)
	})
	return out
}

// statistic is one of the stats the request validation lets through.
func statistic(stat string, vs []float64) float64 {
	switch stat {
	case "Maximum":
		return slices.Max(vs)
	case "Minimum":
		return slices.Min(vs)
	case "SampleCount":
		return float64(len(vs))
	}
	sum := 0.0
	for _, v := range vs {
		sum += v
	}
	if stat == "Average" {
		return sum / float64(len(vs))
	}
	return sum
}

func orEmpty(l cbor.List) cbor.List {
	if l == nil {
		return cbor.List{}
	}
	return l
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || s[:len(prefix)] != prefix {
		return "", false
	}
	return s[len(prefix):], true
}
