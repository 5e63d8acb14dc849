package stream

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// accountFake is a Kinesis account for the cache's unit tests: streams with
// a status, a mode and open shards (plus closed ones), which tests change
// behind the cache's back. It counts calls by operation, records
// UpdateShardCount targets and fails operations on request.
type accountFake struct {
	mu      sync.Mutex
	streams map[string]*fakeAccountStream
	calls   map[string]int
	targets []int
	fail    map[string]error
	// failOnce fails the next call of an operation, once.
	failOnce map[string]error
	// attempts records each ListStreams call's RetryMaxAttempts.
	attempts []int
	// page is how many streams a ListStreams answer holds; namesOnly makes
	// it answer names without summaries, as kinesis-mock does.
	page      int
	namesOnly bool
	// gate, when set, holds every ListStreams call until it is closed.
	gate chan struct{}
	// onDescribe, when set, runs in each DescribeStreamSummary.
	onDescribe func()
}

type fakeAccountStream struct {
	status policy.Status
	mode   policy.Mode
	open   int
	closed int
}

var (
	_ kinesisAPI = (*accountFake)(nil)
	_ cacheAPI   = (*accountFake)(nil)
)

func newAccountFake() *accountFake {
	return &accountFake{streams: map[string]*fakeAccountStream{}, calls: map[string]int{}, fail: map[string]error{},
		failOnce: map[string]error{}, page: 100}
}

// add creates an ACTIVE provisioned stream.
func (f *accountFake) add(name string, open int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.streams[name] = &fakeAccountStream{status: policy.StatusActive, mode: policy.ModeProvisioned, open: open, closed: open / 2}
}

// set changes a stream behind the cache's back.
func (f *accountFake) set(name string, change func(s *fakeAccountStream)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f.streams[name])
}

func (f *accountFake) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// counts returns the calls by operation and forgets them.
func (f *accountFake) counts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = map[string]int{}
	return c
}

// enter counts a call and returns the injected error, if any.
func (f *accountFake) enter(op string) error {
	f.calls[op]++
	if err := f.failOnce[op]; err != nil {
		delete(f.failOnce, op)
		return err
	}
	return f.fail[op]
}

func notFound(name string) error {
	return &smithy.GenericAPIError{Code: codeResourceNotFound, Message: "Stream " + name + " not found"}
}

func (f *accountFake) DescribeStreamSummary(_ context.Context, in *kinesis.DescribeStreamSummaryInput, _ ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("DescribeStreamSummary"); err != nil {
		return nil, err
	}
	if f.onDescribe != nil {
		f.onDescribe()
	}
	s := f.streams[aws.ToString(in.StreamName)]
	if s == nil {
		return nil, notFound(aws.ToString(in.StreamName))
	}
	return &kinesis.DescribeStreamSummaryOutput{StreamDescriptionSummary: &types.StreamDescriptionSummary{
		StreamName: in.StreamName, OpenShardCount: aws.Int32(int32(s.open)), StreamStatus: types.StreamStatus(s.status),
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamMode(s.mode)},
	}}, nil
}

func (f *accountFake) UpdateShardCount(_ context.Context, in *kinesis.UpdateShardCountInput, _ ...func(*kinesis.Options)) (*kinesis.UpdateShardCountOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.targets = append(f.targets, int(aws.ToInt32(in.TargetShardCount)))
	if err := f.enter("UpdateShardCount"); err != nil {
		return nil, err
	}
	s := f.streams[aws.ToString(in.StreamName)]
	if s == nil {
		return nil, notFound(aws.ToString(in.StreamName))
	}
	s.status = policy.StatusUpdating
	return &kinesis.UpdateShardCountOutput{}, nil
}

// finish ends a reshard: the stream is ACTIVE with open shards.
func (f *accountFake) finish(name string, open int) {
	f.set(name, func(s *fakeAccountStream) { s.status, s.closed, s.open = policy.StatusActive, s.closed+s.open, open })
}

func (f *accountFake) ListStreams(ctx context.Context, in *kinesis.ListStreamsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListStreamsOutput, error) {
	var o kinesis.Options
	for _, fn := range optFns {
		fn(&o)
	}
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts = append(f.attempts, o.RetryMaxAttempts)
	if err := f.enter("ListStreams"); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(f.streams))
	for n := range f.streams {
		names = append(names, n)
	}
	sort.Strings(names)
	after := aws.ToString(in.ExclusiveStartStreamName)
	if tok := aws.ToString(in.NextToken); tok != "" {
		after = tok
	}
	from := sort.SearchStrings(names, after)
	if from < len(names) && names[from] == after {
		from++
	}
	page := names[from:min(from+f.page, len(names))]
	out := &kinesis.ListStreamsOutput{HasMoreStreams: aws.Bool(from+len(page) < len(names))}
	if f.namesOnly {
		out.StreamNames = slices.Clone(page)
		return out, nil
	}
	for _, n := range page {
		s := f.streams[n]
		out.StreamSummaries = append(out.StreamSummaries, types.StreamSummary{StreamName: aws.String(n),
			StreamStatus: types.StreamStatus(s.status), StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamMode(s.mode)}})
	}
	if aws.ToBool(out.HasMoreStreams) {
		out.NextToken = aws.String(page[len(page)-1])
	}
	return out, nil
}

// ListShards pages two shards at a time and lists closed shards too unless
// the AT_LATEST filter asks for open ones only.
func (f *accountFake) ListShards(_ context.Context, in *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("ListShards"); err != nil {
		return nil, err
	}
	name, from, openOnly := aws.ToString(in.StreamName), 0, in.ShardFilter != nil && in.ShardFilter.Type == types.ShardFilterTypeAtLatest
	if tok := aws.ToString(in.NextToken); tok != "" {
		if in.StreamName != nil || in.ShardFilter != nil {
			return nil, &smithy.GenericAPIError{Code: codeInvalidArgument, Message: "NextToken with StreamName or ShardFilter"}
		}
		var open int
		fmt.Sscanf(tok, "%d/%d/%s", &from, &open, &name)
		openOnly = open == 1
	}
	s := f.streams[name]
	if s == nil {
		return nil, notFound(name)
	}
	var all []types.Shard
	if !openOnly {
		for i := range s.closed {
			all = append(all, types.Shard{ShardId: aws.String(fmt.Sprintf("closed-%d", i)),
				SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String("1"), EndingSequenceNumber: aws.String("9")}})
		}
	}
	for i := range s.open {
		all = append(all, types.Shard{ShardId: aws.String(fmt.Sprintf("open-%d", i)),
			SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String("1")}})
	}
	to := min(from+2, len(all))
	out := &kinesis.ListShardsOutput{Shards: all[from:to]}
	if to < len(all) {
		open := 0
		if openOnly {
			open = 1
		}
		out.NextToken = aws.String(fmt.Sprintf("%d/%d/%s", to, open, name))
	}
	return out, nil
}

func (f *accountFake) ListTagsForStream(context.Context, *kinesis.ListTagsForStreamInput, ...func(*kinesis.Options)) (*kinesis.ListTagsForStreamOutput, error) {
	return nil, errors.New("accountFake: no tags")
}

func (f *accountFake) AddTagsToStream(context.Context, *kinesis.AddTagsToStreamInput, ...func(*kinesis.Options)) (*kinesis.AddTagsToStreamOutput, error) {
	return nil, errors.New("accountFake: no tags")
}

func (f *accountFake) RemoveTagsFromStream(context.Context, *kinesis.RemoveTagsFromStreamInput, ...func(*kinesis.Options)) (*kinesis.RemoveTagsFromStreamOutput, error) {
	return nil, errors.New("accountFake: no tags")
}

// testClock is a clock the test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newTestCache returns a cache over the fake with paces lifted and a clock
// the test moves.
func newTestCache(f *accountFake, opts ...CacheOption) (*Cache, *testClock) {
	clock := &testClock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	k := New(f, WithRateLimit(opListStreams, 0))
	all := append([]CacheOption{WithCacheClock(clock.Now),
		WithCachePace(opDescribeStreamSummary, 0), WithCachePace(opListStreams, 0), WithCachePace(opListShards, 0)}, opts...)
	return NewCache(k, f, all...), clock
}

func mustDescribe(t *testing.T, c *Cache, name string) policy.StreamState {
	t.Helper()
	st, err := c.Describe(t.Context(), name)
	if err != nil {
		t.Fatalf("describe %s: %v", name, err)
	}
	return st
}

func mustSweep(t *testing.T, c *Cache) {
	t.Helper()
	if err := c.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestCacheSweepThenListShards(t *testing.T) {
	f := newAccountFake()
	f.page = 2 // five streams: three ListStreams calls
	for i := range 5 {
		f.add(fmt.Sprintf("s%d", i), i+1)
	}
	c, _ := newTestCache(f)
	mustSweep(t, c)
	if got := f.counts(); got["ListStreams"] != 3 {
		t.Fatalf("sweep calls %v, want 3 ListStreams", got)
	}
	for i := range 5 {
		want := policy.StreamState{OpenShards: i + 1, Status: policy.StatusActive, Mode: policy.ModeProvisioned}
		if st := mustDescribe(t, c, fmt.Sprintf("s%d", i)); st != want {
			t.Errorf("s%d: %+v, want %+v", i, st, want)
		}
	}
	// s4 has 5 open and 2 closed shards: 4 pages of the fake unfiltered, 3
	// filtered; every stream is read with ListShards, none described.
	if got := f.counts(); got["DescribeStreamSummary"] != 0 || got["ListShards"] != 1+1+2+2+3 {
		t.Errorf("first cycle calls %v, want only ListShards (9)", got)
	}
	for i := range 5 {
		mustDescribe(t, c, fmt.Sprintf("s%d", i))
	}
	if got := f.counts(); len(got) != 0 {
		t.Errorf("second cycle calls %v, want none", got)
	}
}

// Each stream's count is read again once in every refresh period, at its own
// point of the period, so that refreshes spread over cycles.
func TestCacheRefreshSpreads(t *testing.T) {
	f := newAccountFake()
	const n = 200
	for i := range n {
		f.add(fmt.Sprintf("stream-%03d", i), 1)
	}
	c, clock := newTestCache(f, WithShardRefresh(10*time.Minute), WithSweepInterval(time.Minute))
	mustSweep(t, c)
	for i := range n {
		mustDescribe(t, c, fmt.Sprintf("stream-%03d", i))
	}
	f.counts()
	var perCycle []int
	for range 20 { // two refresh periods of one-minute cycles
		clock.advance(time.Minute)
		mustSweep(t, c)
		for i := range n {
			mustDescribe(t, c, fmt.Sprintf("stream-%03d", i))
		}
		perCycle = append(perCycle, f.counts()["ListShards"])
	}
	total := 0
	for _, k := range perCycle {
		total += k
		if k > n/2 {
			t.Errorf("%d refreshes in one cycle: not spread (%v)", k, perCycle)
		}
	}
	// Every stream refreshed once or twice in two periods, none more.
	if total < n || total > 2*n {
		t.Errorf("%d refreshes of %d streams in two periods: %v", total, n, perCycle)
	}
}

func TestCacheSeesChanges(t *testing.T) {
	tests := []struct {
		name   string
		change func(s *fakeAccountStream)
		// want is the state the cache must return after the sweep saw the change.
		want policy.StreamState
		// wantDescribes is how many DescribeStreamSummary calls that takes.
		wantDescribes int
	}{
		{name: "UPDATING in the sweep: described", change: func(s *fakeAccountStream) { s.status, s.open = policy.StatusUpdating, 8 },
			want: policy.StreamState{OpenShards: 8, Status: policy.StatusUpdating, Mode: policy.ModeProvisioned}, wantDescribes: 1},
		{name: "mode changed: read again", change: func(s *fakeAccountStream) { s.mode = policy.ModeOnDemand },
			want: policy.StreamState{OpenShards: 4, Status: policy.StatusActive, Mode: policy.ModeOnDemand}},
		{name: "count changed unseen: cached until the refresh", change: func(s *fakeAccountStream) { s.open = 6 },
			want: policy.StreamState{OpenShards: 4, Status: policy.StatusActive, Mode: policy.ModeProvisioned}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAccountFake()
			f.add("a", 4)
			c, clock := newTestCache(f)
			mustSweep(t, c)
			mustDescribe(t, c, "a")
			f.set("a", tt.change)
			clock.advance(time.Second)
			mustSweep(t, c)
			f.counts()
			if st := mustDescribe(t, c, "a"); st != tt.want {
				t.Errorf("got %+v, want %+v", st, tt.want)
			}
			if got := f.counts()["DescribeStreamSummary"]; got != tt.wantDescribes {
				t.Errorf("%d DescribeStreamSummary calls, want %d", got, tt.wantDescribes)
			}
		})
	}
}

// While a stream is UPDATING it is described every time, until ACTIVE; then
// its count is cached again.
func TestCacheDescribesUntilActive(t *testing.T) {
	f := newAccountFake()
	f.add("a", 4)
	c, clock := newTestCache(f)
	f.set("a", func(s *fakeAccountStream) { s.status = policy.StatusUpdating })
	mustSweep(t, c)
	for range 3 {
		clock.advance(time.Minute)
		if st := mustDescribe(t, c, "a"); st.Status != policy.StatusUpdating {
			t.Fatalf("got %+v", st)
		}
	}
	if got := f.counts()["DescribeStreamSummary"]; got != 3 {
		t.Errorf("%d describes while UPDATING, want 3", got)
	}
	f.finish("a", 8)
	clock.advance(time.Minute)
	mustSweep(t, c)
	if st := mustDescribe(t, c, "a"); st.OpenShards != 8 || st.Status != policy.StatusActive {
		t.Fatalf("got %+v", st)
	}
	f.counts()
	mustDescribe(t, c, "a")
	if got := f.counts(); len(got) != 0 {
		t.Errorf("calls %v once ACTIVE and cached, want none", got)
	}
}

// Streams a sweep has not listed, and every stream when there is no recent
// sweep with summaries, are described each time: nothing would tell the
// cache that they changed.
func TestCacheDescribesWithoutSweep(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *accountFake, c *Cache, clock *testClock)
	}{
		{name: "no sweep yet", setup: func(*accountFake, *Cache, *testClock) {}},
		{name: "stream created after the sweep", setup: func(f *accountFake, c *Cache, _ *testClock) {
			f.mu.Lock()
			delete(f.streams, "a")
			f.mu.Unlock()
			_ = c.Sweep(context.Background())
			f.add("a", 4)
		}},
		{name: "names without summaries, as kinesis-mock answers", setup: func(f *accountFake, c *Cache, _ *testClock) {
			f.namesOnly = true
			_ = c.Sweep(context.Background())
		}},
		{name: "last sweep too old", setup: func(_ *accountFake, c *Cache, clock *testClock) {
			_ = c.Sweep(context.Background())
			clock.advance(sweepStale * DefaultSweepInterval)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAccountFake()
			f.add("a", 4)
			c, clock := newTestCache(f)
			tt.setup(f, c, clock)
			f.counts()
			for range 3 {
				if st := mustDescribe(t, c, "a"); st.OpenShards != 4 {
					t.Fatalf("got %+v", st)
				}
			}
			if got := f.counts(); got["DescribeStreamSummary"] != 3 || got["ListShards"] != 0 {
				t.Errorf("calls %v, want 3 DescribeStreamSummary", got)
			}
		})
	}
}

// The describe-before-act check: a stale cached state never reaches
// UpdateShardCount. When the stream is not what the decision saw, nothing is
// called, the error is ErrStreamBusy (which the controller takes back
// without alerting), and the next Describe returns the fresh state.
func TestCacheRefusesReshardOnStaleState(t *testing.T) {
	tests := []struct {
		name   string
		change func(s *fakeAccountStream)
	}{
		{name: "scaled down by someone else", change: func(s *fakeAccountStream) { s.open = 4 }},
		{name: "scaled up by someone else", change: func(s *fakeAccountStream) { s.open = 16 }},
		{name: "UPDATING", change: func(s *fakeAccountStream) { s.status = policy.StatusUpdating }},
		{name: "switched to ON_DEMAND", change: func(s *fakeAccountStream) { s.mode = policy.ModeOnDemand }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAccountFake()
			f.add("a", 8)
			c, _ := newTestCache(f)
			mustSweep(t, c)
			saw := mustDescribe(t, c, "a") // the decision sees 8 shards
			f.set("a", tt.change)          // the sweep has not seen it
			if again := mustDescribe(t, c, "a"); again != saw {
				t.Fatalf("cache did not serve the cached state: %+v", again)
			}
			err := c.UpdateShardCount(t.Context(), "a", 4) // a scale-down decided on 8
			if !errors.Is(err, policy.ErrStreamBusy) {
				t.Fatalf("error %v, want ErrStreamBusy", err)
			}
			if n := f.count("UpdateShardCount"); n != 0 {
				t.Fatalf("UpdateShardCount called %d times on a stale state", n)
			}
			f.mu.Lock()
			want := f.streams["a"]
			f.mu.Unlock()
			if st := mustDescribe(t, c, "a"); st.OpenShards != want.open || st.Status != want.status || st.Mode != want.mode {
				t.Errorf("after the refusal Describe returned %+v, want the fresh %+v", st, *want)
			}
		})
	}
}

// The fence after the describe that precedes the call: when the caller's
// time to act (its context, which the controller ends with the lease's)
// runs out during that describe, nothing is called, and the error says so
// (policy.ErrNotCalled), so that the caller takes its record back.
func TestCacheCallsNothingWhenTimeRunsOutDuringTheDescribe(t *testing.T) {
	f := newAccountFake()
	f.add("a", 8)
	c, _ := newTestCache(f)
	mustSweep(t, c)
	mustDescribe(t, c, "a")
	ctx, cancel := context.WithCancel(t.Context())
	f.onDescribe = cancel
	err := c.UpdateShardCount(ctx, "a", 16)
	if !errors.Is(err, policy.ErrNotCalled) {
		t.Fatalf("error %v, want ErrNotCalled", err)
	}
	if n := f.count("UpdateShardCount"); n != 0 {
		t.Fatalf("UpdateShardCount called %d times after the time to act ran out", n)
	}
}

// When the stream is what the decision saw, the call is made, and the
// stream is described until it is ACTIVE, whatever the call answered.
func TestCacheReshardThenDescribes(t *testing.T) {
	for _, callErr := range []error{nil, &smithy.GenericAPIError{Code: "InternalFailure", Message: "500", Fault: smithy.FaultServer}} {
		t.Run(fmt.Sprint(callErr), func(t *testing.T) {
			f := newAccountFake()
			f.add("a", 4)
			c, clock := newTestCache(f)
			mustSweep(t, c)
			mustDescribe(t, c, "a")
			f.counts()
			if callErr != nil {
				f.fail["UpdateShardCount"] = callErr
			}
			err := c.UpdateShardCount(t.Context(), "a", 8)
			if (err != nil) != (callErr != nil) {
				t.Fatalf("error %v", err)
			}
			if got := f.counts(); got["DescribeStreamSummary"] != 1 || got["UpdateShardCount"] != 1 {
				t.Errorf("calls %v, want one describe then one UpdateShardCount", got)
			}
			if len(f.targets) != 1 || f.targets[0] != 8 {
				t.Errorf("targets %v", f.targets)
			}
			// The ambiguous failure is resolved by a fresh Describe.
			clock.advance(time.Second)
			mustDescribe(t, c, "a")
			if got := f.counts()["DescribeStreamSummary"]; got != 1 {
				t.Errorf("%d describes after the reshard, want 1", got)
			}
		})
	}
}

// After our reshard, a sweep listing sent after the call that shows the
// stream ACTIVE ends the describing: its count is read with ListShards. A
// listing sent before the call does not.
func TestCacheReshardResolvedBySweep(t *testing.T) {
	f := newAccountFake()
	f.add("a", 4)
	c, clock := newTestCache(f)
	mustSweep(t, c)
	mustDescribe(t, c, "a")
	clock.advance(time.Second)
	if err := c.UpdateShardCount(t.Context(), "a", 8); err != nil {
		t.Fatal(err)
	}
	f.finish("a", 8)
	f.counts()
	if st := mustDescribe(t, c, "a"); st.OpenShards != 8 { // the listing is older than the call
		t.Fatalf("got %+v", st)
	}
	if got := f.counts(); got["DescribeStreamSummary"] != 1 || got["ListShards"] != 0 {
		t.Errorf("calls %v, want a describe: no listing since the call", got)
	}
	// The same again, resolved by a sweep this time.
	clock.advance(time.Second)
	if err := c.UpdateShardCount(t.Context(), "a", 16); err != nil {
		t.Fatal(err)
	}
	f.finish("a", 16)
	clock.advance(time.Second)
	mustSweep(t, c)
	f.counts()
	if st := mustDescribe(t, c, "a"); st.OpenShards != 16 || st.Status != policy.StatusActive {
		t.Fatalf("got %+v", st)
	}
	if got := f.counts(); got["DescribeStreamSummary"] != 0 || got["ListShards"] == 0 {
		t.Errorf("calls %v, want ListShards, no describe, after the sweep listed it ACTIVE", got)
	}
}

func TestCacheDescribeErrors(t *testing.T) {
	t.Run("stream gone", func(t *testing.T) {
		f := newAccountFake()
		f.add("a", 2)
		c, _ := newTestCache(f)
		mustSweep(t, c)
		f.mu.Lock()
		delete(f.streams, "a")
		f.mu.Unlock()
		if _, err := c.Describe(t.Context(), "a"); !errors.Is(err, policy.ErrStreamNotFound) {
			t.Fatalf("error %v, want ErrStreamNotFound", err)
		}
		if got := f.counts(); got["ListShards"] != 1 || got["DescribeStreamSummary"] != 0 {
			t.Errorf("calls %v", got)
		}
	})
	t.Run("ListShards refused: described instead", func(t *testing.T) {
		f := newAccountFake()
		f.add("a", 2)
		f.fail["ListShards"] = &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized to perform: kinesis:ListShards"}
		c, _ := newTestCache(f)
		mustSweep(t, c)
		if st := mustDescribe(t, c, "a"); st.OpenShards != 2 {
			t.Fatalf("got %+v", st)
		}
		if got := f.counts(); got["DescribeStreamSummary"] != 1 {
			t.Errorf("calls %v, want a describe after the refused ListShards", got)
		}
	})
	t.Run("sweep fails: described", func(t *testing.T) {
		f := newAccountFake()
		f.add("a", 2)
		f.fail["ListStreams"] = &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "no"}
		c, _ := newTestCache(f)
		if err := c.Sweep(t.Context()); err == nil {
			t.Fatal("sweep succeeded")
		}
		mustDescribe(t, c, "a")
		if got := f.counts(); got["DescribeStreamSummary"] != 1 {
			t.Errorf("calls %v", got)
		}
	})
}

// The sweep retries a failed ListStreams call itself, at its pace, and never
// lets the SDK retry: the SDK's retries go out at once, past the pace.
func TestCacheSweepRetriesAtItsPace(t *testing.T) {
	f := newAccountFake()
	f.add("a", 1)
	f.failOnce["ListStreams"] = &smithy.GenericAPIError{Code: "ThrottlingException", Message: "slow down"}
	c, _ := newTestCache(f)
	mustSweep(t, c)
	if got := f.count("ListStreams"); got != 2 {
		t.Errorf("%d ListStreams calls, want the failed one and its retry", got)
	}
	for i, a := range f.attempts {
		if a != 1 {
			t.Errorf("call %d allowed %d SDK attempts, want 1", i, a)
		}
	}
	if st := mustDescribe(t, c, "a"); st.OpenShards != 1 || f.count("DescribeStreamSummary") != 0 {
		t.Errorf("after the retried sweep: %+v, %d describes", st, f.count("DescribeStreamSummary"))
	}

	// A failure that is not worth retrying ends the sweep at once.
	f.failOnce["ListStreams"] = &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "no"}
	f.counts()
	if err := c.Sweep(t.Context()); err == nil {
		t.Fatal("sweep succeeded")
	}
	if got := f.count("ListStreams"); got != 1 {
		t.Errorf("%d ListStreams calls after AccessDenied, want 1", got)
	}
}

// A complete sweep forgets streams it no longer lists.
func TestCacheSweepForgetsDeletedStreams(t *testing.T) {
	f := newAccountFake()
	f.add("a", 1)
	f.add("b", 1)
	c, clock := newTestCache(f)
	mustSweep(t, c)
	f.mu.Lock()
	delete(f.streams, "b")
	f.mu.Unlock()
	clock.advance(time.Minute)
	mustSweep(t, c)
	c.mu.Lock()
	_, a := c.listed["a"]
	_, b := c.listed["b"]
	c.mu.Unlock()
	if !a || b {
		t.Errorf("listed a %v b %v, want a only", a, b)
	}
}

// Run sweeps until its context ends and returns; a Describe of a stream the
// cache knows nothing of waits for the first sweep rather than describing.
func TestCacheRunAwaitsFirstSweep(t *testing.T) {
	f := newAccountFake()
	f.add("a", 3)
	f.gate = make(chan struct{})
	c, _ := newTestCache(f)
	// The sweep is let through only once Describe waits for it.
	c.waiting = func() { close(f.gate) }
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	for !c.isRunning() {
		runtime.Gosched()
	}
	dctx, dcancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer dcancel()
	st, err := c.Describe(dctx, "a")
	if err != nil || st.OpenShards != 3 {
		t.Fatalf("got %+v, %v", st, err)
	}
	if got := f.count("DescribeStreamSummary"); got != 0 {
		t.Errorf("%d describes: Describe did not wait for the sweep", got)
	}
	if got := f.count("ListStreams"); got != 1 {
		t.Errorf("%d ListStreams calls, want 1", got)
	}
	cancel()
	<-done // Run returns once its context ends: no goroutine is left
}

func (c *Cache) isRunning() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.running
}

// The shard-level calls are not the cache's: the fake refuses them.

func (f *accountFake) SplitShard(context.Context, *kinesis.SplitShardInput, ...func(*kinesis.Options)) (*kinesis.SplitShardOutput, error) {
	return nil, errors.New("accountFake: no shard-level calls")
}

func (f *accountFake) MergeShards(context.Context, *kinesis.MergeShardsInput, ...func(*kinesis.Options)) (*kinesis.MergeShardsOutput, error) {
	return nil, errors.New("accountFake: no shard-level calls")
}

func (f *accountFake) EnableEnhancedMonitoring(context.Context, *kinesis.EnableEnhancedMonitoringInput, ...func(*kinesis.Options)) (*kinesis.EnableEnhancedMonitoringOutput, error) {
	return nil, errors.New("accountFake: no shard-level calls")
}

// A change made past the cache (a SplitShard) is read at the next Describe
// once the cache is told to forget the stream.
func TestCacheForgetReadsTheNewCount(t *testing.T) {
	f := newAccountFake()
	f.add("clicks", 2)
	c, _ := newTestCache(f)
	mustSweep(t, c)
	if st := mustDescribe(t, c, "clicks"); st.OpenShards != 2 {
		t.Fatalf("first look: %+v", st)
	}
	f.set("clicks", func(s *fakeAccountStream) { s.open = 3 })
	if st := mustDescribe(t, c, "clicks"); st.OpenShards != 2 {
		t.Fatalf("cached look: %+v, want the cached 2 shards (nothing told the cache)", st)
	}
	c.Forget("clicks")
	if st := mustDescribe(t, c, "clicks"); st.OpenShards != 3 {
		t.Fatalf("after Forget: %+v, want the 3 shards the split left", st)
	}
}
