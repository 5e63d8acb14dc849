package scaletest

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"golang.org/x/time/rate"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/stream"
)

// The prototype of the proposed scale change, as decorators of the
// controller's Streams and HistoryStore, to measure what it achieves. Paces
// are 80 % of AWS's per-account limits (ListShards' limit is per stream);
// the stream adapter paces the tag calls itself, at AWS's 5 per second.
const (
	describePerSecond    = 16  // DescribeStreamSummary, limit 20/s
	listStreamsPerSecond = 4   // ListStreams, limit 5/s
	listShardsPerSecond  = 100 // ListShards, limit 1,000/s per stream
	// shardRefresh is how often a stream's cached shard count is read again
	// when nothing says it changed; streams are spread evenly over it.
	shardRefresh = 30 * time.Minute
)

// cachedStreams serves Describe from a cache: status and mode from a
// background ListStreams sweep (100 streams a call), the open shard count
// from ListShards (open shards only), read again when the sweep shows the
// stream changing and every shardRefresh. After our own reshard, and for
// streams the sweep has not seen or shows changing, it reads the stream with
// DescribeStreamSummary until it is ACTIVE. Before every UpdateShardCount it
// reads the stream with DescribeStreamSummary and refuses, as ErrStreamBusy,
// when the stream is not what the decision saw.
type cachedStreams struct {
	inner  *stream.Kinesis
	client *kinesis.Client
	now    func() time.Time

	describe, listShards, listStreams *rate.Limiter

	mu      sync.Mutex
	entries map[string]*cacheEntry
	listed  map[string]policy.StreamState // status and mode only
	sweeper sync.Once
}

type cacheEntry struct {
	state   policy.StreamState
	due     time.Time // when the shard count is read again
	pending bool      // our reshard is under way
}

func newCachedStreams(inner *stream.Kinesis, client *kinesis.Client) *cachedStreams {
	return &cachedStreams{
		inner: inner, client: client, now: time.Now,
		describe:    rate.NewLimiter(describePerSecond, 1),
		listShards:  rate.NewLimiter(listShardsPerSecond, 1),
		listStreams: rate.NewLimiter(listStreamsPerSecond, 1),
		entries:     map[string]*cacheEntry{}, listed: map[string]policy.StreamState{},
	}
}

// sweep lists every stream's status and mode, again and again, at its pace.
func (c *cachedStreams) sweep(ctx context.Context) {
	for ctx.Err() == nil {
		started := time.Now()
		p := kinesis.NewListStreamsPaginator(c.client, &kinesis.ListStreamsInput{})
		for p.HasMorePages() {
			if c.listStreams.Wait(ctx) != nil {
				return
			}
			out, err := p.NextPage(ctx)
			if err != nil {
				break
			}
			c.mu.Lock()
			for _, s := range out.StreamSummaries {
				st := policy.StreamState{Status: policy.Status(s.StreamStatus), Mode: policy.ModeProvisioned}
				if s.StreamModeDetails != nil && s.StreamModeDetails.StreamMode != "" {
					st.Mode = policy.Mode(s.StreamModeDetails.StreamMode)
				}
				c.listed[aws.ToString(s.StreamName)] = st
			}
			c.mu.Unlock()
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Minute - time.Since(started)):
		}
	}
}

// spread is a stream's fixed place in the refresh period.
func spread(name string) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(name))
	return time.Duration(h.Sum64() % uint64(shardRefresh))
}

func (c *cachedStreams) Describe(ctx context.Context, name string) (policy.StreamState, error) {
	c.sweeper.Do(func() { go c.sweep(context.WithoutCancel(ctx)) })
	now := c.clock()
	c.mu.Lock()
	e, cached := c.entries[name]
	l, listed := c.listed[name]
	fresh := cached && !e.pending && now.Before(e.due) &&
		(!listed || (l.Status == e.state.Status && l.Mode == e.state.Mode))
	c.mu.Unlock()
	if fresh {
		return e.state, nil
	}
	var st policy.StreamState
	if listed && l.Status == policy.StatusActive && !(cached && e.pending) {
		if err := c.listShards.Wait(ctx); err != nil {
			return st, err
		}
		n, err := c.openShards(ctx, name)
		if err != nil {
			return st, err
		}
		st = policy.StreamState{OpenShards: n, Status: l.Status, Mode: l.Mode}
	} else {
		if err := c.describe.Wait(ctx); err != nil {
			return st, err
		}
		var err error
		if st, err = c.inner.Describe(ctx, name); err != nil {
			return st, err
		}
	}
	c.store(name, st, now)
	return st, nil
}

// setNow replaces the cache's clock.
func (c *cachedStreams) setNow(now func() time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
}

func (c *cachedStreams) clock() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now()
}

// store caches a stream's state; a first entry is due at its place in the
// refresh period, so that refreshes spread evenly over cycles.
func (c *cachedStreams) store(name string, st policy.StreamState, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[name]
	due := now.Add(shardRefresh)
	if e == nil {
		due = now.Add(spread(name))
	}
	c.entries[name] = &cacheEntry{state: st, due: due, pending: st.Status != policy.StatusActive}
}

// openShards counts the stream's open shards with ListShards.
func (c *cachedStreams) openShards(ctx context.Context, name string) (int, error) {
	n := 0
	in := &kinesis.ListShardsInput{StreamName: aws.String(name), MaxResults: aws.Int32(10000),
		ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}}
	for {
		out, err := c.client.ListShards(ctx, in)
		if err != nil {
			return 0, fmt.Errorf("list shards of %q: %w", name, err)
		}
		n += len(out.Shards)
		if aws.ToString(out.NextToken) == "" {
			return n, nil
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken, MaxResults: aws.Int32(10000)}
	}
}

func (c *cachedStreams) UpdateShardCount(ctx context.Context, name string, target int) error {
	if err := c.describe.Wait(ctx); err != nil {
		return err
	}
	st, err := c.inner.Describe(ctx, name)
	if err != nil {
		return err
	}
	c.mu.Lock()
	e := c.entries[name]
	c.mu.Unlock()
	if e == nil || st != e.state {
		c.store(name, st, c.clock())
		return fmt.Errorf("%w: %q is %s with %d shards, not what the decision saw", policy.ErrStreamBusy, name, st.Status, st.OpenShards)
	}
	if err := c.inner.UpdateShardCount(ctx, name, target); err != nil {
		return err
	}
	c.mu.Lock()
	c.entries[name].pending = true
	c.mu.Unlock()
	return nil
}

// coldHistory reads histories through an adapter whose ListTagsForStream is
// not paced while unpaced is set, and otherwise through the default adapter,
// which paces every tag call at AWS's 5 per second. The unpaced reads stand
// for the design's lazy or bulk history reads, which need controller
// changes, in a cold cycle where the fake lifts ListTagsForStream's limit.
type coldHistory struct {
	paced, fast *stream.Kinesis
	unpaced     *atomic.Bool
}

func (h coldHistory) LoadHistory(ctx context.Context, name string) (policy.History, error) {
	if h.unpaced.Load() {
		return h.fast.LoadHistory(ctx, name)
	}
	return h.paced.LoadHistory(ctx, name)
}

func (h coldHistory) SaveHistory(ctx context.Context, name string, hist policy.History) error {
	return h.paced.SaveHistory(ctx, name, hist)
}
