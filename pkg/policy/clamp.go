package policy

import (
	"math"
	"slices"
	"time"
)

// MaxShardCount is the largest shard count a computation of the policy
// returns. Load far beyond any stream (a metric of 1e25 records a minute)
// asks for this many shards, and max_shards then caps it, rather than
// overflow to a negative count that would hold the stream where it is.
const MaxShardCount = 1 << 30

// MaxClockSkew is how far in the future a recorded UpdateShardCount call may
// lie and still count against the quota: another replica's clock, or the
// clock of the host that wrote the record, may run ahead of this one.
const MaxClockSkew = 10 * time.Minute

// ceilShards is the least whole shard count not below f, kept within
// [1, MaxShardCount]: NaN and anything below 1 give 1, anything beyond
// MaxShardCount (infinity included) gives MaxShardCount. Every conversion
// of a computed shard count to an int goes through it.
func ceilShards(f float64) int {
	switch {
	case math.IsNaN(f) || f <= 1:
		return 1
	case f >= MaxShardCount:
		return MaxShardCount
	}
	return int(math.Ceil(f))
}

// oneAMinute returns the minutes sorted by start with one minute per
// minute: minutes whose starts fall in the same minute are merged into one,
// keeping the highest of each figure, so that a minute read twice can
// neither fill a gap in a window nor hide load.
func oneAMinute(ms []Minute) []Minute {
	if len(ms) < 2 {
		return ms
	}
	out := slices.Clone(ms)
	for i := range out {
		out[i].Start = out[i].Start.Truncate(time.Minute)
	}
	slices.SortStableFunc(out, func(a, b Minute) int { return a.Start.Compare(b.Start) })
	merged := out[:1]
	for _, m := range out[1:] {
		last := &merged[len(merged)-1]
		if !m.Start.Equal(last.Start) {
			merged = append(merged, m)
			continue
		}
		last.Known = last.Known && m.Known
		last.IncomingBytes = max(last.IncomingBytes, m.IncomingBytes)
		last.IncomingRecords = max(last.IncomingRecords, m.IncomingRecords)
		last.ReadBytes = max(last.ReadBytes, m.ReadBytes)
		last.HasReadBytes = last.HasReadBytes || m.HasReadBytes
		last.WriteThrottled = max(last.WriteThrottled, m.WriteThrottled)
		last.ReadThrottled = max(last.ReadThrottled, m.ReadThrottled)
		last.IteratorAge = max(last.IteratorAge, m.IteratorAge)
		last.HasIteratorAge = last.HasIteratorAge || m.HasIteratorAge
		last.Shards = max(last.Shards, m.Shards)
	}
	return merged
}
