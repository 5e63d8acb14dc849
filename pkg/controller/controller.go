// Package controller runs the autoscaling loop: one cycle reads the load of
// every stream, reads each stream's state, asks the policy, acts and alerts.
//
// It declares the narrow interfaces it consumes; the AWS adapters in
// pkg/metrics, pkg/stream and pkg/notify satisfy them, and so does the
// simulator in pkg/sim, so that both run exactly this code.
package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

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

// HistoryStore keeps each stream's scaling history where it survives a
// restart.
type HistoryStore interface {
	LoadHistory(ctx context.Context, stream string) (policy.History, error)
	SaveHistory(ctx context.Context, stream string, h policy.History) error
}

// Notifier tells people about an alert.
type Notifier interface {
	Notify(ctx context.Context, a policy.Alert) error
}

// Clock tells the time; the daemon uses the wall clock, the simulator its own.
type Clock interface {
	Now() time.Time
}

// StreamSpec is one managed stream.
type StreamSpec struct {
	Name     string
	Settings policy.Settings
	// Policy decides for the stream; nil means policy.Threshold{Settings}.
	Policy policy.Policy
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
}

// Deps are the parts the loop talks to.
type Deps struct {
	Load     LoadReader
	Streams  Streams
	History  HistoryStore
	Notifier Notifier
	Clock    Clock
}

// QuotaRefusalBackoff is how long a stream whose UpdateShardCount AWS refused
// as over quota is not asked again: AWS does not say when a call frees up.
const QuotaRefusalBackoff = time.Hour

// Controller runs cycles over a fixed set of streams.
type Controller struct {
	specs []StreamSpec
	deps  Deps
	opts  Options
	log   *zap.Logger
	state map[string]*streamState
	// daemon-wide alert episodes (failed metric reads)
	daemon episodes
}

// New returns a controller for the streams.
func New(specs []StreamSpec, deps Deps, opts Options, log *zap.Logger) *Controller {
	c := &Controller{specs: specs, deps: deps, opts: opts, log: log, state: map[string]*streamState{}}
	for i := range c.specs {
		if c.specs[i].Policy == nil {
			c.specs[i].Policy = policy.Threshold{Settings: c.specs[i].Settings}
		}
		c.state[c.specs[i].Name] = &streamState{}
	}
	return c
}

// Outcome is what one cycle did for one stream.
type Outcome struct {
	Stream   string
	Decision policy.Decision
	// Acted is true when UpdateShardCount was called and accepted.
	Acted bool
	// Err is the first error met for the stream, nil if none.
	Err error
}

// Run runs a cycle at once and then one every PollInterval until ctx is done.
func (c *Controller) Run(ctx context.Context) error {
	t := time.NewTicker(c.opts.PollInterval)
	defer t.Stop()
	for {
		c.RunCycle(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RunCycle runs one cycle over every stream and reports what it did.
func (c *Controller) RunCycle(ctx context.Context) []Outcome {
	now := c.deps.Clock.Now()
	started := time.Now()
	names := make([]string, len(c.specs))
	var lookback time.Duration
	for i, s := range c.specs {
		names[i] = s.Name
		lookback = max(lookback, s.Settings.Lookback())
	}
	end := now.Truncate(time.Minute)
	loads, err := c.deps.Load.ReadLoad(ctx, names, end.Add(-lookback), end)
	if err != nil {
		c.log.Warn("read stream metrics", zap.Error(err), zap.Int("streams", len(names)))
		if c.daemon.start(policy.AlertAWSError, now, c.opts.DedupWindow) {
			c.notify(ctx, policy.Alert{Kind: policy.AlertAWSError, Stream: "all streams", At: now,
				Err:  fmt.Sprintf("read CloudWatch metrics: %v", err),
				Next: "no stream is scaled down while its metrics are unknown; the next cycle reads them again"})
		}
	} else {
		c.daemon.end(policy.AlertAWSError)
	}

	out := make([]Outcome, 0, len(c.specs))
	for _, spec := range c.specs {
		if ctx.Err() != nil {
			break
		}
		out = append(out, c.cycleStream(ctx, spec, loads[spec.Name], now))
	}
	c.log.Debug("cycle done", zap.Int("streams", len(out)), zap.Duration("took", time.Since(started)))
	return out
}

// cycleStream observes, decides and acts for one stream.
func (c *Controller) cycleStream(ctx context.Context, spec StreamSpec, minutes []policy.Minute, now time.Time) Outcome {
	st := c.state[spec.Name]
	o := Outcome{Stream: spec.Name}
	log := c.log.With(zap.String("stream", spec.Name))

	if !st.loaded {
		h, err := c.deps.History.LoadHistory(ctx, spec.Name)
		if err != nil {
			o.Err = fmt.Errorf("load scaling history of %q: %w", spec.Name, err)
			c.awsError(ctx, st, spec.Name, now, o.Err, log)
			return o
		}
		st.history, st.loaded = h, true
	}
	state, err := c.deps.Streams.Describe(ctx, spec.Name)
	if err != nil {
		o.Err = fmt.Errorf("describe stream %q: %w", spec.Name, err)
		c.awsError(ctx, st, spec.Name, now, o.Err, log)
		return o
	}
	st.alerts.end(policy.AlertAWSError)
	st.observe(state, now)

	obs := policy.Observation{
		Stream: spec.Name, Now: now, OpenShards: state.OpenShards, Status: state.Status, Mode: state.Mode,
		Minutes: st.withShards(minutes), History: st.history,
	}
	d := spec.Policy.Decide(obs)
	o.Decision = d
	if state.Mode == policy.ModeOnDemand {
		if !st.onDemandLogged {
			log.Info("stream is ON_DEMAND: left alone", zap.String("mode", string(state.Mode)))
			st.onDemandLogged = true
		}
		return o
	}
	st.onDemandLogged = false
	logDecision(log, d, state)

	c.conditionAlert(ctx, st, d, d.Throttled, policy.AlertThrottling, now,
		"the policy treats throttled minutes as at least 100 % utilisation and scales up when the threshold rules allow")
	c.conditionAlert(ctx, st, d, d.AtMax, policy.AlertAtMaxShards, now,
		"raise max_shards for this stream if the load is expected; the daemon will not exceed it")
	refused := !st.quotaRefusedAt.IsZero() && now.Before(st.quotaRefusedAt.Add(QuotaRefusalBackoff))
	if refused && d.Scales() {
		d.Reason += fmt.Sprintf("; not calling: AWS refused the last call as over quota at %s, next try after %s",
			st.quotaRefusedAt.UTC().Format(time.RFC3339), st.quotaRefusedAt.Add(QuotaRefusalBackoff).UTC().Format(time.RFC3339))
		d.Direction, d.Target = policy.DirectionNone, d.Current
		o.Decision = d
	}
	c.conditionAlert(ctx, st, d, d.QuotaExhausted || refused, policy.AlertQuotaExhausted, now,
		"the daemon scales up again as soon as a call is free; SplitShard is not under this quota if you must act by hand")

	if !d.Scales() {
		st.alerts.end(policy.AlertWouldScale)
		return o
	}
	if c.opts.DryRun {
		if st.alerts.start(policy.AlertWouldScale, now, c.opts.DedupWindow) {
			c.notify(ctx, policy.Alert{Kind: policy.AlertWouldScale, Stream: spec.Name, At: now, Decision: d, DryRun: true,
				Next: "dry run: nothing was changed; turn dry_run off to let the daemon act"})
		}
		return o
	}
	o.Acted, o.Err = c.act(ctx, st, d, now, log)
	return o
}

// act records the action, calls UpdateShardCount and alerts. The action is
// recorded before the call so that a crash between the two never forgets a
// call that may have been made; a definite refusal takes the record back.
func (c *Controller) act(ctx context.Context, st *streamState, d policy.Decision, now time.Time, log *zap.Logger) (bool, error) {
	// A requested reshard is finished on our side even when shutdown begins.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()

	before := st.history
	st.history = before.Record(policy.Action{At: now, From: d.Current, To: d.Target, Direction: d.Direction})
	if err := c.deps.History.SaveHistory(ctx, d.Stream, st.history); err != nil {
		log.Warn("save scaling history before reshard", zap.Error(err))
	}
	err := c.deps.Streams.UpdateShardCount(ctx, d.Stream, d.Target)
	if err == nil {
		st.pending = &policy.Action{At: now, From: d.Current, To: d.Target, Direction: d.Direction}
		kind := policy.AlertScaledUp
		if d.Direction == policy.DirectionDown {
			kind = policy.AlertScaledDown
		}
		log.Info("reshard requested", zap.Int("from", d.Current), zap.Int("to", d.Target))
		c.notify(ctx, policy.Alert{Kind: kind, Stream: d.Stream, At: now, Decision: d,
			Next: fmt.Sprintf("the stream is UPDATING until AWS finishes the reshard (usually minutes); %d UpdateShardCount calls are left in the rolling 24 h", max(d.CallsLeft-1, 0))})
		return true, nil
	}
	err = fmt.Errorf("update shard count of %q to %d: %w", d.Stream, d.Target, err)
	log.Warn("reshard failed", zap.Error(err))
	switch {
	case errors.Is(err, policy.ErrStreamBusy):
		// Refused without effect: the stream is already changing.
		st.history = before
		c.saveHistory(ctx, d.Stream, before, log)
		return false, err
	case errors.Is(err, policy.ErrQuotaExceeded):
		// AWS counts calls we did not see (another tool, or a restart without
		// state). The refused call is not one; back off and say so once per
		// episode.
		st.history = before
		c.saveHistory(ctx, d.Stream, before, log)
		st.quotaRefusedAt = now
		if st.alerts.start(policy.AlertQuotaExhausted, now, c.opts.DedupWindow) {
			c.notify(ctx, policy.Alert{Kind: policy.AlertQuotaExhausted, Stream: d.Stream, At: now, Decision: d, Err: err.Error(),
				Next: "AWS refused the call: the stream's UpdateShardCount quota is spent; the daemon does not retry until the rolling window frees a call"})
		}
		return false, err
	case errors.Is(err, policy.ErrInvalidTarget), errors.Is(err, policy.ErrStreamNotFound):
		st.history = before
		c.saveHistory(ctx, d.Stream, before, log)
	}
	c.notify(ctx, policy.Alert{Kind: policy.AlertScaleFailed, Stream: d.Stream, At: now, Decision: d, Err: err.Error(),
		Next: "the shard count is unchanged as far as the daemon knows; the next cycle decides again"})
	return false, err
}

func (c *Controller) saveHistory(ctx context.Context, stream string, h policy.History, log *zap.Logger) {
	if err := c.deps.History.SaveHistory(ctx, stream, h); err != nil {
		log.Warn("save scaling history", zap.Error(err))
	}
}

// conditionAlert sends kind once per episode while on holds.
func (c *Controller) conditionAlert(ctx context.Context, st *streamState, d policy.Decision, on bool, kind policy.AlertKind, now time.Time, next string) {
	if !on {
		st.alerts.end(kind)
		return
	}
	if st.alerts.start(kind, now, c.opts.DedupWindow) {
		c.notify(ctx, policy.Alert{Kind: kind, Stream: d.Stream, At: now, Decision: d, DryRun: c.opts.DryRun, Next: next})
	}
}

func (c *Controller) awsError(ctx context.Context, st *streamState, stream string, now time.Time, err error, log *zap.Logger) {
	log.Warn("stream skipped this cycle", zap.Error(err))
	if st.alerts.start(policy.AlertAWSError, now, c.opts.DedupWindow) {
		c.notify(ctx, policy.Alert{Kind: policy.AlertAWSError, Stream: stream, At: now, Err: err.Error(),
			Next: "the stream is left as it is; the next cycle tries again"})
	}
}

func (c *Controller) notify(ctx context.Context, a policy.Alert) {
	if err := c.deps.Notifier.Notify(ctx, a); err != nil {
		c.log.Warn("send alert", zap.String("stream", a.Stream), zap.String("event", string(a.Kind)), zap.Error(err))
	}
}

func logDecision(log *zap.Logger, d policy.Decision, s policy.StreamState) {
	u := d.Utilisation
	log.Info("cycle",
		zap.Int("shards", s.OpenShards),
		zap.String("status", string(s.Status)),
		zap.Float64("write_bytes_util", round3(u.WriteBytes)),
		zap.Float64("write_records_util", round3(u.WriteRecords)),
		zap.Float64("read_bytes_util", round3(u.ReadBytes)),
		zap.Bool("throttled", d.Throttled),
		zap.String("decision", string(d.Direction)),
		zap.Int("target", d.Target),
		zap.Int("calls_left", d.CallsLeft),
		zap.String("reason", d.Reason),
	)
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }
