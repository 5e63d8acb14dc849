package policy

import (
	"cmp"
	"math/big"
	"slices"
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

// halvingSlack is the relative rounding a halving's widths allow: AWS cuts
// an even layout at whole hash keys, so its shards differ by a key or two.
const halvingSlack = 1e-6

// HalvingMerge picks the next merge of a halving to `to` shards among the
// stream's open shards: the first two neighbours in hash-key order that are
// each no wider than half of one of `to` even shards and together no wider
// than one. ok is false when no such pair is left: the halving is done, or
// the layout is not one it can finish (a shard of another width between
// them), and the controller then stops it.
func HalvingMerge(shards []OpenShard, to int) (a, b OpenShard, ok bool) {
	if to < 1 || len(shards) < 2 {
		return OpenShard{}, OpenShard{}, false
	}
	sorted := slices.Clone(shards)
	slices.SortFunc(sorted, func(x, y OpenShard) int { return cmp.Compare(x.Range.Lo, y.Range.Lo) })
	full := 1 / float64(to) * (1 + halvingSlack)
	for i := 0; i+1 < len(sorted); i++ {
		x, y := sorted[i], sorted[i+1]
		adjacent := x.EndingHashKey != nil && y.StartingHashKey != nil &&
			new(big.Int).Add(x.EndingHashKey, big.NewInt(1)).Cmp(y.StartingHashKey) == 0
		if adjacent && x.Range.Width() <= full/2 && y.Range.Width() <= full/2 && x.Range.Width()+y.Range.Width() <= full {
			return x, y, true
		}
	}
	return OpenShard{}, OpenShard{}, false
}
