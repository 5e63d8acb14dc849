package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dynamodbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/lease"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/emulator"
)

// The daemon as it runs for months: `run` in-process against kinesis-mock,
// kumo (SNS, and DynamoDB for the lease) and the CloudWatch test server,
// with its HTTP endpoints, two replicas, SIGHUP.

// syncBuffer is a bytes.Buffer safe for a daemon's log and a test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// replica is a daemon running in-process.
type replica struct {
	name   string
	addr   string // metrics.listen
	log    *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

// startReplica runs `run --config path` until stop.
func startReplica(t *testing.T, name, path, addr string) *replica {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &replica{name: name, addr: addr, log: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() {
		root := rootCommand(io.Discard, r.log, testHooks)
		root.SetArgs([]string{"run", "--config", path, "--log-format", "console"})
		r.done <- root.ExecuteContext(ctx)
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels the daemon as SIGTERM would and wants it gone within ECS's
// 30 s.
func (r *replica) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("%s exited with %v", r.name, err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("%s did not stop within 30 s\n%s", r.name, r.log.String())
	}
}

// get fetches a path of the replica's HTTP server.
func (r *replica) get(path string) (int, string) {
	resp, err := http.Get("http://" + r.addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// metric returns the value of a sample line of /metrics, e.g.
// `kinesis_autoscaler_leader`, or -1.
func (r *replica) metric(sample string) float64 {
	_, body := r.get("/metrics")
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// leaseTable creates a lease table in kumo.
func (a *acceptance) leaseTable() string {
	a.t.Helper()
	client := dynamodb.NewFromConfig(emulator.AWSConfig(), func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(a.kumo.Endpoint) })
	table := emulator.UniqueName("lease")
	if _, err := client.CreateTable(a.ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []dynamodbtypes.AttributeDefinition{{AttributeName: aws.String(lease.KeyAttribute), AttributeType: dynamodbtypes.ScalarAttributeTypeS}},
		KeySchema:            []dynamodbtypes.KeySchemaElement{{AttributeName: aws.String(lease.KeyAttribute), KeyType: dynamodbtypes.KeyTypeHash}},
		BillingMode:          dynamodbtypes.BillingModePayPerRequest,
	}); err != nil {
		a.t.Fatalf("create lease table: %v", err)
	}
	return table
}

// daemonConfig writes a daemon's config: the emulators, the streams, and
// extra top-level YAML.
func (a *acceptance) daemonConfig(streams []string, extra string) string {
	a.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "aws:\n  region: us-east-1\n  endpoints:\n    kinesis: %s\n    cloudwatch: %s\n    sns: %s\n    dynamodb: %s\n",
		kinesisMock.Get(a.t).Endpoint, a.cw.URL, a.kumo.Endpoint, a.kumo.Endpoint)
	fmt.Fprintf(&b, "alerts:\n  sns_topic_arn: %s\n", a.topicARN)
	b.WriteString("poll_interval: 10s\n")
	b.WriteString("defaults:\n  min_shards: 2\n  max_shards: 16\n")
	b.WriteString(extra)
	if len(streams) > 0 {
		b.WriteString("streams:\n")
		for _, s := range streams {
			fmt.Fprintf(&b, "  - name: %s\n", s)
		}
	}
	path := filepath.Join(a.t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		a.t.Fatal(err)
	}
	return path
}

// Two replicas share a lease: the leader acts and alerts at start-up, the
// standby reads and serves metrics but changes nothing; when the leader
// stops it releases the lease, the standby takes over at once and, reading
// the action from the stream's tags, does not repeat it.
func TestDaemonTwoReplicas(t *testing.T) {
	calls := recordCalls(t)
	a := newAcceptance(t)
	hot := a.stream("ha-hot", 2)
	// 3.6 shards' worth: after 2 -> 4 the load still asks for more, and
	// only the cooldown the new leader reads from the tags holds it back.
	a.load(hot, 15, 2, 1.8)
	table := a.leaseTable()
	cfgA := a.daemonConfig([]string{hot}, fmt.Sprintf("lease:\n  table: %s\n  duration: 4s\nmetrics:\n  listen: %s\n", table, freeAddr(t)))
	cfgB := a.daemonConfig([]string{hot}, fmt.Sprintf("lease:\n  table: %s\n  duration: 4s\nmetrics:\n  listen: %s\n", table, freeAddr(t)))

	ra := startReplica(t, "A", cfgA, addrOf(t, cfgA))
	waitFor(t, "A ready as leader", 20*time.Second, func() bool {
		code, body := ra.get("/readyz")
		return code == 200 && strings.Contains(body, "role: leader")
	})
	rb := startReplica(t, "B", cfgB, addrOf(t, cfgB))
	waitFor(t, "B ready as standby", 20*time.Second, func() bool {
		code, body := rb.get("/readyz")
		return code == 200 && strings.Contains(body, "role: standby")
	})
	if code, body := rb.get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("B /healthz = %d %q", code, body)
	}
	// The first cycle runs at start-up: A has scaled, once, and alerted.
	a.waitShards(hot, 4)
	got := a.alerts(1)
	checkAlert(t, got[hot], "scaled_up", []string{"scaled up 2 -> 4"}, nil)
	if v := ra.metric(`kinesis_autoscaler_scaling_actions_total{direction="up",result="requested",stream="` + hot + `"}`); v != 1 {
		t.Errorf("A's scaling_actions_total = %v, want 1", v)
	}
	for _, r := range []*replica{ra, rb} {
		if v := r.metric(`kinesis_autoscaler_open_shards{stream="` + hot + `"}`); v < 2 {
			t.Errorf("%s does not export the stream's open shards (%v)", r.name, v)
		}
	}
	if ra.metric("kinesis_autoscaler_leader") != 1 || rb.metric("kinesis_autoscaler_leader") != 0 {
		t.Errorf("leader gauges: A %v, B %v", ra.metric("kinesis_autoscaler_leader"), rb.metric("kinesis_autoscaler_leader"))
	}

	// A stops (a deploy, SIGTERM): it releases the lease, B takes it within
	// a renewal (1 s), and B's next cycle does not repeat the scale-up.
	stopped := time.Now()
	ra.stop(t)
	waitFor(t, "B to lead", 5*time.Second, func() bool { return rb.metric("kinesis_autoscaler_leader") == 1 })
	t.Logf("B led %s after A was told to stop", time.Since(stopped).Round(time.Millisecond))
	cycles := rb.metric("kinesis_autoscaler_cycle_duration_seconds_count")
	waitFor(t, "B's next cycle", 15*time.Second, func() bool {
		return rb.metric("kinesis_autoscaler_cycle_duration_seconds_count") > cycles
	})
	if n, _ := a.shards(hot); n != 4 {
		t.Errorf("the new leader resharded again: %d shards", n)
	}
	a.kumo.ReceiveNone(a.ctx, t, a.queueURL, time.Second)
	if !strings.Contains(rb.log.String(), "in cooldown_up until") {
		t.Errorf("B's log does not show the cooldown it read from the tags:\n%s", rb.log.String())
	}
	if code, body := rb.get("/readyz"); code != 200 || !strings.Contains(body, "role: leader") {
		t.Errorf("B /readyz = %d %s", code, body)
	}
	rb.stop(t)
	for _, want := range []string{"cloudwatch:GetMetricData", "dynamodb:UpdateItem", "kinesis:AddTagsToStream",
		"kinesis:DescribeStreamSummary", "kinesis:ListTagsForStream", "kinesis:UpdateShardCount", "sns:Publish"} {
		if !slices.Contains(calls.seen(), want) {
			t.Errorf("the daemons never called %s (saw %v)", want, calls.seen())
		}
	}
}

// addrOf reads metrics.listen back from a config file.
func addrOf(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`listen: (\S+)`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("no metrics.listen in %s", path)
	}
	return string(m[1])
}

// SIGHUP reloads the configuration: a good file takes effect at the next
// cycle, a bad one is rejected with a log line and an alert, and the
// configuration in force stays.
func TestDaemonReloadsOnSIGHUP(t *testing.T) {
	a := newAcceptance(t)
	one := a.stream("hup-one", 2)
	two := a.stream("hup-two", 2)
	addr := freeAddr(t)
	metricsBlock := fmt.Sprintf("metrics:\n  listen: %s\n", addr)
	path := a.daemonConfig([]string{one}, metricsBlock)
	r := startReplica(t, "daemon", path, addr)
	waitFor(t, "ready", 20*time.Second, func() bool { code, _ := r.get("/readyz"); return code == 200 })
	if v := r.metric("kinesis_autoscaler_managed_streams"); v != 1 {
		t.Fatalf("managed streams %v, want 1", v)
	}

	good := a.daemonConfig([]string{one, two}, metricsBlock)
	replaceFile(t, good, path)
	hup(t)
	waitFor(t, "the reload", 5*time.Second, func() bool {
		return r.metric(`kinesis_autoscaler_config_reloads_total{result="applied"}`) == 1
	})
	waitFor(t, "a cycle over both streams", 15*time.Second, func() bool {
		return r.metric("kinesis_autoscaler_managed_streams") == 2
	})

	if err := os.WriteFile(path, []byte("streams:\n  - name: one\n    max_shards: lots\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hup(t)
	waitFor(t, "the rejection", 5*time.Second, func() bool {
		return r.metric(`kinesis_autoscaler_config_reloads_total{result="rejected"}`) == 1
	})
	got := a.alerts(1)
	// An alert about the daemon carries no stream: a stream may be named
	// "configuration".
	rejected := got[""]
	checkAlert(t, rejected, "config_rejected", []string{"configuration rejected"},
		[]string{`"lots" is not a whole number`, "stays in force"})
	if len(rejected) == 1 && rejected[0].MessageAttributes["scope"].Value != "daemon" {
		t.Errorf("config_rejected scope %q, want daemon", rejected[0].MessageAttributes["scope"].Value)
	}
	if !strings.Contains(r.log.String(), "new configuration rejected; the configuration in force stays") {
		t.Errorf("no log line of the rejection:\n%s", r.log.String())
	}
	cycles := r.metric("kinesis_autoscaler_cycle_duration_seconds_count")
	waitFor(t, "the next cycle", 15*time.Second, func() bool {
		return r.metric("kinesis_autoscaler_cycle_duration_seconds_count") > cycles
	})
	if v := r.metric("kinesis_autoscaler_managed_streams"); v != 2 {
		t.Errorf("after a rejected reload the daemon manages %v streams, want the 2 in force", v)
	}
}

// replaceFile moves from over to, as editors and config management do.
func replaceFile(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

// hup sends SIGHUP to this process, where the daemons under test take it.
func hup(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}
