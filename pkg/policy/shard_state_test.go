package policy

import (
	"math/big"
	"testing"
	"time"
)

// openShard is an open shard over [lo, hi) named id, made by a split of
// parent when parent is set.
func openShard(id string, lo, hi float64, parent string) OpenShard {
	return OpenShard{ID: id, Range: KeyRange{Lo: lo, Hi: hi}, StartingHashKey: HashKey(lo),
		EndingHashKey: new(big.Int).Sub(HashKey(hi), big.NewInt(1)), Parent: parent}
}

func TestShardLevelStateSettlesTheProfile(t *testing.T) {
	now := shardT0.Add(30 * time.Second)
	set := shardSettings() // scale_up_after 2m
	for _, tt := range []struct {
		name string
		// childMinutes is how many minutes the new children have had.
		childMinutes int
		learnt       bool
	}{
		{name: "a child's first minute is not learnt", childMinutes: 1},
		{name: "children with scale_up_after of their own minutes are", childMinutes: 2, learnt: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := ShardLevelInput{Stream: "s", Now: now, Status: StatusActive,
				Open: []OpenShard{openShard("a", 0, 0.5, ""), openShard("b1", 0.5, 0.75, "b"), openShard("b2", 0.75, 1, "b")},
				Minutes: map[string][]ShardMinute{
					"a": shardMinutes(now, 10, 0.2), "b1": shardMinutes(now, tt.childMinutes, 0.6), "b2": shardMinutes(now, tt.childMinutes, 0.1),
				}}
			var st ShardLevelState
			st.Step(in, set)
			share, ok := profileShare(st.Profile, KeyRange{Lo: 0.5, Hi: 0.75})
			if got := ok && share > 0; got != tt.learnt {
				t.Errorf("profile %v after %d child minutes: learnt %v, want %v", st.Profile, tt.childMinutes, got, tt.learnt)
			}
			if st.Need <= 0 {
				t.Errorf("need %v: the newest layout's load is the stream's need either way", st.Need)
			}
		})
	}
}

func TestShardLevelStateHoldsScaleDown(t *testing.T) {
	now := shardT0.Add(30 * time.Second)
	s := Settings{ScaleUpThreshold: 0.75, ScaleDownThreshold: 0.25, ScaleUpAfter: 2 * time.Minute, CooldownDown: time.Hour}
	in := func(u float64) ShardLevelInput {
		return ShardLevelInput{Now: now, Open: []OpenShard{openShard("a", 0, 0.5, ""), openShard("b", 0.5, 1, "")},
			Minutes: map[string][]ShardMinute{"a": shardMinutes(now, 5, u), "b": shardMinutes(now, 5, 0.05)}}
	}
	for _, tt := range []struct {
		name  string
		state ShardLevelState
		input ShardLevelInput
		held  bool
	}{
		{name: "nothing hot, no recent change", input: in(0.1)},
		{name: "a shard above the threshold for scale_up_after", input: in(0.9), held: true},
		{name: "the last decision split", state: ShardLevelState{Hot: true}, input: in(0.1), held: true},
		{name: "a split within cooldown_down", state: ShardLevelState{History: ShardLevelHistory{Calls: []time.Time{now.Add(-30 * time.Minute)}}},
			input: in(0.1), held: true},
		{name: "a split before cooldown_down", state: ShardLevelState{History: ShardLevelHistory{Calls: []time.Time{now.Add(-2 * time.Hour)}}},
			input: in(0.1)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if why := tt.state.HoldsScaleDown(tt.input, s); (why != "") != tt.held {
				t.Errorf("held %q, want held %v", why, tt.held)
			}
		})
	}
}

func TestWithoutSkewRefusals(t *testing.T) {
	now := shardT0.Add(30 * time.Second)
	start := now.Truncate(time.Minute).Add(-2 * time.Minute)
	refusing := func(u, refused float64) []ShardMinute {
		r := u * 60 * ShardWriteRecordsPerSecond
		return []ShardMinute{{Start: start, Known: true, IncomingRecords: r, IncomingBytes: r * 1024, WriteThrottled: refused}}
	}
	stream := []Minute{{Start: start, Known: true, IncomingRecords: 1, WriteThrottled: 500}}
	for _, tt := range []struct {
		name string
		in   ShardLevelInput
		want float64
	}{
		{name: "a skewed shard's refusals are taken out", want: 200, in: ShardLevelInput{Now: now,
			Open:    []OpenShard{openShard("a", 0, 0.25, ""), openShard("b", 0.25, 1, "")},
			Minutes: map[string][]ShardMinute{"a": refusing(1, 300), "b": refusing(0.3, 200)}}},
		{name: "even shards' refusals stay", want: 500, in: ShardLevelInput{Now: now,
			Open:    []OpenShard{openShard("a", 0, 0.5, ""), openShard("b", 0.5, 1, "")},
			Minutes: map[string][]ShardMinute{"a": refusing(1, 300), "b": refusing(1, 200)}}},
		{name: "a minute not covered once stays", want: 500, in: ShardLevelInput{Now: now,
			Open:    []OpenShard{openShard("a", 0, 0.25, "")},
			Minutes: map[string][]ShardMinute{"a": refusing(1, 300)}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := WithoutSkewRefusals(stream, tt.in)[0].WriteThrottled; got != tt.want {
				t.Errorf("refused %v, want %v", got, tt.want)
			}
		})
	}
}

// The state stays bounded: the profile at MaxProfileSegments, the splits
// remembered at MaxSplitRecords, the calls at the rolling 24 h.
func TestShardLevelStateIsBounded(t *testing.T) {
	var p []RangeLoad
	for i := range 2 * MaxProfileSegments {
		p = append(p, RangeLoad{Range: KeyRange{Lo: float64(i) / 512, Hi: float64(i+1) / 512}, Share: float64(i%7+1) / 2048})
	}
	if got := len(boundProfile(p)); got != MaxProfileSegments {
		t.Errorf("profile of %d segments, want %d", got, MaxProfileSegments)
	}
	var h ShardLevelHistory
	var now time.Time
	for i := range 100 {
		now = shardT0.Add(time.Duration(i) * time.Hour)
		h = h.WithChange(ShardAction{Kind: ShardSplit, ShardID: "s", Range: KeyRange{Lo: 0, Hi: 1}}, now)
	}
	if len(h.Splits) != MaxSplitRecords || len(h.Calls) != 24 {
		t.Errorf("%d splits and %d calls remembered, want %d and 24", len(h.Splits), len(h.Calls), MaxSplitRecords)
	}
}
