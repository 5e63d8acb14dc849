package sim

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/controller"
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
// ShardMinutes); it costs a little time, so only enhanced monitoring
// (EnableEnhancedMonitoring) turns it on.
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

// ShardCloudWatch is simulated CloudWatch with enhanced shard-level
// monitoring: the stream's metrics (CloudWatch) and each finished minute's
// per-shard figures, shown Delay after the minute ends, as enhanced
// monitoring publishes them. It keeps the last Keep minutes of per-shard
// figures. It satisfies controller.ShardLoadReader, so that the daemon's
// controller reads it as it reads the metrics adapter.
type ShardCloudWatch struct {
	*CloudWatch
	keep int
	// first is the index (from the start) of minutes[0].
	first   int
	minutes [][]ShardMinute
}

var _ controller.ShardLoadReader = (*ShardCloudWatch)(nil)

// NewShardCloudWatch returns the per-shard view over the stream's
// CloudWatch cw, keeping the last keep minutes.
func NewShardCloudWatch(cw *CloudWatch, keep int) *ShardCloudWatch {
	return &ShardCloudWatch{CloudWatch: cw, keep: max(keep, 1)}
}

// PutShards records the per-shard figures of the next finished minute.
func (cw *ShardCloudWatch) PutShards(ms []ShardMinute) {
	cw.minutes = append(cw.minutes, ms)
	if drop := len(cw.minutes) - cw.keep; drop > cw.keep {
		cw.minutes = append(cw.minutes[:0], cw.minutes[drop:]...)
		cw.first += drop
	}
}

// ReadShardLoad implements controller.ShardLoadReader: the stream metrics
// of ReadLoad and, per stream and shard id asked for, one ShardMinute per
// minute in [start, end), Known when the shard was open in the minute and
// CloudWatch has published it by now.
func (cw *ShardCloudWatch) ReadShardLoad(ctx context.Context, streams []string, shards map[string][]string, start, end time.Time) (
	map[string][]policy.Minute, map[string]map[string][]policy.ShardMinute, error) {
	loads, err := cw.ReadLoad(ctx, streams, start, end)
	if err != nil {
		return nil, nil, err
	}
	out := map[string]map[string][]policy.ShardMinute{}
	ids, ok := shards[cw.stream]
	if !ok {
		return loads, out, nil
	}
	cw.metrics += int64(len(ids)) * policy.MetricsPerShard
	start = start.Truncate(time.Minute)
	n := max(int(end.Sub(start)/time.Minute), 0)
	byID := make(map[string][]policy.ShardMinute, len(ids))
	for _, id := range ids {
		ms := make([]policy.ShardMinute, n)
		for k := range ms {
			ms[k].Start = start.Add(time.Duration(k) * time.Minute)
		}
		byID[id] = ms
	}
	now := cw.clock.Now()
	for k := range n {
		t := start.Add(time.Duration(k) * time.Minute)
		i := int(t.Sub(cw.start)/time.Minute) - cw.first
		if t.Before(cw.start) || i < 0 || i >= len(cw.minutes) || t.Add(time.Minute+cw.delay).After(now) {
			continue
		}
		for _, m := range cw.minutes[i] {
			if ms, ok := byID[m.ShardID]; ok {
				ms[k] = policy.ShardMinute{Start: t, Known: true, IncomingRecords: m.Records, IncomingBytes: m.Bytes, WriteThrottled: m.Refused}
			}
		}
	}
	out[cw.stream] = byID
	return loads, out, nil
}

var _ controller.ShardStreams = (*Stream)(nil)

// ListShards implements controller.ShardStreams: the open shards in
// hash-key order, with their hash keys and the shards they came from.
func (s *Stream) ListShards(_ context.Context, stream string) ([]policy.OpenShard, error) {
	if stream != s.name {
		return nil, s.notFound(stream)
	}
	ids, ranges := s.OpenShardRanges()
	out := make([]policy.OpenShard, len(ids))
	for i, id := range ids {
		start := policy.HashKey(ranges[i].Lo)
		end := new(big.Int).Sub(policy.HashKey(ranges[i].Hi), big.NewInt(1))
		if i == len(ids)-1 {
			end = policy.HashKey(1)
		}
		p := s.parents[s.ids[i]]
		out[i] = policy.OpenShard{ID: id, StartingHashKey: start, EndingHashKey: end, Range: policy.RangeOf(start, end),
			Parent: p.parent, AdjacentParent: p.adjacent}
	}
	return out, nil
}

// shardParents are the shards a shard came from, as ListShards names them.
type shardParents struct{ parent, adjacent string }

// SplitShard implements controller.ShardStreams with AWS's rules: the open
// shard shardID is split at the hash key newStartingHashKey, which must lie
// strictly inside it.
func (s *Stream) SplitShard(_ context.Context, stream, shardID string, newStartingHashKey *big.Int) error {
	if stream != s.name {
		return s.notFound(stream)
	}
	i := s.indexOf(shardID)
	if i < 0 {
		return s.SplitShardAt(-1, 0.5)
	}
	ids, ranges := s.OpenShardRanges()
	r := ranges[i]
	at := policy.RangeOf(newStartingHashKey, newStartingHashKey).Lo
	err := s.SplitShardAt(i, (at-r.Lo)/r.Width())
	if err == nil {
		for _, child := range s.pending.ids[i : i+2] {
			s.parents[child] = shardParents{parent: ids[i]}
		}
	}
	return err
}

// MergeShards implements controller.ShardStreams with AWS's rules: shardID
// and adjacentShardID must be open and adjacent, in that order.
func (s *Stream) MergeShards(_ context.Context, stream, shardID, adjacentShardID string) error {
	if stream != s.name {
		return s.notFound(stream)
	}
	i := s.indexOf(shardID)
	if i < 0 || i+1 >= len(s.ids) || ShardID(s.ids[i+1]) != adjacentShardID {
		return s.MergeShardsIndex(-1)
	}
	err := s.MergeShardsIndex(i)
	if err == nil {
		s.parents[s.pending.ids[i]] = shardParents{parent: shardID, adjacent: adjacentShardID}
	}
	return err
}

// indexOf is the hash-key-order index of the open shard id, -1 if none.
func (s *Stream) indexOf(id string) int {
	return slices.IndexFunc(s.ids, func(n int) bool { return ShardID(n) == id })
}

// EnableEnhancedMonitoring implements controller.ShardStreams: the stream
// starts collecting per-shard figures (TrackShards); it reports whether it
// turned them on.
func (s *Stream) EnableEnhancedMonitoring(_ context.Context, stream string) (bool, error) {
	if stream != s.name {
		return false, s.notFound(stream)
	}
	if s.shardFigures != nil {
		return false, nil
	}
	s.TrackShards()
	return true, nil
}

// LoadShardHistory implements controller.ShardStreams: the shard-level
// history kept with the stream, as the daemon keeps it in its tags.
func (s *Stream) LoadShardHistory(_ context.Context, stream string) (policy.ShardLevelHistory, error) {
	if stream != s.name {
		return policy.ShardLevelHistory{}, s.notFound(stream)
	}
	return s.shardHistory, nil
}

// SaveShardHistory implements controller.ShardStreams.
func (s *Stream) SaveShardHistory(_ context.Context, stream string, h policy.ShardLevelHistory) error {
	if stream != s.name {
		return s.notFound(stream)
	}
	s.shardHistory = h
	return nil
}
