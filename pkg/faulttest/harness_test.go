package faulttest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/controller"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/metrics"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/notify"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/stream"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/awsfake"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/cwtest"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/emulator"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/faultproxy"
)

// t0 is the simulated time of cycle 0. Simulated time is far from the wall
// clock on purpose: nothing may mix the two.
var t0 = time.Date(2031, 3, 3, 9, 0, 0, 0, time.UTC)

// metricDelay is how late the simulated CloudWatch publishes a minute.
const metricDelay = 2 * time.Minute

// settings are every stream's policy settings unless its model says otherwise.
func settings() policy.Settings {
	return policy.Settings{
		MinShards: 1, MaxShards: 16,
		ScaleUpThreshold: 0.75, ScaleDownThreshold: 0.25,
		ScaleUpAfter: 2 * time.Minute, ScaleDownAfter: 10 * time.Minute,
		CooldownUp: 5 * time.Minute, CooldownDown: 20 * time.Minute,
		MaxIteratorAge: 5 * time.Minute,
	}
}

// model is one kind of stream in every scenario: its start, its settings, the
// constant load its producers and consumers ask for, and the shard count a
// correct daemon settles on.
type model struct {
	role     string
	start    int
	settings policy.Settings
	// records is what producers try to write, records/s; readBytes what
	// consumers try to read, bytes/s.
	records, readBytes float64
	// want is the shard count the daemon converges to without faults.
	want int
}

var models = []model{
	// 3,600 records/s throttles 2 shards (doubled at once), and needs 5 to
	// stay below the scale-up threshold: 2 -> 4 -> 5.
	{role: "hot", start: 2, settings: settings(), records: 3600, want: 5},
	// 100 records/s fits one shard: 8 -> 4 -> 2 -> 1, one step per cooldown_down.
	{role: "idle", start: 8, settings: settings(), records: 100, want: 1},
	// Wants more than max_shards allows: held at 2, one at_max_shards alert.
	{role: "capped", start: 2, settings: func() policy.Settings { s := settings(); s.MaxShards = 2; return s }(), records: 1800, want: 2},
	// 2,000 records/s on 4 shards is 50 %: 3 carry it below the threshold.
	{role: "steady", start: 4, settings: settings(), records: 2000, want: 3},
	// Few writes, but consumers read 60 % of 8 shards' read capacity: a
	// scale-down would throttle them.
	{role: "reader", start: 8, settings: settings(), records: 200, readBytes: 0.6 * 8 * policy.ShardReadBytesPerSecond, want: 8},
}

// needs reports whether target shards are too few for the model's load: it
// would sit above the scale-up threshold at once.
func (m model) needs(target int) bool {
	t := float64(target)
	return m.records/(t*policy.ShardWriteRecordsPerSecond) > m.settings.ScaleUpThreshold ||
		m.readBytes/(t*policy.ShardReadBytesPerSecond) > m.settings.ScaleUpThreshold
}

// fakeClock is the controller's clock, moved by the test.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// simStream is one stream of a world, as the test sees it directly.
type simStream struct {
	model
	name   string
	shards int
	// accepted are the simulated times of UpdateShardCount calls that
	// kinesis-mock accepted, with their directions.
	accepted []acceptedCall
	// underCounted is set once the tags were seen to miss an accepted call.
	underCounted bool
}

type acceptedCall struct {
	at   time.Time
	down bool
}

// alert is one SNS message the daemon published.
type alert struct {
	cycle        int
	event, role  string
	forwardedOK  bool
	streamOrName string
}

// world is one scenario's streams, emulators behind proxies, and the daemon.
type world struct {
	t       *testing.T
	ctx     context.Context
	clock   *fakeClock
	backend backend
	cwData  *cwtest.Server
	kinesis *faultproxy.Proxy
	cw      *faultproxy.Proxy
	sns     *faultproxy.Proxy
	deps    controller.Deps
	opts    controller.Options
	log     *zap.Logger
	ctrl    *controller.Controller
	// runCycle, when set, runs a cycle instead of ctrl (several replicas).
	runCycle func(ctx context.Context) []controller.Outcome

	streams  []*simStream
	byName   map[string]*simStream
	cycle    int
	putUntil time.Time
	seen     map[*faultproxy.Proxy]int

	// Figures.
	wrong []string
	// phantom is the most calls the tags ever recorded beyond those AWS
	// accepted: calls that may have been made, counted to be safe.
	phantom    int
	alerts     []alert
	outcomes   [][]controller.Outcome
	restarts   int
	cycleTimes []time.Duration
}

// noBackoff makes SDK retries immediate: faults cost no time.
type noBackoff struct{}

func (noBackoff) BackoffDelay(int, error) (time.Duration, error) { return 0, nil }

func retryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) { o.Backoff = noBackoff{} })
}

// backend is the Kinesis behind the proxy: kinesis-mock, or awsfake on the
// simulated clock.
type backend interface {
	endpoint() string
	create(ctx context.Context, name string, shards int) error
	// settle waits until the stream is ACTIVE and returns its shards.
	settle(ctx context.Context, name string) (int, error)
	tags(ctx context.Context, name string) (map[string]string, error)
}

// mockBackend is kinesis-mock, read directly, not through the proxy.
type mockBackend struct {
	url    string
	client *kinesis.Client
}

func (b mockBackend) endpoint() string { return b.url }

func (b mockBackend) create(ctx context.Context, name string, shards int) error {
	_, err := b.client.CreateStream(ctx, &kinesis.CreateStreamInput{
		StreamName: aws.String(name), ShardCount: aws.Int32(int32(shards)),
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeProvisioned},
	})
	return err
}

func (b mockBackend) settle(ctx context.Context, name string) (int, error) {
	for {
		out, err := b.client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err != nil {
			return 0, err
		}
		if d := out.StreamDescriptionSummary; d.StreamStatus == types.StreamStatusActive {
			return int(aws.ToInt32(d.OpenShardCount)), nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (b mockBackend) tags(ctx context.Context, name string) (map[string]string, error) {
	out, err := b.client.ListTagsForStream(ctx, &kinesis.ListTagsForStreamInput{StreamName: aws.String(name)})
	if err != nil {
		return nil, err
	}
	tags := map[string]string{}
	for _, t := range out.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return tags, nil
}

// fakeBackend is awsfake without rate limits, whose reshards take 30 s of
// simulated time: settle looks at the stream 30 s later.
type fakeBackend struct {
	fake  *awsfake.Server
	clock *fakeClock
}

const fakeReshard = 30 * time.Second

func (b fakeBackend) endpoint() string { return b.fake.URL }

func (b fakeBackend) create(_ context.Context, name string, shards int) error {
	b.fake.AddStream(awsfake.StreamSpec{Name: name, Shards: shards})
	return nil
}

func (b fakeBackend) settle(_ context.Context, name string) (int, error) {
	b.clock.set(b.clock.Now().Add(fakeReshard))
	st, _ := b.fake.Stream(name)
	b.clock.set(b.clock.Now().Add(-fakeReshard))
	if st.Status != "ACTIVE" {
		return 0, fmt.Errorf("stream %s is %s after the reshard time", name, st.Status)
	}
	return st.Shards, nil
}

func (b fakeBackend) tags(_ context.Context, name string) (map[string]string, error) {
	st, _ := b.fake.Stream(name)
	return st.Tags, nil
}

// newWorld creates the streams of roles (every model when none) in the
// backend ("kinesis-mock" or "awsfake") and an SNS topic in kumo, puts
// proxies in front of the backend, kumo and a CloudWatch test server, and
// wires the real adapters through them into a controller.
func newWorld(t *testing.T, kind string, roles []string) *world {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	t.Cleanup(cancel)
	ku := kumo.Get(t)
	w := &world{
		t: t, ctx: ctx, clock: &fakeClock{now: t0}, cwData: cwtest.New(t),
		byName: map[string]*simStream{}, putUntil: t0.Add(-time.Hour), seen: map[*faultproxy.Proxy]int{},
		log: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)),
	}
	var kinesisOpts []func(*kinesis.Options)
	switch kind {
	case "kinesis-mock":
		km := kinesisMock.Get(t)
		w.backend = mockBackend{url: km.Endpoint, client: km.Client()}
	case "awsfake":
		w.backend = fakeBackend{fake: awsfake.Start(t, awsfake.Options{Clock: w.clock.Now, ReshardDuration: fakeReshard,
			Limits: map[string]awsfake.Limit{}}), clock: w.clock}
	default:
		t.Fatalf("unknown backend %q", kind)
	}
	w.kinesis = faultproxy.New(t, w.backend.endpoint())
	w.cw = faultproxy.New(t, w.cwData.URL)
	w.sns = faultproxy.New(t, ku.Endpoint)

	topic, err := ku.SNS().CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(emulator.UniqueName("faults"))})
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	for _, m := range models {
		if len(roles) > 0 && !slices.Contains(roles, m.role) {
			continue
		}
		s := &simStream{model: m, name: emulator.UniqueName("ft-" + m.role), shards: m.start}
		if err := w.backend.create(ctx, s.name, m.start); err != nil {
			t.Fatalf("create stream %s: %v", s.name, err)
		}
		w.streams = append(w.streams, s)
		w.byName[s.name] = s
	}
	for _, s := range w.streams {
		w.settle(s)
	}

	kinesisOpts = append(kinesisOpts, func(o *kinesis.Options) { o.BaseEndpoint = aws.String(w.kinesis.URL); o.Retryer = retryer() })
	kc := kinesis.NewFromConfig(emulator.AWSConfig(), kinesisOpts...)
	cwc := cloudwatch.New(cloudwatch.Options{
		Region: emulator.Region, Credentials: emulator.AWSConfig().Credentials, BaseEndpoint: aws.String(w.cw.URL),
		DisableRequestCompression: true, Retryer: retryer(),
	})
	snsc := ku.SNS(func(o *sns.Options) { o.BaseEndpoint = aws.String(w.sns.URL); o.Retryer = retryer() })
	streams := stream.New(kc, stream.WithClock(w.clock.Now))
	w.deps = controller.Deps{
		Load: metrics.New(cwc), Streams: streams, History: streams,
		Notifier: notify.New(snsc, aws.ToString(topic.TopicArn)), Clock: w.clock,
	}
	w.opts = controller.Options{PollInterval: time.Minute, DedupWindow: 6 * time.Hour}
	w.restart()
	w.restarts = 0
	return w
}

// settle waits for the stream to be ACTIVE and notes its shards.
func (w *world) settle(s *simStream) {
	w.t.Helper()
	n, err := w.backend.settle(w.ctx, s.name)
	if err != nil {
		w.t.Fatalf("settle %s: %v", s.name, err)
	}
	s.shards = n
}

// restart replaces the controller by a new one, as a process restart does:
// everything it kept in memory is gone.
func (w *world) restart() {
	specs := make([]controller.StreamSpec, len(w.streams))
	for i, s := range w.streams {
		specs[i] = controller.StreamSpec{Name: s.name, Settings: s.settings}
	}
	w.ctrl = controller.New(specs, w.deps, w.opts, w.log)
	w.restarts++
}

// stream returns the stream of a role.
func (w *world) stream(role string) *simStream {
	for _, s := range w.streams {
		if s.role == role {
			return s
		}
	}
	w.t.Fatalf("no stream of role %q", role)
	return nil
}

// publish puts the metrics of every minute that CloudWatch has published by
// now: what producers and consumers managed with the shards each stream had.
func (w *world) publish(now time.Time) {
	for ; !w.putUntil.Add(time.Minute + metricDelay).After(now); w.putUntil = w.putUntil.Add(time.Minute) {
		m := w.putUntil
		for _, s := range w.streams {
			capRecords := float64(s.shards) * policy.ShardWriteRecordsPerSecond
			written := min(s.records, capRecords)
			w.cwData.Put(s.name, "IncomingRecords", m, written*60)
			w.cwData.Put(s.name, "IncomingBytes", m, written*60*100)
			w.cwData.Put(s.name, "WriteProvisionedThroughputExceeded", m, (s.records-written)*60)
			if s.readBytes > 0 {
				read := min(s.readBytes, float64(s.shards)*policy.ShardReadBytesPerSecond)
				w.cwData.Put(s.name, "GetRecords.Bytes", m, read*60)
				w.cwData.Put(s.name, "ReadProvisionedThroughputExceeded", m, (s.readBytes-read)/1e6)
				w.cwData.Put(s.name, "GetRecords.IteratorAgeMilliseconds", m, 0)
			}
		}
	}
}

// newCalls returns the proxy's calls since the last look.
func (w *world) newCalls(p *faultproxy.Proxy) []faultproxy.Call {
	calls := p.Calls()
	from := w.seen[p]
	w.seen[p] = len(calls)
	return calls[from:]
}

// step runs one cycle at the next simulated minute and judges it. dataFault
// says which streams' CloudWatch data a fault injected into this cycle's
// GetMetricData leaves missing, partial or an error.
func (w *world) step(dataFault func(*simStream) bool) []controller.Outcome {
	w.t.Helper()
	now := t0.Add(time.Duration(w.cycle) * time.Minute)
	w.clock.set(now)
	w.publish(now)
	before := map[string]int{}
	for _, s := range w.streams {
		before[s.name] = s.shards
	}
	label := fmt.Sprint(w.cycle)
	for _, p := range []*faultproxy.Proxy{w.kinesis, w.cw, w.sns} {
		p.SetLabel(label)
	}
	ctx, cancel := context.WithTimeout(w.ctx, time.Minute)
	started := time.Now()
	var outs []controller.Outcome
	if w.runCycle != nil {
		outs = w.runCycle(ctx)
	} else {
		outs = w.ctrl.RunCycle(ctx)
	}
	w.cycleTimes = append(w.cycleTimes, time.Since(started))
	cancel()

	// The answer the daemon used is that of the cycle's last call: an
	// earlier attempt's fault may have been retried away.
	cwFaulted := false
	for _, c := range w.newCalls(w.cw) {
		cwFaulted = c.Fault != ""
	}
	faulted := func(s *simStream) bool { return cwFaulted && dataFault != nil && dataFault(s) }
	changed := map[*simStream]bool{}
	counts := maps.Clone(before)
	for _, c := range w.newCalls(w.kinesis) {
		switch c.Request.Operation {
		case "UpdateShardCount":
			w.judge(now, c, before, faulted)
			changed[w.byName[c.Request.Stream]] = true
		case "SplitShard", "MergeShards":
			if s := w.judgeShardChange(c, counts); s != nil {
				changed[s] = true
			}
		case "AddTagsToStream", "RemoveTagsFromStream":
			changed[w.byName[c.Request.Stream]] = true
		}
	}
	for s := range changed {
		w.settle(s)
		w.checkTags(s, now)
	}
	var lastBody string
	for _, c := range w.newCalls(w.sns) {
		if c.Request.Operation != "Publish" {
			continue
		}
		if string(c.Request.Body) == lastBody {
			// The SDK's retries of one alert are one alert.
			w.alerts[len(w.alerts)-1].forwardedOK = w.alerts[len(w.alerts)-1].forwardedOK || c.Accepted()
			continue
		}
		lastBody = string(c.Request.Body)
		a := w.alertOf(c)
		a.cycle = w.cycle
		w.alerts = append(w.alerts, a)
	}
	w.outcomes = append(w.outcomes, outs)
	w.cycle++
	return outs
}

// judge counts a wrong action for every rule an UpdateShardCount call broke.
func (w *world) judge(now time.Time, c faultproxy.Call, before map[string]int, faulted func(*simStream) bool) {
	var in struct {
		StreamName       string
		TargetShardCount int
	}
	if err := c.Request.JSON(&in); err != nil {
		w.t.Fatalf("UpdateShardCount body %q: %v", c.Request.Body, err)
	}
	s := w.byName[in.StreamName]
	if s == nil {
		w.t.Fatalf("UpdateShardCount of unknown stream %q", in.StreamName)
	}
	cur, target := before[s.name], in.TargetShardCount
	wrong := func(format string, args ...any) {
		w.wrong = append(w.wrong, fmt.Sprintf("cycle %d, %s %d -> %d: %s", w.cycle, s.role, cur, target, fmt.Sprintf(format, args...)))
	}
	switch {
	case target > s.settings.MaxShards:
		wrong("above max_shards %d", s.settings.MaxShards)
	case target < s.settings.MinShards:
		wrong("below min_shards %d", s.settings.MinShards)
	}
	switch {
	case target > 2*cur:
		wrong("more than double")
	case 2*target < cur:
		wrong("less than half")
	case target == cur:
		wrong("asks for the count the stream already has")
	}
	down := target < cur
	if down && faulted != nil && faulted(s) {
		wrong("scale-down on missing, partial or erroneous data")
	}
	if down && s.needs(target) {
		wrong("scale-down below what the load needs")
	}
	if !c.Accepted() {
		return
	}
	cooldown := s.settings.CooldownUp
	if down {
		cooldown = s.settings.CooldownDown
	}
	if n := len(s.accepted); n > 0 && now.Sub(s.accepted[n-1].at) < cooldown {
		wrong("%s after the last accepted call, inside the cooldown of %s", now.Sub(s.accepted[n-1].at), cooldown)
	}
	s.accepted = append(s.accepted, acceptedCall{at: now, down: down})
	used := 0
	for _, a := range s.accepted {
		if a.at.After(now.Add(-policy.QuotaWindow)) {
			used++
		}
	}
	if used > policy.MaxUpdateCalls {
		wrong("call %d in 24 h", used)
	}
}

// judgeShardChange counts a wrong action for a SplitShard or MergeShards
// call that takes the stream beyond max_shards or below min_shards (a
// split adds a shard, a merge removes one), or that is a second change of
// the stream in one cycle; counts are the streams' shard counts with the
// cycle's accepted changes so far. It returns the stream.
func (w *world) judgeShardChange(c faultproxy.Call, counts map[string]int) *simStream {
	var in struct{ StreamName string }
	if err := c.Request.JSON(&in); err != nil {
		w.t.Fatalf("%s body %q: %v", c.Request.Operation, c.Request.Body, err)
	}
	s := w.byName[in.StreamName]
	if s == nil {
		w.t.Fatalf("%s of unknown stream %q", c.Request.Operation, in.StreamName)
	}
	cur := counts[s.name]
	next := cur + 1
	if c.Request.Operation == "MergeShards" {
		next = cur - 1
	}
	wrong := func(format string, args ...any) {
		w.wrong = append(w.wrong, fmt.Sprintf("cycle %d, %s %s %d -> %d: %s", w.cycle, s.role, c.Request.Operation, cur, next, fmt.Sprintf(format, args...)))
	}
	switch {
	case next > s.settings.MaxShards:
		wrong("above max_shards %d", s.settings.MaxShards)
	case next < s.settings.MinShards:
		wrong("below min_shards %d", s.settings.MinShards)
	}
	if cur != s.shards {
		wrong("a second change of the stream in one cycle")
	}
	if c.Accepted() {
		counts[s.name] = next
	}
	return s
}

// checkTags compares the calls the stream's record counts in the quota
// window with those AWS accepted: fewer is a wrong quota count, more is a
// phantom call, counted to be safe. The record is what the daemon reads when
// it next decides to act: the tags, and a reshard they missed, recognised by
// the stream's settled shard count (History.Reconcile).
func (w *world) checkTags(s *simStream, now time.Time) {
	tags, err := w.backend.tags(w.ctx, s.name)
	if err != nil {
		w.t.Fatalf("tags of %s: %v", s.name, err)
	}
	rec, _ := stream.ParseRecord(tags, now)
	read, _ := rec.History.Reconcile(s.shards, now)
	recorded := read.CallsUsed(now)
	accepted := 0
	for _, a := range s.accepted {
		if a.at.After(now.Add(-policy.QuotaWindow)) {
			accepted++
		}
	}
	if recorded < accepted && !s.underCounted {
		s.underCounted = true
		w.wrong = append(w.wrong, fmt.Sprintf("cycle %d, %s: tags and shard count record %d calls in 24 h, AWS accepted %d: quota under-counted",
			w.cycle, s.role, recorded, accepted))
	}
	w.phantom = max(w.phantom, recorded-accepted)
}

// alertOf reads the event and stream attributes of a Publish call.
func (w *world) alertOf(c faultproxy.Call) alert {
	form, err := c.Request.Form()
	if err != nil {
		w.t.Fatalf("Publish body: %v", err)
	}
	attrs := map[string]string{}
	for i := 1; ; i++ {
		name := form.Get(fmt.Sprintf("MessageAttributes.entry.%d.Name", i))
		if name == "" {
			break
		}
		attrs[name] = form.Get(fmt.Sprintf("MessageAttributes.entry.%d.Value.StringValue", i))
	}
	a := alert{event: attrs["event"], streamOrName: attrs["stream"], forwardedOK: c.Accepted(), role: attrs["stream"]}
	if s := w.byName[attrs["stream"]]; s != nil {
		a.role = s.role
	}
	return a
}
