package sim

import (
	"fmt"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// ShardMinute is one shard's figures for one minute, what CloudWatch's
// enhanced shard-level metrics (dimension ShardId) show: records and bytes
// accepted, every refused attempt, and new records refused at first try.
// Shards of a group share its figures evenly, so counts may be fractional.
type ShardMinute struct {
	ShardID string
	// Range is the shard's hash-key range as fractions of the key space.
	Range     policy.KeyRange
	Records   float64
	Bytes     float64
	Refused   float64
	Throttled float64
}

// shardFigures collects per-shard figures: per group since the last flush,
// per shard since the start of the minute.
type shardFigures struct {
	group  []Second
	shards map[int]*ShardMinute
	order  []int
}

func (f *shardFigures) regroup(n int) { f.group = make([]Second, n) }

func (f *shardFigures) add(gi int, before, after Second) {
	g := &f.group[gi]
	g.Accepted += after.Accepted - before.Accepted
	g.AcceptedBytes += after.AcceptedBytes - before.AcceptedBytes
	g.Refused += after.Refused - before.Refused
	g.Throttled += after.Throttled - before.Throttled
}

// TrackShards makes the stream collect per-shard figures every minute (see
// ShardMinutes); it costs a little time, so only the shard-level policy
// asks for it.
func (s *Stream) TrackShards() {
	s.shardFigures = &shardFigures{shards: map[int]*ShardMinute{}}
	s.shardFigures.regroup(len(s.groups))
}

// flushShards moves the groups' figures to their shards.
func (s *Stream) flushShards() {
	f := s.shardFigures
	if f == nil || len(s.groups) == 0 {
		return
	}
	lo := 0.0
	for j, w := range s.widths {
		hi := lo + w
		if j == len(s.widths)-1 {
			hi = 1
		}
		id := s.ids[j]
		m, ok := f.shards[id]
		if !ok {
			m = &ShardMinute{ShardID: ShardID(id), Range: policy.KeyRange{Lo: lo, Hi: hi}}
			f.shards[id] = m
			f.order = append(f.order, id)
		}
		g := f.group[s.member[j]]
		n := float64(s.groups[s.member[j]].shards)
		m.Records += float64(g.Accepted) / n
		m.Bytes += g.AcceptedBytes / n
		m.Refused += float64(g.Refused) / n
		m.Throttled += float64(g.Throttled) / n
		lo = hi
	}
	clear(f.group)
}

// ShardMinutes returns the figures of every shard open at some time since
// the last call, in the order they were first seen, and starts a new
// minute. It returns nil unless TrackShards was called.
func (s *Stream) ShardMinutes() []ShardMinute {
	f := s.shardFigures
	if f == nil {
		return nil
	}
	s.flushShards()
	out := make([]ShardMinute, 0, len(f.order))
	for _, id := range f.order {
		out = append(out, *f.shards[id])
	}
	clear(f.shards)
	f.order = f.order[:0]
	return out
}

// OpenShardRanges returns the open shards' ids and hash-key ranges in
// hash-key order.
func (s *Stream) OpenShardRanges() ([]string, []policy.KeyRange) {
	ids := make([]string, len(s.ids))
	ranges := make([]policy.KeyRange, len(s.widths))
	lo := 0.0
	for j, w := range s.widths {
		hi := lo + w
		if j == len(s.widths)-1 {
			hi = 1
		}
		ids[j], ranges[j] = ShardID(s.ids[j]), policy.KeyRange{Lo: lo, Hi: hi}
		lo = hi
	}
	return ids, ranges
}

// ShardID names the simulated shard n as Kinesis names shards.
func ShardID(n int) string { return fmt.Sprintf("shardId-%012d", n) }

// ShardCloudWatch is the per-shard view of simulated CloudWatch: each
// finished minute's per-shard figures, shown Delay after the minute ends,
// as enhanced shard-level monitoring publishes them. It keeps the last
// Keep minutes.
type ShardCloudWatch struct {
	start time.Time
	delay time.Duration
	clock *Clock
	keep  int
	// first is the index (from the start) of minutes[0].
	first   int
	minutes [][]ShardMinute
}

// NewShardCloudWatch returns the per-shard view for a trace that starts at
// start, keeping the last keep minutes.
func NewShardCloudWatch(start time.Time, delay time.Duration, clock *Clock, keep int) *ShardCloudWatch {
	return &ShardCloudWatch{start: start, delay: delay, clock: clock, keep: max(keep, 1)}
}

// Put records the per-shard figures of the next finished minute.
func (cw *ShardCloudWatch) Put(ms []ShardMinute) {
	cw.minutes = append(cw.minutes, ms)
	if drop := len(cw.minutes) - cw.keep; drop > cw.keep {
		cw.minutes = append(cw.minutes[:0], cw.minutes[drop:]...)
		cw.first += drop
	}
}

// Read returns, for each shard id, its minutes in [from, now) that
// CloudWatch has published by now, oldest first; a minute in which a shard
// was not open has no entry.
func (cw *ShardCloudWatch) Read(from time.Time) map[string][]policy.ShardMinute {
	out := map[string][]policy.ShardMinute{}
	cw.read(from, out)
	return out
}

// read is Read into out, reusing the memory of its slices: it empties them
// and drops the shards with no minute. The shard-level loop reads every
// minute, so this saves most of the allocation.
func (cw *ShardCloudWatch) read(from time.Time, out map[string][]policy.ShardMinute) {
	for id, ms := range out {
		out[id] = ms[:0]
	}
	now := cw.clock.Now()
	span := int(now.Sub(from)/time.Minute) + 1
	for t := from.Truncate(time.Minute); !t.Add(time.Minute + cw.delay).After(now); t = t.Add(time.Minute) {
		i := int(t.Sub(cw.start)/time.Minute) - cw.first
		if t.Before(cw.start) || i < 0 || i >= len(cw.minutes) {
			continue
		}
		for _, m := range cw.minutes[i] {
			ms, ok := out[m.ShardID]
			if !ok {
				ms = make([]policy.ShardMinute, 0, max(span, 1))
			}
			out[m.ShardID] = append(ms, policy.ShardMinute{
				Start: t, Known: true, IncomingRecords: m.Records, IncomingBytes: m.Bytes, WriteThrottled: m.Refused,
			})
		}
	}
	for id, ms := range out {
		if len(ms) == 0 {
			delete(out, id)
		}
	}
}
