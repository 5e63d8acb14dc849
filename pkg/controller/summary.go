package controller

import (
	"errors"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// CycleSummary counts what one cycle did over every stream: the daemon logs
// it once a cycle, and `run --once` prints it and decides its exit status
// from it.
type CycleSummary struct {
	// Streams is how many streams the cycle managed.
	Streams int
	// Actions is how many changes AWS accepted (UpdateShardCount, SplitShard,
	// MergeShards); WouldAct is how many a dry run would have made.
	Actions, WouldAct int
	// Deferred is how many streams' actions were left to the next cycle
	// because the cycle ran out of time.
	Deferred int
	// Errors is how many streams met an AWS error other than a busy stream
	// (they could not be observed, or their action failed).
	Errors int
	// Leading is true when this replica could act; DryRun when nothing may
	// change.
	Leading, DryRun bool
	// LoadErr is the error of reading the streams' metrics, nil if none.
	LoadErr error
	// Took is how long the cycle ran.
	Took time.Duration
}

// Summarise counts the outcomes of a cycle.
func Summarise(r CycleReport, out []Outcome, dryRun bool) CycleSummary {
	s := CycleSummary{Streams: len(out), Leading: r.Leading, DryRun: dryRun, LoadErr: r.LoadErr, Took: r.Took}
	count := func(res Result) {
		switch res {
		case ResultRequested:
			s.Actions++
		case ResultDryRun:
			s.WouldAct++
		case ResultDeferred:
			s.Deferred++
		}
	}
	for _, o := range out {
		count(o.Result)
		if o.Shards != nil {
			count(o.Shards.Result)
		}
		if o.Err != nil && !errors.Is(o.Err, policy.ErrStreamBusy) || o.Result == ResultFailed {
			s.Errors++
		}
	}
	return s
}

// Acting is true when the cycle changed something, would have in a dry
// run, left a change to the next cycle or met an error: a cycle worth a
// line when the log keeps only those (log.only_acting).
func (s CycleSummary) Acting() bool {
	return s.Actions > 0 || s.WouldAct > 0 || s.Deferred > 0 || s.Errors > 0 || s.LoadErr != nil
}

// MarshalLogObject writes the summary as the fields of a log line.
func (s CycleSummary) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddInt("streams", s.Streams)
	enc.AddInt("actions", s.Actions)
	enc.AddInt("would_act", s.WouldAct)
	enc.AddInt("deferred", s.Deferred)
	enc.AddInt("errors", s.Errors)
	enc.AddBool("metrics_read", s.LoadErr == nil)
	enc.AddString("role", roleName(s.Leading))
	enc.AddBool("dry_run", s.DryRun)
	enc.AddDuration("took", s.Took)
	return nil
}

// logSummary writes the cycle's one summary line: at info, or, with
// LogOnlyActing, only for a cycle that acted (at debug otherwise).
func (c *Controller) logSummary(s CycleSummary) {
	level := zapcore.InfoLevel
	if c.opts.LogOnlyActing && !s.Acting() {
		level = zapcore.DebugLevel
	}
	if ce := c.log.Check(level, "cycle summary"); ce != nil {
		ce.Write(zap.Inline(s))
	}
}

// decisionLevel is the level of a stream's per-cycle line: info, or, with
// LogOnlyActing, debug for a stream whose decision does not act.
func (c *Controller) decisionLevel(d policy.Decision) zapcore.Level {
	if c.opts.LogOnlyActing && !d.Scales() {
		return zapcore.DebugLevel
	}
	return zapcore.InfoLevel
}

// shardLineLevel is the level of a shard-level stream's per-cycle line: info,
// or, with LogOnlyActing, debug when the shard level asks for nothing.
func (c *Controller) shardLineLevel(actions []policy.ShardAction) zapcore.Level {
	if c.opts.LogOnlyActing && len(actions) == 0 {
		return zapcore.DebugLevel
	}
	return zapcore.InfoLevel
}

func roleName(leading bool) string {
	if leading {
		return "leader"
	}
	return "standby"
}
