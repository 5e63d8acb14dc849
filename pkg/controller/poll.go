package controller

import (
	"context"
	"math"
	"time"

	"go.uber.org/zap"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// WriteLoadReader is a LoadReader that can also read the write-side metrics
// alone (policy.WriteMetricsPerStream per stream), for streams whose
// consumers were never seen. The controller uses it when Load has it.
type WriteLoadReader interface {
	ReadWriteLoad(ctx context.Context, streams []string, start, end time.Time) (map[string][]policy.Minute, error)
}

// WatchLoadReader is a LoadReader that can also make watch reads
// (policy.WatchMetricsPerStream per stream): one load metric, IncomingRecords
// when records is true, else IncomingBytes, and the write refusals; the
// minutes' other load metric is left at 0. The controller uses it when Load
// has it, for streams whose consumers were never seen and whose record size
// a full read measured recently (policy.PollMemory.Watch).
type WatchLoadReader interface {
	ReadWatchLoad(ctx context.Context, streams []string, records bool, start, end time.Time) (map[string][]policy.Minute, error)
}

// pollState is what the poll scheduler keeps of a stream: the minutes of its
// last read, which the cycles until its next read decide on, and when the
// rule (policy.NextRead) says it must be read again.
type pollState struct {
	minutes []policy.Minute
	next    time.Time
	// readSideAt is when the read-side metrics were last asked for.
	readSideAt time.Time
	memory     policy.PollMemory
	reason     string
	// readAt is the cycle time of the last read, and shards the open shards
	// its plan assumed.
	readAt time.Time
	shards int
}

// readScheduled is the cycle's metrics read under the poll schedule: it
// reads the streams that are due (policy.NextRead; every shard-level stream,
// whose shard metrics are read every cycle), the read-side metrics only of
// streams whose consumers were seen or whose recheck is due, one load metric
// only (a watch read, policy.PollMemory.Watch) where the stream's record size
// was measured recently, and gives the others the minutes of their last read.
// GetMetricData bills per metric asked for, whatever the window, so a stream
// read every 5 minutes costs a fifth and misses no minute: each read asks for
// the whole window. With PollEveryCycle it is readLoad.
func (c *Controller) readScheduled(ctx context.Context, names []string, shards map[string][]string, start, end, now time.Time) (map[string][]policy.Minute, error) {
	if c.opts.PollEveryCycle {
		return c.readLoad(ctx, names, shards, start, end)
	}
	poll := c.opts.Poll.OrDefault()
	partial, canPartial := c.deps.Load.(WriteLoadReader)
	watcher, canWatch := c.deps.Load.(WatchLoadReader)
	var full, writeOnly []string
	// watch[true] are the streams whose watch read asks for IncomingRecords,
	// watch[false] those asking for IncomingBytes.
	watch := map[bool][]string{}
	for _, name := range names {
		st := c.state[name]
		if st == nil {
			continue
		}
		p := &st.poll
		if _, shardLevel := shards[name]; !shardLevel && !p.due(now) {
			continue
		}
		readSide := !canPartial || st.consumersSeen(nil, now) || now.Sub(p.readSideAt) >= poll.ConsumerRecheck
		if _, shardLevel := shards[name]; readSide || shardLevel {
			full = append(full, name)
			continue
		}
		if ok, records := p.memory.Watch(poll, now); ok && canWatch {
			watch[records] = append(watch[records], name)
			continue
		}
		writeOnly = append(writeOnly, name)
	}
	read := map[string][]policy.Minute{}
	if len(full) > 0 || len(shards) > 0 {
		loads, err := c.readLoad(ctx, full, shards, start, end)
		if err != nil {
			return nil, err
		}
		for _, name := range full {
			p := &c.state[name].poll
			p.readSideAt = now
			p.memory.Measure(loads[name], now)
			read[name] = loads[name]
		}
	}
	if len(writeOnly) > 0 {
		loads, err := partial.ReadWriteLoad(ctx, writeOnly, start, end)
		if err != nil {
			return nil, err
		}
		for _, name := range writeOnly {
			c.state[name].poll.memory.Measure(loads[name], now)
			read[name] = loads[name]
		}
	}
	for _, records := range []bool{false, true} {
		if len(watch[records]) == 0 {
			continue
		}
		loads, err := watcher.ReadWatchLoad(ctx, watch[records], records, start, end)
		if err != nil {
			return nil, err
		}
		for _, name := range watch[records] {
			read[name] = policy.FillWatched(loads[name], c.state[name].poll.memory, records)
		}
	}
	settings := map[string]policy.Settings{}
	for _, s := range c.specs {
		settings[s.Name] = s.Settings
	}
	out := make(map[string][]policy.Minute, len(names))
	for _, name := range names {
		st := c.state[name]
		if st == nil {
			continue
		}
		p := &st.poll
		if ms, ok := read[name]; ok {
			p.minutes, p.readAt, p.shards = ms, now, st.lastShards()
			plan := policy.NextRead(st.withShards(ms), p.shards, settings[name], poll, p.memory, now)
			p.next, p.memory, p.reason = plan.Next, plan.Memory, plan.Reason
			c.log.Debug("metrics read", zap.String("stream", name), zap.String("next_read", plan.Reason))
		}
		out[name] = window(p.minutes, start, end)
	}
	return out, nil
}

// due is whether the schedule reads the stream in the cycle at now: it was
// never read, or its next read has come.
func (p *pollState) due(now time.Time) bool {
	return p.minutes == nil || !now.Before(p.next)
}

// readTime is when the minutes the cycle at now decides on were read: the
// learner (policy.Learned.Feed) takes only minutes settled by then, so that a
// minute CloudWatch had not yet published at that read is learnt from a
// later read, not taken as unknown. Without a read of the schedule's
// (PollEveryCycle) it is now.
func (p *pollState) readTime(now time.Time) time.Time {
	if p.readAt.IsZero() || p.readAt.After(now) {
		return now
	}
	return p.readAt
}

// readFresh reads a stream that the poll schedule left unread this cycle
// (its decision saw the minutes of an earlier read), for a decision to scale
// it down: a scale-down is decided on the newest minutes, as with one read a
// minute, never on minutes up to MaxInterval old. It reports whether it read.
func (c *Controller) readFresh(ctx context.Context, name string, now time.Time) ([]policy.Minute, bool, error) {
	st := c.state[name]
	if c.opts.PollEveryCycle || st == nil || st.poll.readAt.Equal(now) || !c.readTo.After(c.readFrom) {
		return nil, false, nil
	}
	st.poll.next = time.Time{}
	callCtx, cancel := c.callContext(ctx, 4)
	defer cancel()
	loads, err := c.readScheduled(callCtx, []string{name}, nil, c.readFrom, c.readTo, now)
	if err != nil {
		return nil, false, err
	}
	return loads[name], true, nil
}

// window is the minutes of [start, end) from those of an earlier read:
// minutes the read did not cover are unknown.
func window(ms []policy.Minute, start, end time.Time) []policy.Minute {
	if len(ms) > 0 && ms[0].Start.Equal(start) && len(ms) == int(end.Sub(start)/time.Minute) {
		return ms
	}
	out := make([]policy.Minute, 0, max(int(end.Sub(start)/time.Minute), 0))
	i := 0
	for t := start; t.Before(end); t = t.Add(time.Minute) {
		for i < len(ms) && ms[i].Start.Before(t) {
			i++
		}
		if i < len(ms) && ms[i].Start.Equal(t) {
			out = append(out, ms[i])
			continue
		}
		out = append(out, policy.Minute{Start: t})
	}
	return out
}

// lastShards is the open shard count last seen, 0 before the first look.
func (s *streamState) lastShards() int {
	if len(s.spans) == 0 {
		return 0
	}
	return s.spans[len(s.spans)-1].shards
}

// ReadPlan is when a stream must next be read and what each read asks for.
type ReadPlan struct {
	// Interval is the time to the next read, at least the poll interval.
	Interval time.Duration
	Reason   string
	// Metrics is how many metrics the next read of the stream asks for:
	// policy.WriteMetricsPerStream, plus policy.ReadMetricsPerStream where
	// consumers were seen or their recheck is due (or the reader cannot leave
	// them out), or policy.WatchMetricsPerStream for a watch read.
	Metrics int
	// MetricsPerHour is what reads at Interval ask for in an hour: Metrics
	// each, and the reads in full that come between them (the read side's
	// recheck every ConsumerRecheck, the write side's every FullRecheck).
	MetricsPerHour float64
}

// PlanRead is the stream's read plan at now from the minutes of its last
// read and the shards last seen (policy.NextRead), for the status command;
// ok is false for a stream not read yet.
func (c *Controller) PlanRead(stream string, now time.Time) (plan ReadPlan, ok bool) {
	st := c.state[stream]
	if st == nil || st.poll.minutes == nil {
		return ReadPlan{}, false
	}
	var settings policy.Settings
	for _, s := range c.specs {
		if s.Name == stream {
			settings = s.Settings
		}
	}
	next := policy.NextRead(st.withShards(st.poll.minutes), st.lastShards(), settings, c.opts.Poll, st.poll.memory, now)
	plan = ReadPlan{Interval: max(next.Next.Sub(now), c.opts.PollInterval), Reason: next.Reason, Metrics: policy.MetricsPerStream}
	if c.opts.PollEveryCycle {
		plan.Interval, plan.Reason = c.opts.PollInterval, "every cycle (poll every cycle is on)"
	}
	poll, at := c.opts.Poll.OrDefault(), now.Add(plan.Interval)
	if _, partial := c.deps.Load.(WriteLoadReader); partial && !c.opts.PollEveryCycle && !st.consumersSeen(nil, at) && at.Sub(st.poll.readSideAt) < poll.ConsumerRecheck {
		plan.Metrics = policy.WriteMetricsPerStream
		if _, watch := c.deps.Load.(WatchLoadReader); watch {
			if ok, _ := st.poll.memory.Watch(poll, at); ok {
				plan.Metrics = policy.WatchMetricsPerStream
			}
		}
	}
	reads := float64(time.Hour) / float64(plan.Interval)
	plan.MetricsPerHour = reads * float64(plan.Metrics)
	if plan.Metrics < policy.MetricsPerStream {
		// Each recheck is one of the reads, asking for more.
		sides := math.Min(reads, float64(time.Hour)/float64(poll.ConsumerRecheck))
		plan.MetricsPerHour += sides * float64(policy.MetricsPerStream-plan.Metrics)
		if plan.Metrics == policy.WatchMetricsPerStream {
			writes := math.Max(math.Min(reads, float64(time.Hour)/float64(poll.FullRecheck))-sides, 0)
			plan.MetricsPerHour += writes * float64(policy.WriteMetricsPerStream-plan.Metrics)
		}
	}
	return plan, true
}
