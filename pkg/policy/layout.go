package policy

import (
	"math/big"
	"time"
)

// OpenShard is one open shard of a stream as Kinesis lists it: its id, its
// hash-key range (inclusive integer keys and as fractions of the key space)
// and the shards it came from.
type OpenShard struct {
	ID string
	// StartingHashKey and EndingHashKey are the first and last hash keys the
	// shard owns, as AWS gives them.
	StartingHashKey, EndingHashKey *big.Int
	// Range is the same range as fractions of the key space.
	Range KeyRange
	// Parent is the shard this one was split from, or the first of the two it
	// was merged from; AdjacentParent is the second of a merge. Empty when
	// not known or none.
	Parent, AdjacentParent string
}

// RangeOf is the fraction range of the inclusive hash keys [start, end]:
// [start / 2^128, (end+1) / 2^128).
func RangeOf(start, end *big.Int) KeyRange {
	space := new(big.Float).SetInt(keySpace)
	lo, _ := new(big.Float).Quo(new(big.Float).SetInt(start), space).Float64()
	next := new(big.Int).Add(end, big.NewInt(1))
	hi, _ := new(big.Float).Quo(new(big.Float).SetInt(next), space).Float64()
	return KeyRange{Lo: lo, Hi: hi}
}

// SplitRecord is what the daemon remembers of one SplitShard call it made:
// the shard split, its range, and ShardAction.Share of that split (the share
// of its own parent's load the shard had kept), which its children take as
// ShardObservation.ParentKept.
type SplitRecord struct {
	Parent string
	Range  KeyRange
	Kept   float64
}

// ShardLevelHistory is what the shard-level decision needs to remember of a
// stream across restarts: the SplitShard and MergeShards calls of the last
// 24 h (for ShardSettings.MaxCallsPerDay), the ranges found to hold a hot
// key, and the splits made, so that their children know where they came
// from.
type ShardLevelHistory struct {
	// Calls are the times of SplitShard and MergeShards calls, oldest first.
	Calls   []time.Time
	HotKeys []KeyRange
	Splits  []SplitRecord
	// Divided are the ranges in which a layout showed excess load on both
	// sides of a boundary (ObserveDivided).
	Divided []KeyRange
}

// Empty is true when the history holds nothing.
func (h ShardLevelHistory) Empty() bool {
	return len(h.Calls) == 0 && len(h.HotKeys) == 0 && len(h.Splits) == 0 && len(h.Divided) == 0
}
