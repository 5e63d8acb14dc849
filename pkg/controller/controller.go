// Package controller runs the autoscaling loop: one cycle reads the load of
// every stream, reads each stream's state, asks the policy, acts and alerts.
//
// It declares the narrow interfaces it consumes; the AWS adapters in
// pkg/metrics, pkg/stream and pkg/notify satisfy them, and so does the
// simulator in pkg/sim, so that both run exactly this code.
//
// Every change to a stream's shards is made by one write-ahead executor
// (execute.go): fenced by the lease term, recorded in the stream's record
// (RecordStore, one read and one write) before the call, verified after an
// ambiguous answer, taken back only when the stream says it did not land.
// Each kind of change (UpdateShardCount, SplitShard, MergeShards, an
// operator's Scale) supplies only its record, call and verification.
//
// With several replicas, only the one that holds the lease acts (Leadership):
// the others run the same cycles — read, decide, log, report to the Observer —
// but never reshard, never write a stream's history and never alert.
package controller

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// LoadReader reads per-minute metrics of many streams at once.
type LoadReader interface {
	// ReadLoad returns, per stream name, one Minute per minute in
	// [start, end), oldest first; minutes without data are not Known.
	ReadLoad(ctx context.Context, streams []string, start, end time.Time) (map[string][]policy.Minute, error)
}

// Streams describes and reshards streams.
type Streams interface {
	// Describe returns the stream's open shard count, status and mode.
	Describe(ctx context.Context, stream string) (policy.StreamState, error)
	// UpdateShardCount asks for a uniform reshard to target shards. Errors
	// wrap policy.ErrStreamBusy, policy.ErrQuotaExceeded,
	// policy.ErrStreamNotFound or policy.ErrInvalidTarget where AWS said so.
	UpdateShardCount(ctx context.Context, stream string, target int) error
}

// Notifier tells people about an alert.
type Notifier interface {
	Notify(ctx context.Context, a policy.Alert) error
}

// Clock tells the time; the daemon uses the wall clock, the simulator its own.
type Clock interface {
	Now() time.Time
}

// Leadership says whether this replica may act. The daemon's lease
// implements it; without one, a replica always acts.
type Leadership interface {
	// Leading reports whether this replica holds the lease with enough of it
	// left to act, and the lease's term: a number that changes each time the
	// lease is acquired anew, so that a replica that lost the lease and got
	// it back knows that another may have acted in between.
	Leading() (term uint64, ok bool)
	// TimeLeft is how long this replica may still act in term: zero when
	// it does not lead in that term (it lost the lease, even if it took it
	// back since). Every change to a stream is fenced by it.
	TimeLeft(term uint64) time.Duration
}

// Observer is told what every cycle saw and did, for example to export
// metrics. It is called from the goroutine that runs the cycle.
type Observer interface {
	// ObserveStream reports one stream's outcome of a cycle.
	ObserveStream(o Outcome)
	// ObserveCycle reports a finished cycle.
	ObserveCycle(r CycleReport)
}

// StreamSpec is one managed stream.
type StreamSpec struct {
	Name     string
	Settings policy.Settings
	// Policy decides for the stream; nil means policy.Threshold{Settings}.
	Policy policy.Policy
	// Shards, when set, turns on shard-level scaling (shards.go).
	Shards *ShardLevel
}

// Options are daemon-wide settings of the loop.
type Options struct {
	// PollInterval is the time between cycles.
	PollInterval time.Duration
	// DryRun makes the loop decide and alert "would scale" without acting.
	DryRun bool
	// DedupWindow is how long an ongoing condition (throttling, held at max,
	// quota spent, AWS errors) stays quiet after its alert.
	DedupWindow time.Duration
	// ReadAllHistory reads every stream's history, not only those of streams
	// whose decision would act (the status command shows them all).
	ReadAllHistory bool
	// PollEveryCycle reads every stream's metrics every cycle; otherwise
	// each stream is read as often as policy.NextRead says (poll.go).
	PollEveryCycle bool
	// Poll bounds the poll schedule; zero fields are the defaults.
	Poll policy.PollSettings
	// LogOnlyActing logs at info only the cycles and streams that act (or
	// would, or fail); the rest at debug (log.only_acting).
	LogOnlyActing bool
}

// Deps are the parts the loop talks to. Leader and Observer are optional:
// without a Leader the controller always acts, without an Observer nobody is
// told.
type Deps struct {
	Load    LoadReader
	Streams Streams
	// History keeps each stream's record (RecordStore).
	History  RecordStore
	Notifier Notifier
	Clock    Clock
	Leader   Leadership
	Observer Observer
	// ShardLoad and Shards serve streams with shard-level scaling; without
	// Shards, none has it.
	ShardLoad ShardLoadReader
	Shards    ShardStreams
	// Stopwatch is the wall clock a cycle's time for acting
	// (ActBudgetShare) is measured by; nil means time.Now. The simulator's
	// Clock does not measure it: a simulated cycle takes no time.
	Stopwatch Clock
}

// Controller runs cycles over a set of streams. RunCycle and Run must not be
// called concurrently; SetStreams and SetOptions may be called from any
// goroutine and take effect at the next cycle.
type Controller struct {
	deps Deps
	log  *zap.Logger
	// warmups counts the streams whose learning the running cycle rebuilt
	// from CloudWatch (MaxWarmUpsPerCycle).
	warmups int

	// mu guards the next specs and options, which SetStreams and SetOptions
	// leave for the next cycle.
	mu        sync.Mutex
	nextSpecs []StreamSpec
	nextOpts  *Options

	// Owned by the goroutine that runs cycles.
	specs []StreamSpec
	opts  Options
	state map[string]*streamState
	// term is the lease term of the last cycle this replica led.
	term uint64
	// cycleStarted is when the running cycle started, by Deps.Stopwatch.
	cycleStarted time.Time
	// readFrom and readTo are the running cycle's metrics window, for a
	// stream read again before it scales down (readFresh).
	readFrom, readTo time.Time
	// daemon-wide alert episodes (failed metric reads)
	daemon episodes
	// shardLevel is what shard-level scaling keeps (shards.go).
	shardLevel shardLevels
}

// New returns a controller for the streams.
func New(specs []StreamSpec, deps Deps, opts Options, log *zap.Logger) *Controller {
	c := &Controller{deps: deps, opts: opts, log: log, state: map[string]*streamState{}}
	c.setSpecs(specs)
	return c
}

// SetStreams replaces the managed streams from the next cycle on. A stream
// that stays keeps what the controller knows of it; a stream that leaves is
// forgotten, and read afresh from its tags should it come back.
func (c *Controller) SetStreams(specs []StreamSpec) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextSpecs = slices.Clone(specs)
	if c.nextSpecs == nil {
		c.nextSpecs = []StreamSpec{}
	}
}

// SetOptions replaces the options from the next cycle on.
func (c *Controller) SetOptions(opts Options) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextOpts = &opts
}

// pollInterval is the poll interval in force, or about to be.
func (c *Controller) pollInterval() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nextOpts != nil {
		return c.nextOpts.PollInterval
	}
	return c.opts.PollInterval
}

// applyPending takes the specs and options left by SetStreams and SetOptions.
func (c *Controller) applyPending() {
	c.mu.Lock()
	specs, opts := c.nextSpecs, c.nextOpts
	c.nextSpecs, c.nextOpts = nil, nil
	c.mu.Unlock()
	if opts != nil {
		c.opts = *opts
	}
	if specs != nil {
		c.setSpecs(specs)
	}
}

func (c *Controller) setSpecs(specs []StreamSpec) {
	c.specs = slices.Clone(specs)
	keep := map[string]bool{}
	for i := range c.specs {
		if c.specs[i].Policy == nil {
			c.specs[i].Policy = policy.Threshold{Settings: c.specs[i].Settings}
		}
		name := c.specs[i].Name
		keep[name] = true
		if c.state[name] == nil {
			c.state[name] = &streamState{}
		}
	}
	for name := range c.state {
		if !keep[name] {
			delete(c.state, name)
		}
	}
}

// Outcome is what one cycle did for one stream.
type Outcome struct {
	Stream   string
	Decision policy.Decision
	// Observed is true when the stream's state was read; State is that state.
	Observed bool
	State    policy.StreamState
	// History is the scaling history the decision saw; HistoryRead is false
	// when it was not read, because the decision would not act without it.
	History     policy.History
	HistoryRead bool
	// Paused is when an operator paused the stream, as its record said when
	// last read; zero when it is not paused (or the record was not read).
	Paused time.Time
	// Refused are the known minutes the decision saw that refused writes,
	// oldest first; SeenThrough is the start of the newest known minute it
	// saw (zero when it saw none). The minutes themselves are not kept: an
	// outcome lives until the cycle ends, and a copy of every stream's
	// minutes would with it.
	Refused     []RefusedMinute
	SeenThrough time.Time
	// Leading is true when this replica could act this cycle.
	Leading bool
	// Result says what became of the action the decision asked for; empty
	// when it asked for none or the replica is a standby.
	Result Result
	// Acted is true when UpdateShardCount was called and accepted.
	Acted bool
	// ReshardTook is how long the UpdateShardCount this cycle saw done took,
	// from its call to this cycle's look; zero when none was seen done, or
	// the look before this one was more than two poll intervals earlier (it
	// was not timed).
	ReshardTook time.Duration
	// Err is the first error met for the stream, nil if none.
	Err error
	// Shards is what the shard level saw and did; nil for streams without
	// shard-level scaling.
	Shards *ShardOutcome
}

// RefusedMinute is a minute in which the stream refused writes.
type RefusedMinute struct {
	Start time.Time
	// Records is the minute's WriteProvisionedThroughputExceeded.
	Records float64
}

// Refusals is what an Outcome keeps of the minutes its decision saw: the
// known minutes that refused writes, oldest first, and the start of the
// newest known minute (zero when none is known).
func Refusals(ms []policy.Minute) (refused []RefusedMinute, through time.Time) {
	for _, m := range ms {
		if !m.Known {
			continue
		}
		if m.WriteThrottled > 0 {
			refused = append(refused, RefusedMinute{Start: m.Start, Records: m.WriteThrottled})
		}
		if m.Start.After(through) {
			through = m.Start
		}
	}
	return refused, through
}

// Result is what became of a scaling action the policy asked for.
type Result string

// Results of a scaling action.
const (
	// ResultRequested: AWS accepted UpdateShardCount.
	ResultRequested Result = "requested"
	// ResultDryRun: a dry run; nothing was asked of AWS.
	ResultDryRun Result = "dry_run"
	// ResultBusy: AWS refused, the stream was already changing.
	ResultBusy Result = "busy"
	// ResultQuotaExceeded: AWS refused, the stream's quota is spent.
	ResultQuotaExceeded Result = "quota_exceeded"
	// ResultFailed: AWS refused or the call failed otherwise.
	ResultFailed Result = "failed"
	// ResultNotRecorded: a scale-down not made because its record could not
	// be written to the stream's tags.
	ResultNotRecorded Result = "not_recorded"
	// ResultLeaseLost: the lease was lost between the decision and the call;
	// the new leader decides.
	ResultLeaseLost Result = "lease_lost"
	// ResultDeferred: the cycle had used its time for acting (ActBudgetShare
	// of the poll interval) before this stream's turn; the next cycle decides
	// again.
	ResultDeferred Result = "deferred"
	// ResultPaused: an operator paused the stream (the pause command);
	// nothing was changed.
	ResultPaused Result = "paused"
)

// CycleReport is what a whole cycle did.
type CycleReport struct {
	// At is the cycle's time by the controller's clock; Took is how long the
	// cycle ran.
	At   time.Time
	Took time.Duration
	// Leading is true when this replica could act at the start of the cycle.
	Leading bool
	// Streams are the streams managed in the cycle.
	Streams []string
	// LoadErr is the error of reading the streams' metrics, nil if none.
	LoadErr error
	// Failed is how many streams could not be observed for an AWS error.
	Failed int
}

// Run runs a cycle at once and then one every PollInterval until ctx is done.
func (c *Controller) Run(ctx context.Context) error {
	interval := c.pollInterval()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		c.RunCycle(ctx)
		if p := c.pollInterval(); p != interval {
			interval = p
			t.Reset(p)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// leading asks the Leadership, if any.
func (c *Controller) leading() (uint64, bool) {
	if c.deps.Leader == nil {
		return 0, true
	}
	return c.deps.Leader.Leading()
}

// RunCycle runs one cycle over every stream and reports what it did.
func (c *Controller) RunCycle(ctx context.Context) []Outcome {
	c.applyPending()
	c.warmups = 0
	now := c.deps.Clock.Now()
	started := c.wallNow()
	term, leading := c.leading()
	if leading && term != c.term {
		// A new term starts from the tags: another replica may have acted
		// meanwhile. A standby keeps what it read: it only reports, and
		// re-reading would spend the account's ListTagsForStream calls the
		// leader needs. What went unsaved is left to whoever leads: it
		// recognises the reshard by the stream's shard count
		// (History.Reconcile).
		for _, st := range c.state {
			st.loaded, st.history, st.unsaved = false, policy.History{}, false
			st.record, st.readAt = policy.Record{}, time.Time{}
		}
	}
	if leading {
		c.term = term
	}

	names := make([]string, len(c.specs))
	var lookback time.Duration
	for i, s := range c.specs {
		names[i] = s.Name
		lookback = max(lookback, s.Settings.Lookback())
	}
	report := CycleReport{At: now, Leading: leading, Streams: names}
	var loads map[string][]policy.Minute
	if len(names) > 0 {
		end := now.Truncate(time.Minute)
		shards := c.prepareShards(ctx, now, term, leading, lookback)
		callCtx, cancel := c.callContext(ctx, 2)
		c.readFrom, c.readTo = end.Add(-lookback), end
		loads, report.LoadErr = c.readScheduled(callCtx, names, shards, c.readFrom, c.readTo, now)
		cancel()
	}
	if err := report.LoadErr; err != nil {
		c.log.Warn("read stream metrics", zap.Error(err), zap.Int("streams", len(names)))
		if leading && c.daemon.start(policy.AlertAWSError, now, c.opts.DedupWindow) {
			c.notify(ctx, policy.Alert{Kind: policy.AlertAWSError, Stream: "all streams", At: now,
				Err:  fmt.Sprintf("read CloudWatch metrics: %v", err),
				Next: "no stream is scaled down while its metrics are unknown; the next cycle reads them again"})
		}
	} else if leading {
		c.daemon.end(policy.AlertAWSError)
	}

	c.cycleStarted = started
	out := make([]Outcome, 0, len(c.specs))
	for _, spec := range c.specs {
		if ctx.Err() != nil {
			break
		}
		o := c.cycleStream(ctx, c.shardAware(spec), loads[spec.Name], now, leading)
		o.Shards = c.cycleShards(ctx, spec, o, now, leading)
		if !o.Observed {
			report.Failed++
		}
		if c.deps.Observer != nil {
			c.deps.Observer.ObserveStream(o)
		}
		out = append(out, o)
	}
	report.Took = c.wallNow().Sub(started)
	if c.deps.Observer != nil {
		c.deps.Observer.ObserveCycle(report)
	}
	c.logSummary(Summarise(report, out, c.opts.DryRun))
	return out
}

// minCallTimeout is the least time one AWS call of a cycle is given.
const minCallTimeout = 250 * time.Millisecond

// callContext bounds one AWS call of a cycle to a share of the poll
// interval: the SDK's HTTP client has no overall timeout, and a call that
// never answers must not stall the loop and every other stream.
func (c *Controller) callContext(ctx context.Context, share time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, max(c.opts.PollInterval/share, minCallTimeout))
}

// cycleStream observes, decides and, when leading, acts for one stream.
func (c *Controller) cycleStream(ctx context.Context, spec StreamSpec, minutes []policy.Minute, now time.Time, leading bool) Outcome {
	st := c.state[spec.Name]
	o := Outcome{Stream: spec.Name, Leading: leading}
	log := c.log.With(zap.String("stream", spec.Name))

	if st.unsaved && leading {
		// An action went ahead without its record: write it as soon as the
		// tags take it, so that a restart does not forget the call.
		callCtx, cancel := c.callContext(ctx, 4)
		c.saveUnsaved(callCtx, st, spec.Name, log)
		cancel()
	}
	callCtx, cancel := c.callContext(ctx, 4)
	state, err := c.deps.Streams.Describe(callCtx, spec.Name)
	cancel()
	if err != nil {
		o.Err = fmt.Errorf("describe stream %q: %w", spec.Name, err)
		c.awsError(ctx, st, spec.Name, now, o.Err, leading, log)
		return o
	}
	// While a halving by merges is under way the policy sees the count it
	// goes to, which the stream's widest shards already carry (halve.go).
	view, halving := halvingView(st, state)
	// A reshard is timed when the looks followed it every cycle or two.
	if o.ReshardTook = st.observe(view, now, 2*c.pollInterval()); o.ReshardTook > 0 {
		log.Info("reshard done", zap.Int("shards", view.OpenShards), zap.Duration("took", o.ReshardTook))
	}
	c.reconcile(ctx, st, spec.Name, state, now, leading, log)
	if view.Status != policy.StatusActive || view.OpenShards != st.poll.shards {
		// The schedule's last plan assumed an active stream of another
		// count: a reshard under way or just done. Read the next cycle.
		st.poll.next = time.Time{}
	}

	// Phase one: the policy's intent, from the observation alone. The
	// history only ever holds an intent back (cooldowns, the quota), so it
	// is read from the tags (ListTagsForStream, 5 calls a second per
	// account) only for a stream whose intent acts, and then kept while
	// this replica leads. Phase two, the gate, applies it.
	ms := st.withShards(minutes)
	if state.Mode != policy.ModeOnDemand {
		c.warmUp(ctx, st, spec.Name, state, now, log)
		st.learned.Feed(ms, view.OpenShards, st.poll.readTime(now))
	}
	d := c.decide(spec, st, view, halving, ms, now)
	// A stream with shard-level scaling reads its record every term: its
	// shard level needs it.
	if !st.loaded && state.Mode != policy.ModeOnDemand && (d.Direction != policy.DirectionNone || c.opts.ReadAllHistory || c.shardLevelOn(spec)) {
		if !c.opts.ReadAllHistory && c.overBudget() {
			return c.deferred(c.observed(o, st, state, d, ms), log)
		}
		if err := c.loadHistory(ctx, st, spec, state, now, leading, log); err != nil {
			o.Err = err
			c.awsError(ctx, st, spec.Name, now, o.Err, leading, log)
			return o
		}
		// The history may have told the shards of earlier minutes (seed),
		// or of a halving under way.
		ms = st.withShards(minutes)
		if v, ok := halvingView(st, state); ok {
			view, halving = v, true
			st.observe(view, now, -1) // the look above timed any reshard
			d = c.decide(spec, st, view, halving, ms, now)
		}
	}
	h := st.history
	h.QuotaRefusedAt = st.quotaRefusedAt
	d = spec.Policy.Gate(d, h, now)
	d = c.mergesAllowed(d)
	if d.Scales() && d.Direction == policy.DirectionDown && leading {
		// A scale-down is decided on the newest minutes, as with one read a
		// minute: a stream the poll schedule left unread is read now.
		fresh, read, err := c.readFresh(ctx, spec.Name, now)
		if err != nil {
			o.Err = fmt.Errorf("read the metrics of %q before scaling down: %w", spec.Name, err)
			c.awsError(ctx, st, spec.Name, now, o.Err, leading, log)
			return o
		}
		if read {
			minutes, ms = fresh, st.withShards(fresh)
			st.learned.Feed(ms, view.OpenShards, now)
			d = c.mergesAllowed(spec.Policy.Gate(c.decide(spec, st, view, halving, ms, now), h, now))
		}
	}
	o = c.observed(o, st, state, d, ms)
	if leading {
		st.alerts.end(policy.AlertAWSError)
	}
	if state.Mode == policy.ModeOnDemand {
		if !st.onDemandLogged {
			log.Info("stream is ON_DEMAND: left alone", zap.String("mode", string(state.Mode)))
			st.onDemandLogged = true
		}
		return o
	}
	st.onDemandLogged = false
	logDecision(log, c.decisionLevel(d), d, state, leading, st.loaded, c.opts.DryRun)
	if !leading {
		// A standby decides and reports, and leaves acting and alerting to
		// the leader.
		return o
	}

	c.conditionAlert(ctx, st, d, d.Throttled, policy.AlertThrottling, now,
		"the policy treats throttled minutes as at least 100 % utilisation and scales up when the threshold rules allow")
	next := "raise max_shards for this stream if the load is expected; the daemon will not exceed it"
	if d.HeldAboveMax {
		next = "the stream is held above max_shards because its load would not fit fewer shards; raise max_shards, or lower it only once the load allows"
	}
	c.conditionAlert(ctx, st, d, d.AtMax || d.HeldAboveMax, policy.AlertAtMaxShards, now, next)
	c.conditionAlert(ctx, st, d, d.QuotaExhausted, policy.AlertQuotaExhausted, now,
		"the daemon scales up again as soon as a call is free; SplitShard is not under this quota if you must act by hand")

	if !d.Scales() {
		st.alerts.end(policy.AlertWouldScale)
		if halving && state.Status == policy.StatusActive && !c.opts.DryRun && !c.overBudget() {
			o.Result, o.Err = c.mergeNext(ctx, st, spec.Name, state.OpenShards, view.OpenShards, now, log)
			o.Acted = o.Result == ResultRequested
		}
		return o
	}
	if c.opts.DryRun {
		o.Result = ResultDryRun
		if st.alerts.start(policy.AlertWouldScale, now, c.opts.DedupWindow) {
			c.notify(ctx, policy.Alert{Kind: policy.AlertWouldScale, Stream: spec.Name, At: now, Decision: d, DryRun: true,
				Next: "dry run: nothing was changed; turn dry_run off to let the daemon act"})
		}
		return o
	}
	if c.overBudget() {
		return c.deferred(o, log)
	}
	o.Result, o.Err = c.act(ctx, st, d, now, log)
	o.Acted = o.Result == ResultRequested
	if o.Acted {
		// The stream's count changes: read it every cycle until the
		// minutes read show it (policy.NextRead).
		st.poll.next = time.Time{}
	}
	return o
}

// PastReader is a LoadReader that can also read a stream's hours at a
// 1-hour period (policy.Hour). The warm-up uses it when Load has it, for the
// days of the learner's day and week (policy.PastSpan) before the minutes
// it reads.
type PastReader interface {
	ReadHours(ctx context.Context, stream string, start, end time.Time) ([]policy.Hour, error)
}

// MaxWarmUpsPerCycle bounds how many streams a cycle rebuilds what the
// policy learned from CloudWatch (one GetMetricData read of
// policy.WarmUpSpan each), so that a start over thousands of streams spreads
// the reads over its first cycles.
const MaxWarmUpsPerCycle = 20

// warmUp rebuilds, once a process, what the policy learned of a stream (its
// bursts, its peak, its hours) from the stream's own CloudWatch history of
// policy.WarmUpSpan, and, where Load is a PastReader, the hours of its day
// and week before that, up to policy.PastSpan, at a 1-hour period: what was
// learned survives a restart because CloudWatch keeps what it was learned
// from. A failed read is not retried: the learner then learns from the
// cycles' own minutes.
func (c *Controller) warmUp(ctx context.Context, st *streamState, stream string, state policy.StreamState, now time.Time, log *zap.Logger) {
	if st.warmed || c.warmups >= MaxWarmUpsPerCycle {
		return
	}
	st.warmed = true
	c.warmups++
	end := now.Truncate(time.Minute)
	// Both reads share one call's share of the interval: a hung CloudWatch
	// holds the cycle no longer than it did with one read.
	callCtx, cancel := c.callContext(ctx, 4)
	defer cancel()
	ms, err := c.deps.Load.ReadLoad(callCtx, []string{stream}, end.Add(-policy.WarmUpSpan), end)
	if err != nil {
		log.Warn("read the stream's CloudWatch history to rebuild what the policy learned; learning from the cycles instead", zap.Error(err))
		return
	}
	st.learned.Feed(st.withShards(ms[stream]), state.OpenShards, now)
	if past, ok := c.deps.Load.(PastReader); ok {
		hours, err := past.ReadHours(callCtx, stream, end.Add(-policy.PastSpan), end.Add(-policy.WarmUpSpan))
		if err != nil {
			log.Warn("read the stream's hourly CloudWatch history for its day and week; learning them from the cycles instead", zap.Error(err))
		} else {
			st.learned.FeedHours(hours)
		}
	}
	e := st.learned.Envelope(now)
	log.Debug("rebuilt what the policy learned from CloudWatch", zap.Int("minutes", len(ms[stream])),
		zap.Bool("bursts_known", e.Known), zap.Float64("burst_ratio", round3(e.Ratio)), zap.Float64("peak_shards", round3(e.Peak)))
}

// ActBudgetShare is the share of the poll interval after which a cycle
// reads no more histories and makes no more reshards: each needs tag calls,
// 5 a second per account, so that a cycle in which many streams would act at
// once (a start-up over thousands of streams) would otherwise overrun the
// interval. Half leaves the rest of the interval to the reads of the streams
// after the cut (10,000 streams' first ListShards take about 20 s). The
// streams left are decided again at the next cycle, which finds the streams
// served first done or in their cooldowns.
const ActBudgetShare = 0.5

// overBudget reports whether the running cycle has used its time for
// acting. It goes by the wall clock: a simulated cycle never runs out.
func (c *Controller) overBudget() bool {
	budget := time.Duration(float64(c.opts.PollInterval) * ActBudgetShare)
	return budget > 0 && c.cycleTook() > budget
}

// cycleTook is how long the running cycle has run.
func (c *Controller) cycleTook() time.Duration {
	return c.wallNow().Sub(c.cycleStarted)
}

// wallNow reads Deps.Stopwatch, or the wall clock.
func (c *Controller) wallNow() time.Time {
	if c.deps.Stopwatch != nil {
		return c.deps.Stopwatch.Now()
	}
	return time.Now()
}

// observed fills the outcome of a stream whose state was read and decided.
func (c *Controller) observed(o Outcome, st *streamState, state policy.StreamState, d policy.Decision, ms []policy.Minute) Outcome {
	o.Observed, o.State, o.Decision = true, state, d
	o.Refused, o.SeenThrough = Refusals(ms)
	o.History, o.HistoryRead, o.Paused = st.history, st.loaded, st.record.Paused
	return o
}

// deferred reports an observed stream whose action is left to the next
// cycle.
func (c *Controller) deferred(o Outcome, log *zap.Logger) Outcome {
	log.Info("cycle out of time: the stream's decision is left to the next cycle",
		zap.String("decision", string(o.Decision.Direction)), zap.Int("target", o.Decision.Target), zap.Duration("took", c.cycleTook()),
		zap.Bool("dry_run", c.opts.DryRun))
	o.Result = ResultDeferred
	return o
}

// decide asks the stream's policy for its intent (phase one); ms are
// the stream's minutes with the shards each had (streamState.withShards).
func (c *Controller) decide(spec StreamSpec, st *streamState, state policy.StreamState, halving bool, ms []policy.Minute, now time.Time) policy.Decision {
	return spec.Policy.Decide(policy.Observation{
		Stream: spec.Name, Now: now, OpenShards: state.OpenShards, Status: state.Status, Mode: state.Mode,
		Minutes: ms, Learned: &st.learned, ConsumersSeen: st.consumersSeen(ms, now), Halving: halving,
	})
}

// loadHistory reads the stream's record from its tags and reconciles it
// with the stream (reconcile).
func (c *Controller) loadHistory(ctx context.Context, st *streamState, spec StreamSpec, state policy.StreamState, now time.Time, leading bool, log *zap.Logger) error {
	callCtx, cancel := c.callContext(ctx, 4)
	err := c.readRecord(callCtx, st, spec.Name)
	cancel()
	if err != nil {
		return err
	}
	st.readAt = now
	// The shard-count record is seeded from the recorded action, never from
	// one inferred now.
	st.seed(st.history, now, spec.Settings.Lookback())
	c.reconcile(ctx, st, spec.Name, state, now, leading, log)
	return nil
}

// utilisationField is a utilisation for the log: null when no minute of
// the stream is known, which is not the same as idle.
func utilisationField(key string, f float64, known bool) zap.Field {
	if !known {
		return zap.Float64p(key, nil)
	}
	return zap.Float64(key, round3(f))
}

func logDecision(log *zap.Logger, level zapcore.Level, d policy.Decision, s policy.StreamState, leading, historyRead, dryRun bool) {
	ce := log.Check(level, "cycle")
	if ce == nil {
		return
	}
	u, known := d.Utilisation, d.Trigger != nil
	callsLeft := zap.Skip() // unknown until the history is read
	if historyRead {
		callsLeft = zap.Int("calls_left", d.CallsLeft)
	}
	ce.Write(
		zap.Int("shards", s.OpenShards),
		zap.String("status", string(s.Status)),
		utilisationField("write_bytes_util", u.WriteBytes, known),
		utilisationField("write_records_util", u.WriteRecords, known),
		utilisationField("read_bytes_util", u.ReadBytes, known),
		zap.Bool("throttled", d.Throttled),
		zap.String("decision", string(d.Direction)),
		zap.Int("target", d.Target),
		callsLeft,
		zap.String("role", roleName(leading)),
		zap.Bool("dry_run", dryRun),
		zap.String("reason", d.Reason),
	)
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }
