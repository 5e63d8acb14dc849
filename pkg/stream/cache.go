package stream

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"golang.org/x/time/rate"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// Paces and periods of the Cache. The paces are at most 80 % of AWS's
// limits, as the Kinesis API reference states them, evenly spaced, so that
// other tools of the account keep a share and a second of bad luck does not
// reach the limit.
const (
	// CacheDescribePerSecond paces DescribeStreamSummary: "DescribeStreamSummary
	// has a limit of 20 transactions per second per account" (API_DescribeStreamSummary).
	CacheDescribePerSecond = 16
	// CacheListStreamsPerSecond paces the sweep's ListStreams: "ListStreams has
	// a limit of five transactions per second per account" (API_ListStreams).
	// It is 60 %, not 80 %: at 4 a second a call sent late by a busy machine
	// puts five into one second, and the SDK's retry of a dropped call a
	// sixth. The sweep also waits for the Kinesis's own ListStreams limiter,
	// which discovery uses, so that the two together stay under the limit.
	CacheListStreamsPerSecond = 3
	// CacheListShardsPerSecond paces ListShards across the account. AWS limits
	// it per stream only: "This operation has a limit of 1000 transactions per
	// second per data stream" (API_ListShards); the cache calls it about once
	// per stream per refresh, so this pace only spreads a cold start.
	CacheListShardsPerSecond = 500

	// DefaultShardRefresh is how long a cached open-shard count is used
	// before it is read again when nothing says the stream changed: a tenth
	// of the streams a cycle, one ListShards each.
	DefaultShardRefresh = 10 * time.Minute
	// DefaultSweepInterval is how often the sweep lists every stream's status
	// and mode, from the start of one sweep to the start of the next.
	DefaultSweepInterval = time.Minute

	// listStreamsPage is what one ListStreams call asks for: "If you specify
	// a value greater than 100, at most 100 results are returned"
	// (API_ListStreams).
	listStreamsPage = 100
)

// cacheAPI is the part of the Kinesis client the cache calls itself; the
// rest goes through the Kinesis it wraps.
type cacheAPI interface {
	ListStreams(ctx context.Context, params *kinesis.ListStreamsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListStreamsOutput, error)
	ListShards(ctx context.Context, params *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
}

var _ cacheAPI = (*kinesis.Client)(nil)

// Cache describes streams for the controller without a DescribeStreamSummary
// per stream per cycle, which at AWS's 20 calls a second would take more than
// eight minutes for 10,000 streams. It implements controller.Streams.
//
// Status and capacity mode come from a sweep (Run) that lists every stream of
// the account with ListStreams, whose StreamSummaries carry StreamStatus and
// StreamModeDetails (API_StreamSummary), 100 streams a call. The open-shard
// count comes from ListShards with the AT_LATEST filter ("the response
// includes only the currently open shards", API_ShardFilter), read when a
// stream is first asked for, again every shard refresh period (each stream at
// its own point of the period, so that refreshes spread over cycles), and
// whenever a sweep shows the stream UPDATING, CREATING or DELETING or in
// another mode.
//
// A stream is read with DescribeStreamSummary instead while the cache knows
// it to be changing: after our own UpdateShardCount until a Describe, or a
// sweep listing sent after the call, shows it ACTIVE again; while it is not
// ACTIVE; when the sweep has not listed it; and, for every stream, when no
// sweep has completed in the last three sweep intervals or ListStreams gives
// no summaries (some emulators give names only).
//
// A cached count can be stale: a reshard by someone else that the sweep does
// not catch UPDATING is seen at the next refresh, at most the refresh period
// later. That never causes a wrong action: UpdateShardCount first reads the
// stream with DescribeStreamSummary and refuses, as policy.ErrStreamBusy,
// when it is not what the last Describe returned, which is what the decision
// saw; the next Describe returns the fresh state.
type Cache struct {
	k      *Kinesis
	client cacheAPI
	now    func() time.Time
	onErr  func(error)

	refresh, sweepEvery time.Duration

	describe, listStreams, listShards *rate.Limiter

	mu      sync.Mutex
	entries map[string]*cacheEntry
	listed  map[string]listing
	// summaries is false once a ListStreams answer had names without
	// summaries: the sweep then cannot tell status or mode.
	summaries bool
	// sweptAt is when the last complete sweep started; zero before one.
	sweptAt time.Time
	// running is true while Run runs; firstSweep is closed when Run's first
	// sweep has ended, however it ended.
	running    bool
	firstSweep chan struct{}
	firstOnce  sync.Once
	// waiting, when set by a test, is called when a Describe starts waiting
	// for the first sweep.
	waiting func()
}

// cacheEntry is what the cache knows of one stream.
type cacheEntry struct {
	state policy.StreamState
	// at is when state was read, or when our reshard call returned; due is
	// when the shard count is read again.
	at, due time.Time
	// changing is true after our own reshard and while the stream is not
	// ACTIVE: until a Describe or a sweep listing sent after at shows it
	// ACTIVE, it is read with DescribeStreamSummary.
	changing bool
}

// listing is a stream's status and mode as a sweep saw it, in a
// ListStreams call sent at at.
type listing struct {
	status policy.Status
	mode   policy.Mode
	at     time.Time
}

// CacheOption configures a Cache.
type CacheOption func(*Cache)

// WithCacheClock sets the clock of refreshes; the default is time.Now.
func WithCacheClock(now func() time.Time) CacheOption {
	return func(c *Cache) { c.now = now }
}

// WithShardRefresh sets how long a cached open-shard count is used when
// nothing says the stream changed.
func WithShardRefresh(d time.Duration) CacheOption {
	return func(c *Cache) { c.refresh = d }
}

// WithSweepInterval sets the time from the start of one sweep to the start
// of the next.
func WithSweepInterval(d time.Duration) CacheOption {
	return func(c *Cache) { c.sweepEvery = d }
}

// WithCachePace paces the cache's calls of the operation
// ("DescribeStreamSummary", "ListStreams" or "ListShards") at perSecond,
// replacing the default; 0 lifts the pace.
func WithCachePace(operation string, perSecond float64) CacheOption {
	return func(c *Cache) {
		l := rate.NewLimiter(rate.Inf, 1)
		if perSecond > 0 {
			l = rate.NewLimiter(rate.Limit(perSecond), 1)
		}
		switch operation {
		case opDescribeStreamSummary:
			c.describe = l
		case opListStreams:
			c.listStreams = l
		case opListShards:
			c.listShards = l
		}
	}
}

// WithSweepErrors sets a function told of each failed sweep, for the log.
// A failed sweep is never an error of Describe: streams it did not list are
// described.
func WithSweepErrors(f func(error)) CacheOption {
	return func(c *Cache) { c.onErr = f }
}

// opDescribeStreamSummary names the operation for WithCachePace.
const opDescribeStreamSummary = "DescribeStreamSummary"

// NewCache returns a cache over k, which it describes and reshards through,
// that lists streams and shards through client (the same SDK client).
func NewCache(k *Kinesis, client cacheAPI, opts ...CacheOption) *Cache {
	c := &Cache{
		k: k, client: client, now: time.Now, onErr: func(error) {},
		refresh: DefaultShardRefresh, sweepEvery: DefaultSweepInterval,
		// Bursts of 1: calls are spaced evenly, never bunched.
		describe:    rate.NewLimiter(CacheDescribePerSecond, 1),
		listStreams: rate.NewLimiter(CacheListStreamsPerSecond, 1),
		listShards:  rate.NewLimiter(CacheListShardsPerSecond, 1),
		entries:     map[string]*cacheEntry{},
		listed:      map[string]listing{},
		summaries:   true,
		firstSweep:  make(chan struct{}),
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Run sweeps at once, then half a sweep interval after it started and every
// sweep interval after that, until ctx is done.
func (c *Cache) Run(ctx context.Context) {
	c.mu.Lock()
	if c.running {
		c.mu.Unlock()
		return
	}
	c.running = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.running = false
		c.mu.Unlock()
	}()

	started := time.Now()
	sweep := func() {
		if err := c.Sweep(ctx); err != nil && ctx.Err() == nil {
			c.onErr(err)
		}
	}
	sweep()
	c.firstOnce.Do(func() { close(c.firstSweep) })
	// The daemon starts its cycles when it starts Run, every poll interval
	// (a minute by default): later sweeps start half a sweep interval out of
	// step with Run's start, so that each lists, between two cycles, what the
	// last cycle's reshards left, before the next cycle describes the
	// streams. A sweep that starts late skips the starts it missed.
	next := started.Add(c.sweepEvery / 2)
	timer := time.NewTimer(time.Until(next))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		sweep()
		for !next.After(time.Now()) {
			next = next.Add(c.sweepEvery)
		}
		timer.Reset(time.Until(next))
	}
}

// Sweep lists every stream's status and mode once. What it lists is kept as
// it comes; streams that a complete sweep did not list are forgotten.
func (c *Cache) Sweep(ctx context.Context) error {
	started := c.now()
	in := &kinesis.ListStreamsInput{Limit: aws.Int32(listStreamsPage)}
	for {
		if err := c.listStreams.Wait(ctx); err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
		if err := c.k.pace(ctx, opListStreams); err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
		// A listing is as old as its request: what it says held after then.
		at := c.now()
		out, err := c.client.ListStreams(ctx, in, noSDKRetries)
		for attempt := 1; err != nil && attempt < sweepAttempts && retryable(err); attempt++ {
			// Retried here, at the sweep's pace: the SDK's retries would go
			// out at once and could put a sixth call into one second.
			if werr := c.listStreams.Wait(ctx); werr != nil {
				return fmt.Errorf("sweep: %w", werr)
			}
			at = c.now()
			out, err = c.client.ListStreams(ctx, in, noSDKRetries)
		}
		if err != nil {
			return fmt.Errorf("sweep: list streams: %w", classify(err, false))
		}
		c.mu.Lock()
		if len(out.StreamSummaries) == 0 && len(out.StreamNames) > 0 {
			// Names without status: nothing to cache from this listing.
			c.summaries = false
		}
		for _, s := range out.StreamSummaries {
			l := listing{status: policy.Status(s.StreamStatus), mode: policy.ModeProvisioned, at: at}
			if d := s.StreamModeDetails; d != nil && d.StreamMode != "" {
				l.mode = policy.Mode(d.StreamMode)
			}
			c.listed[aws.ToString(s.StreamName)] = l
		}
		c.mu.Unlock()

		last := ""
		if n := len(out.StreamSummaries); n > 0 {
			last = aws.ToString(out.StreamSummaries[n-1].StreamName)
		} else if n := len(out.StreamNames); n > 0 {
			last = out.StreamNames[n-1]
		}
		if !aws.ToBool(out.HasMoreStreams) || last == "" {
			break
		}
		if out.NextToken != nil {
			in = &kinesis.ListStreamsInput{NextToken: out.NextToken, Limit: aws.Int32(listStreamsPage)}
		} else {
			in = &kinesis.ListStreamsInput{ExclusiveStartStreamName: aws.String(last), Limit: aws.Int32(listStreamsPage)}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, l := range c.listed {
		if l.at.Before(started) {
			delete(c.listed, name) // deleted, or renamed: describe it
		}
	}
	c.sweptAt = started
	return nil
}

// sweepAttempts is how many times the sweep sends one ListStreams call
// that fails in a way worth trying again.
const sweepAttempts = 3

// noSDKRetries makes a call's first failure its answer.
func noSDKRetries(o *kinesis.Options) { o.RetryMaxAttempts = 1 }

// retryable is true for failures the SDK's standard retryer would try again:
// throttling, 5xx, broken connections.
func retryable(err error) bool {
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary
}

// sweepStale is how old the last complete sweep may be, in sweep intervals,
// before the cache stops trusting it and describes every stream.
const sweepStale = 3

// Describe returns the stream's open shard count, status and capacity mode,
// from the cache where it is fresh, else from ListShards and the sweep, else
// from DescribeStreamSummary. A missing stream is policy.ErrStreamNotFound.
func (c *Cache) Describe(ctx context.Context, name string) (policy.StreamState, error) {
	c.awaitFirstSweep(ctx)
	now := c.now()
	c.mu.Lock()
	e := c.entries[name]
	l, listed := c.listed[name]
	// Without a recent complete sweep with summaries the cache cannot see
	// changes: it describes every stream, as if it were not there.
	current := c.summaries && !c.sweptAt.IsZero() && now.Sub(c.sweptAt) < sweepStale*c.sweepEvery
	c.mu.Unlock()

	// What the sweep says, if it says it after the entry was read.
	newer := listed && (e == nil || l.at.After(e.at))
	if current && listed && e != nil && !e.changing && now.Before(e.due) &&
		!(newer && (l.status != policy.StatusActive || l.mode != e.state.Mode)) {
		return e.state, nil
	}
	// A listing sent after our reshard call returned that shows the stream
	// ACTIVE says the reshard is over (AWS sets UPDATING when it accepts the
	// call): its count can be read with ListShards.
	if current && listed && l.status == policy.StatusActive && (e == nil || !e.changing || newer) {
		n, err := c.openShards(ctx, name)
		if err == nil {
			st := policy.StreamState{OpenShards: n, Status: l.status, Mode: l.mode}
			c.store(name, st, now)
			return st, nil
		}
		if errors.Is(err, policy.ErrStreamNotFound) || ctx.Err() != nil {
			c.Forget(name)
			return policy.StreamState{}, err
		}
		// Any other failure (a policy without kinesis:ListShards, say):
		// describe instead.
	}
	st, err := c.describeNow(ctx, name)
	if err != nil {
		if errors.Is(err, policy.ErrStreamNotFound) {
			c.Forget(name)
		}
		return policy.StreamState{}, err
	}
	c.store(name, st, now)
	return st, nil
}

// UpdateShardCount reads the stream with DescribeStreamSummary and, if it is
// what the last Describe returned (status, mode and open shards), asks for
// the reshard. If it is not, nothing is called: the error wraps
// policy.ErrStreamBusy and the next Describe returns the fresh state. After
// a call, whatever its answer, the stream is described until it is ACTIVE.
func (c *Cache) UpdateShardCount(ctx context.Context, name string, target int) error {
	st, err := c.describeNow(ctx, name)
	if err != nil {
		return fmt.Errorf("describe before reshard: %w", err)
	}
	c.mu.Lock()
	e := c.entries[name]
	c.mu.Unlock()
	if e == nil || e.state != st {
		c.store(name, st, c.now())
		saw := "nothing"
		if e != nil {
			saw = fmt.Sprintf("%s %s with %d shards", e.state.Status, e.state.Mode, e.state.OpenShards)
		}
		return fmt.Errorf("%w: %q is %s %s with %d shards, the decision saw %s; deciding again next cycle",
			policy.ErrStreamBusy, name, st.Status, st.Mode, st.OpenShards, saw)
	}
	if err := ctx.Err(); err != nil {
		// The caller's time to act (its lease's) ran out during the read:
		// a change asked for now could race the next leader's.
		return fmt.Errorf("%w: after describing %q: %w", policy.ErrNotCalled, name, err)
	}
	err = c.k.UpdateShardCount(ctx, name, target)
	c.mu.Lock()
	if e := c.entries[name]; e != nil {
		e.changing, e.at = true, c.now()
	}
	c.mu.Unlock()
	return err
}

// Forget drops what the cache knows of the stream's shards, so that the next
// Describe reads them: for changes made past the cache, such as a SplitShard.
func (c *Cache) Forget(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, name)
}

// awaitFirstSweep waits, while Run's first sweep is under way, until it
// ends, so that a cold start lists status by the hundred rather than
// describing streams one by one. It waits at most half of what is left of
// ctx, so that the stream can still be described in time.
func (c *Cache) awaitFirstSweep(ctx context.Context) {
	c.mu.Lock()
	running, first := c.running, c.firstSweep
	c.mu.Unlock()
	select {
	case <-first:
		return
	default:
	}
	if !running {
		return
	}
	wait := DefaultSweepInterval
	if deadline, ok := ctx.Deadline(); ok {
		wait = time.Until(deadline) / 2
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	if c.waiting != nil {
		c.waiting()
	}
	select {
	case <-first:
	case <-t.C:
	case <-ctx.Done():
	}
}

// describeNow calls DescribeStreamSummary at the cache's pace.
func (c *Cache) describeNow(ctx context.Context, name string) (policy.StreamState, error) {
	if err := c.describe.Wait(ctx); err != nil {
		return policy.StreamState{}, fmt.Errorf("wait to call %s: %w", opDescribeStreamSummary, err)
	}
	return c.k.Describe(ctx, name)
}

// openShards counts the stream's open shards with ListShards. Shards with
// an ending sequence number are closed and not counted, should a filter be
// ignored.
func (c *Cache) openShards(ctx context.Context, name string) (int, error) {
	n := 0
	in := &kinesis.ListShardsInput{StreamName: aws.String(name), MaxResults: aws.Int32(listShardsPage),
		ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}}
	for {
		if err := c.listShards.Wait(ctx); err != nil {
			return 0, fmt.Errorf("wait to call %s: %w", opListShards, err)
		}
		out, err := c.client.ListShards(ctx, in)
		if err != nil {
			return 0, fmt.Errorf("list shards of %q: %w", name, classify(err, false))
		}
		for _, s := range out.Shards {
			if s.SequenceNumberRange == nil || s.SequenceNumberRange.EndingSequenceNumber == nil {
				n++
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return n, nil
		}
		// A NextToken names the stream and the filter; neither may be sent
		// with it (API_ListShards).
		in = &kinesis.ListShardsInput{NextToken: out.NextToken, MaxResults: aws.Int32(listShardsPage)}
	}
}

// store caches a state read now. A stream's first entry is due at its own
// point of the refresh period, so that refreshes spread evenly over cycles.
func (c *Cache) store(name string, st policy.StreamState, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	due := now.Add(c.refresh)
	if c.entries[name] == nil {
		due = now.Add(spread(name, c.refresh))
	}
	c.entries[name] = &cacheEntry{state: st, at: now, due: due, changing: st.Status != policy.StatusActive}
}

// spread is a stream's fixed point in a period.
func spread(name string, period time.Duration) time.Duration {
	if period <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	return time.Duration(h.Sum64() % uint64(period))
}
