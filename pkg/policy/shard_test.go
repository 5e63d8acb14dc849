package policy

import (
	"math"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"
)

var shardT0 = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

// shardMinutes returns n minutes ending a minute before now, each at
// utilisation u of one shard (records of 1 KiB).
func shardMinutes(now time.Time, n int, u float64) []ShardMinute {
	var ms []ShardMinute
	end := now.Truncate(time.Minute).Add(-time.Minute)
	for i := n; i > 0; i-- {
		r := u * 60 * ShardWriteRecordsPerSecond
		ms = append(ms, ShardMinute{Start: end.Add(-time.Duration(i) * time.Minute), Known: true, IncomingRecords: r, IncomingBytes: r * 1024})
	}
	return ms
}

func shard(id string, lo, hi, u float64, now time.Time) ShardObservation {
	return ShardObservation{ShardID: id, Range: KeyRange{Lo: lo, Hi: hi}, Minutes: shardMinutes(now, 40, u)}
}

func shardSettings() ShardSettings {
	return DefaultShardSettings(Settings{ScaleUpThreshold: 0.75, ScaleDownThreshold: 0.25,
		ScaleUpAfter: 2 * time.Minute, ScaleDownAfter: 30 * time.Minute})
}

func TestDecideShards(t *testing.T) {
	now := shardT0.Add(30 * time.Second)
	four := func(us ...float64) []ShardObservation {
		var out []ShardObservation
		for i, u := range us {
			out = append(out, shard(string(rune('a'+i)), float64(i)/4, float64(i+1)/4, u, now))
		}
		return out
	}
	need := func(us ...float64) float64 {
		s := 0.0
		for _, u := range us {
			s += u
		}
		return s
	}
	child := func(o ShardObservation, parent KeyRange) ShardObservation {
		o.SplitFrom, o.ParentKept = &parent, 0.95
		return o
	}
	tests := []struct {
		name   string
		obs    ShardsObservation
		kinds  []ShardActionKind
		shard  string
		at     float64
		reason string
		target int
	}{
		{name: "a hot shard is split at its midpoint",
			obs:   ShardsObservation{Shards: four(0.4, 1.2, 0.4, 0.4), StreamNeed: need(0.4, 1.2, 0.4, 0.4)},
			kinds: []ShardActionKind{ShardSplit}, shard: "b", at: 0.375, reason: "midpoint"},
		{name: "even load changes nothing",
			obs: ShardsObservation{Shards: four(0.5, 0.5, 0.5, 0.5), StreamNeed: 2}},
		{name: "a stream over the threshold as a whole is the stream level's",
			obs: ShardsObservation{Shards: four(0.9, 0.9, 0.9, 0.9), StreamNeed: 3.6}},
		{name: "the profile moves the split point to where the load divides",
			obs: ShardsObservation{Shards: four(0.4, 1.2, 0.4, 0.4), StreamNeed: 2.4,
				Profile: []RangeLoad{{Range: KeyRange{0, 0.25}, Share: 0.2}, {Range: KeyRange{0.25, 0.3}, Share: 0.4},
					{Range: KeyRange{0.3, 0.5}, Share: 0.1}, {Range: KeyRange{0.5, 1}, Share: 0.3}}},
			kinds: []ShardActionKind{ShardSplit}, shard: "b", at: 0.25 + 0.05*0.25/0.4, reason: "children's history"},
		{name: "a child that kept nearly all its parent's load holds a hot key",
			obs: ShardsObservation{Shards: []ShardObservation{
				shard("a", 0, 0.5, 0.1, now), child(shard("b1", 0.5, 0.75, 1.9, now), KeyRange{0.5, 1}),
				child(shard("b2", 0.75, 1, 0.1, now), KeyRange{0.5, 1})}, StreamNeed: 2.1},
			kinds: []ShardActionKind{ShardHotKey}, shard: "b1", reason: "hot partition key"},
		{name: "one split that left all the excess load in a child is enough to tell",
			obs: ShardsObservation{Shards: []ShardObservation{
				shard("a", 0, 0.5, 0.1, now), firstChild(child(shard("b1", 0.5, 0.75, 1.9, now), KeyRange{0.5, 1})),
				child(shard("b2", 0.75, 1, 0.1, now), KeyRange{0.5, 1})}, StreamNeed: 2.1},
			kinds: []ShardActionKind{ShardHotKey}, shard: "b1", reason: "after one split"},
		{name: "a child an earlier layout showed divided holds many keys: split again",
			obs: ShardsObservation{Shards: []ShardObservation{
				shard("a", 0, 0.5, 0.1, now), firstChild(child(shard("b1", 0.5, 0.75, 1.9, now), KeyRange{0.5, 1})),
				child(shard("b2", 0.75, 1, 0.1, now), KeyRange{0.5, 1})}, StreamNeed: 2.1, Divided: []KeyRange{{0.6, 0.62}}},
			kinds: []ShardActionKind{ShardSplit}, shard: "b1", at: 0.625},
		{name: "a hot key is reported while the stream is UPDATING",
			obs: ShardsObservation{Status: StatusUpdating, Shards: []ShardObservation{
				shard("a", 0, 0.5, 0.1, now), firstChild(child(shard("b1", 0.5, 0.75, 1.9, now), KeyRange{0.5, 1})),
				child(shard("b2", 0.75, 1, 0.1, now), KeyRange{0.5, 1})}, StreamNeed: 2.1},
			kinds: []ShardActionKind{ShardHotKey}, shard: "b1", reason: "after one split"},
		{name: "a child whose neighbour outside its parent carries excess too holds part of a slice",
			obs: ShardsObservation{Shards: []ShardObservation{
				shard("a", 0, 0.125, 0.05, now), shard("a1", 0.125, 0.25, 0.05, now), shard("a15", 0.25, 0.375, 0.05, now),
				shard("a2", 0.375, 0.5, 0.6, now), firstChild(child(shard("b1", 0.5, 0.75, 1.9, now), KeyRange{0.5, 1})),
				child(shard("b2", 0.75, 1, 0.1, now), KeyRange{0.5, 1})}, StreamNeed: 2.75},
			kinds: []ShardActionKind{ShardSplit}, shard: "b1", at: 0.625},
		{name: "a child of too few records tells nothing",
			obs: ShardsObservation{Shards: []ShardObservation{
				shard("a", 0, 0.5, 0.0005, now), firstChild(child(shard("b1", 0.5, 0.75, 0.009, now), KeyRange{0.5, 1})),
				child(shard("b2", 0.75, 1, 0.0005, now), KeyRange{0.5, 1})}, StreamNeed: 0.01}},
		{name: "a child of enough records tells, however cold the stream",
			obs: ShardsObservation{Shards: []ShardObservation{
				shard("a", 0, 0.5, 0.001, now), firstChild(child(shard("b1", 0.5, 0.75, 0.011, now), KeyRange{0.5, 1})),
				child(shard("b2", 0.75, 1, 0.0005, now), KeyRange{0.5, 1})}, StreamNeed: 0.0125},
			kinds: []ShardActionKind{ShardHotKey}, shard: "b1", reason: "after one split"},
		{name: "a hot key is reported while the stream as a whole is over the threshold",
			obs: ShardsObservation{Shards: []ShardObservation{
				shard("a", 0, 0.5, 0.8, now), firstChild(child(shard("b1", 0.5, 0.75, 3, now), KeyRange{0.5, 1})),
				firstChild(child(shard("b2", 0.75, 1, 0.4, now), KeyRange{0.5, 1}))}, StreamNeed: 4.2},
			kinds: []ShardActionKind{ShardHotKey}, shard: "b1", reason: "hot partition key"},
		{name: "a child whose sibling got part of the excess holds a slice of keys: split again",
			obs: ShardsObservation{Shards: []ShardObservation{
				shard("a", 0, 0.25, 0.1, now), shard("a2", 0.25, 0.5, 0.1, now), firstChild(child(shard("b1", 0.5, 0.75, 1.9, now), KeyRange{0.5, 1})),
				firstChild(child(shard("b2", 0.75, 1, 0.6, now), KeyRange{0.5, 1}))}, StreamNeed: 2.7},
			kinds: []ShardActionKind{ShardSplit}, shard: "b1", at: 0.625},
		{name: "a child of an unskewed parent is no evidence of a hot key",
			obs: ShardsObservation{Shards: []ShardObservation{
				shard("a", 0, 0.5, 0.5, now), firstChild(child(shard("b1", 0.5, 0.75, 0.3, now), KeyRange{0.5, 1})),
				firstChild(child(shard("b2", 0.75, 1, 0.2, now), KeyRange{0.5, 1}))}, StreamNeed: 1}},
		{name: "a shard holding a known hot key is not split again",
			obs: ShardsObservation{Shards: four(0.4, 1.2, 0.4, 0.4), StreamNeed: 2.4, HotKeys: []KeyRange{{0.3, 0.31}}}},
		{name: "the daily cap stops splits",
			obs: ShardsObservation{Shards: four(0.4, 1.2, 0.4, 0.4), StreamNeed: 2.4, Calls: repeatCalls(now, 48)}},
		{name: "calls older than a day do not count",
			obs:   ShardsObservation{Shards: four(0.4, 1.2, 0.4, 0.4), StreamNeed: 2.4, Calls: repeatCalls(now.Add(-25*time.Hour), 48)},
			kinds: []ShardActionKind{ShardSplit}, shard: "b", at: 0.375},
		{name: "cold neighbours are merged",
			obs:   ShardsObservation{Shards: four(0.1, 0.15, 0.6, 0.6), StreamNeed: 1.45},
			kinds: []ShardActionKind{ShardMerge}, shard: "a", reason: "merging"},
		{name: "no merge of shards that throttled",
			obs: ShardsObservation{Shards: throttled(four(0.1, 0.15, 0.6, 0.6), 1), StreamNeed: 1.45}},
		{name: "a stream under the threshold as a whole is the stream level's",
			obs: ShardsObservation{Shards: four(0.1, 0.1, 0.1, 0.1), StreamNeed: 0.4}},
		{name: "an UPDATING stream is left alone",
			obs: ShardsObservation{Status: StatusUpdating, Shards: four(0.4, 1.2, 0.4, 0.4), StreamNeed: 2.4}},
		{name: "a new shard the profile says is hot is split at once",
			obs: ShardsObservation{Shards: []ShardObservation{shard("a", 0, 0.5, 0.4, now), {ShardID: "n", Range: KeyRange{0.5, 1}}},
				StreamNeed: 1.2, Profile: []RangeLoad{{Range: KeyRange{0, 0.5}, Share: 0.2}, {Range: KeyRange{0.5, 1}, Share: 0.8}}},
			kinds: []ShardActionKind{ShardSplit}, shard: "n", at: 0.75, reason: "no metrics yet"},
		{name: "a very uneven layout with nothing hot is resharded uniformly to fewer shards",
			obs:   unevenLayout(now, nil),
			kinds: []ShardActionKind{ShardReshardUniform}, target: 4, reason: "restores a clean layout"},
		{name: "no uniform reshard without UpdateShardCount calls to spare: merges instead",
			obs:   unevenLayout(now, repeatCalls(now.Add(-time.Hour), MaxUpdateCalls-ReservedForScaleUp-1)),
			kinds: []ShardActionKind{ShardMerge}, shard: "b"},
		{name: "calls to spare beyond the reserve allow a uniform reshard",
			obs:   unevenLayout(now, repeatCalls(now.Add(-time.Hour), MaxUpdateCalls-ReservedForScaleUp-2)),
			kinds: []ShardActionKind{ShardReshardUniform}, target: 4},
		{name: "no uniform reshard while a shard is to be split: the split comes first",
			obs: func() ShardsObservation {
				o := unevenLayout(now, nil)
				o.Shards[1] = shard("b", 0.5, 0.625, 0.9, now)
				o.StreamNeed += 0.7
				return o
			}(),
			kinds: []ShardActionKind{ShardSplit}, shard: "b", at: 0.5625},
		{name: "a wide shard hot on even load is resharded uniformly too",
			obs: func() ShardsObservation {
				o := unevenLayout(now, nil)
				o.Shards[0] = shard("a", 0, 0.5, 0.9, now)
				o.StreamNeed += 0.25
				return o
			}(),
			kinds: []ShardActionKind{ShardReshardUniform}, target: 4},
		{name: "no uniform reshard when no fewer uniform shards would stay inside the band",
			obs: func() ShardsObservation {
				o := unevenLayout(now, nil)
				o.Profile = []RangeLoad{{Range: KeyRange{0, 0.5}, Share: 0.2}, {Range: KeyRange{0.5, 0.51}, Share: 0.4}, {Range: KeyRange{0.51, 1}, Share: 0.4}}
				return o
			}(),
			kinds: []ShardActionKind{ShardMerge}, shard: "b"},
		{name: "no uniform reshard of a layout only twice as wide at its widest",
			obs: ShardsObservation{Shards: []ShardObservation{shard("a", 0, 0.5, 0.65, now), shard("b", 0.5, 0.75, 0.4, now), shard("c", 0.75, 1, 0.4, now)},
				StreamNeed: 1.45, Profile: []RangeLoad{{Range: KeyRange{0, 1}, Share: 1}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := tt.obs
			obs.Now = now
			if obs.Status == "" {
				obs.Status = StatusActive
			}
			got := DecideShards(obs, shardSettings())
			if len(got) != len(tt.kinds) {
				t.Fatalf("got %d actions %+v, want %v", len(got), got, tt.kinds)
			}
			for i, a := range got {
				if a.Kind != tt.kinds[i] {
					t.Errorf("action %d: %s, want %s", i, a.Kind, tt.kinds[i])
				}
			}
			if len(got) == 0 {
				return
			}
			a := got[0]
			if a.Kind == ShardReshardUniform && a.Target != tt.target {
				t.Errorf("reshard to %d, want %d", a.Target, tt.target)
			}
			if a.ShardID != tt.shard {
				t.Errorf("shard %s, want %s", a.ShardID, tt.shard)
			}
			if a.Kind == ShardSplit && math.Abs(a.At-tt.at) > 1e-9 {
				t.Errorf("split at %v, want %v", a.At, tt.at)
			}
			if !strings.Contains(a.Reason, tt.reason) {
				t.Errorf("reason %q lacks %q", a.Reason, tt.reason)
			}
		})
	}
}

// unevenLayout is a stream whose right half was split into quarters for a
// hotspot that has cooled: nothing hot, its mean inside the band, the
// narrow shards cold; uniform 4 shards would carry it at most at 40 %.
func unevenLayout(now time.Time, updateCalls []time.Time) ShardsObservation {
	o := ShardsObservation{StreamNeed: 1.45, UpdateCalls: updateCalls,
		Profile: []RangeLoad{{Range: KeyRange{0, 0.5}, Share: 0.65 / 1.45}, {Range: KeyRange{0.5, 1}, Share: 0.8 / 1.45}}}
	o.Shards = append(o.Shards, shard("a", 0, 0.5, 0.65, now))
	for i, id := range []string{"b", "c", "d", "e"} {
		o.Shards = append(o.Shards, shard(id, 0.5+float64(i)/8, 0.5+float64(i+1)/8, 0.2, now))
	}
	return o
}

func repeatCalls(at time.Time, n int) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		out[i] = at
	}
	return out
}

func TestObserveProfile(t *testing.T) {
	p := ObserveLayout(nil, []RangeLoad{{Range: KeyRange{0, 0.5}, Share: 0.5}, {Range: KeyRange{0.5, 1}, Share: 0.5}})
	if len(p) != 1 {
		t.Fatalf("even layout should compact to one segment: %+v", p)
	}
	p = ObserveLayout(p, []RangeLoad{{Range: KeyRange{0, 0.5}, Share: 0.2}, {Range: KeyRange{0.5, 0.75}, Share: 0.7}, {Range: KeyRange{0.75, 1}, Share: 0.1}})
	// A coarser layout keeps the finer structure, scaled.
	p = ObserveLayout(p, []RangeLoad{{Range: KeyRange{0, 0.5}, Share: 0.4}, {Range: KeyRange{0.5, 1}, Share: 0.6}})
	s, ok := profileShare(p, KeyRange{0.5, 0.75})
	if !ok || math.Abs(s-0.6*0.7/0.8) > 1e-12 {
		t.Errorf("share of [0.5, 0.75) %v, want %v", s, 0.6*0.7/0.8)
	}
	q := ObserveProfile(nil, KeyRange{0.25, 0.5}, 0.5)
	if s, _ := profileShare(q, KeyRange{0.25, 0.5}); math.Abs(s-0.5) > 1e-12 {
		t.Errorf("ObserveProfile: share %v", s)
	}
}

func TestObserveDivided(t *testing.T) {
	even := func(ws ...float64) []RangeLoad {
		var out []RangeLoad
		lo := 0.0
		for _, w := range ws {
			out = append(out, RangeLoad{Range: KeyRange{lo, lo + w}, Share: w})
			lo += w
		}
		return out
	}
	tests := []struct {
		name        string
		shards      []RangeLoad
		need, floor float64
		want        []KeyRange
	}{
		{name: "even load divides nothing", shards: even(0.25, 0.25, 0.25, 0.25), need: 4, floor: 0.25},
		{name: "one hot shard beside cold ones divides nothing",
			shards: []RangeLoad{{Range: KeyRange{0, 0.25}, Share: 0.2}, {Range: KeyRange{0.25, 0.5}, Share: 0.4}, {Range: KeyRange{0.5, 0.75}, Share: 0.2}, {Range: KeyRange{0.75, 1}, Share: 0.2}},
			need:   4, floor: 0.25},
		{name: "two hot neighbours: their boundary divides excess",
			shards: []RangeLoad{{Range: KeyRange{0, 0.25}, Share: 0.15}, {Range: KeyRange{0.25, 0.5}, Share: 0.35}, {Range: KeyRange{0.5, 0.75}, Share: 0.35}, {Range: KeyRange{0.75, 1}, Share: 0.15}},
			need:   4, floor: 0.25, want: []KeyRange{{0.5, 0.5}}},
		{name: "below the floor a few records make the density",
			shards: []RangeLoad{{Range: KeyRange{0, 0.25}, Share: 0.15}, {Range: KeyRange{0.25, 0.5}, Share: 0.35}, {Range: KeyRange{0.5, 0.75}, Share: 0.35}, {Range: KeyRange{0.75, 1}, Share: 0.15}},
			need:   0.1, floor: 0.25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ObserveDivided(nil, tt.shards, tt.need, tt.floor)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
	// Points of one hot region join one range; a range touching r only at an
	// end is not inside it.
	d := ObserveDivided([]KeyRange{{0.5, 0.5}}, []RangeLoad{{Range: KeyRange{0, 0.4}, Share: 0.2}, {Range: KeyRange{0.4, 0.45}, Share: 0.2},
		{Range: KeyRange{0.45, 0.55}, Share: 0.4}, {Range: KeyRange{0.55, 1}, Share: 0.2}}, 4, 0.25)
	if len(d) != 1 || d[0] != (KeyRange{0.45, 0.5}) {
		t.Fatalf("joined ranges %v, want [0.45, 0.5]", d)
	}
	if !dividedInside(d, KeyRange{0.4, 0.46}) || dividedInside(d, KeyRange{0.5, 0.6}) || dividedInside(d, KeyRange{0.3, 0.45}) {
		t.Errorf("dividedInside wrong for %v", d)
	}
	var many []KeyRange
	for i := range 2 * MaxDivided {
		lo := float64(i) / float64(2*MaxDivided)
		w := 1 / float64(4*MaxDivided)
		many = ObserveDivided(many, []RangeLoad{{Range: KeyRange{0, lo}, Share: lo * 0.5}, {Range: KeyRange{lo, lo + w}, Share: 0.25},
			{Range: KeyRange{lo + w, lo + 2*w}, Share: 0.25}, {Range: KeyRange{lo + 2*w, 1}, Share: 0.5 - lo*0.5}}, 40, 0.25)
	}
	if len(many) != MaxDivided {
		t.Errorf("kept %d divided ranges, want at most %d", len(many), MaxDivided)
	}
}

func TestHashKey(t *testing.T) {
	if HashKey(0).Sign() != 0 || HashKey(0.5).Cmp(new(keySpaceType).Rsh(keySpace, 1)) != 0 ||
		HashKey(1).Cmp(new(keySpaceType).Sub(keySpace, big1)) != 0 {
		t.Errorf("HashKey(0, 0.5, 1) = %v, %v, %v", HashKey(0), HashKey(0.5), HashKey(1))
	}
}

type keySpaceType = big.Int

var big1 = big.NewInt(1)

// throttled marks shard i's latest minute throttled.
func throttled(shards []ShardObservation, i int) []ShardObservation {
	ms := shards[i].Minutes
	ms[len(ms)-1].WriteThrottled = 1
	return shards
}

func firstChild(o ShardObservation) ShardObservation {
	o.ParentKept = 0
	return o
}

func TestRecentKnown(t *testing.T) {
	now := shardT0.Add(30 * time.Second)
	ms := shardMinutes(now, 6, 0.5) // minutes ending a minute before now, oldest first
	unknown := func(i int) []ShardMinute {
		c := slices.Clone(ms)
		c[i].Known = false
		return c
	}
	notEnded := append(slices.Clone(ms), ShardMinute{Start: now.Truncate(time.Minute), Known: true})
	tests := []struct {
		name string
		ms   []ShardMinute
		n    int
		want int // minutes returned, the newest ones
		last time.Time
	}{
		{name: "the last n", ms: ms, n: 3, want: 3, last: ms[5].Start},
		{name: "fewer than n", ms: ms, n: 10, want: 6, last: ms[5].Start},
		{name: "a gap cuts", ms: unknown(3), n: 5, want: 2, last: ms[5].Start},
		{name: "an unknown newest minute is skipped", ms: unknown(5), n: 3, want: 3, last: ms[4].Start},
		{name: "a minute not ended is skipped", ms: notEnded, n: 2, want: 2, last: ms[5].Start},
		{name: "stale minutes are none", ms: shardMinutes(now.Add(-time.Hour), 6, 0.5), n: 2, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := recentKnown(tt.ms, now, tt.n)
			if len(got) != tt.want {
				t.Fatalf("%d minutes, want %d", len(got), tt.want)
			}
			if tt.want > 0 && !got[len(got)-1].Start.Equal(tt.last) {
				t.Errorf("newest %s, want %s", got[len(got)-1].Start, tt.last)
			}
		})
	}
}

// coldPairLayout is five shards whose mean is inside the band: a and b at
// 0.3 of a shard, the child g of a split of [0.5, 0.625) that kept all of
// its parent's load above the background, at 0.24 (cold, but dense: one
// key), its sibling h nearly idle, and i at 0.45.
func coldPairLayout(now time.Time) ShardsObservation {
	g := shard("g", 0.5, 0.5625, 0.24, now)
	parent := KeyRange{Lo: 0.5, Hi: 0.625}
	g.SplitFrom = &parent
	shards := []ShardObservation{
		shard("a", 0, 0.25, 0.3, now), shard("b", 0.25, 0.5, 0.3, now), g,
		shard("h", 0.5625, 0.625, 0.01, now), shard("i", 0.625, 1, 0.45, now),
	}
	return ShardsObservation{Now: now, Status: StatusActive, Shards: shards, StreamNeed: 1.3}
}

// A shard is named by one action at most: a child reported for a hot key
// is not also merged (issue 13.3: FuzzDecideShards found "shard G in two
// actions").
func TestDecideShardsNamesAShardOnce(t *testing.T) {
	now := shardT0.Add(30 * time.Second)
	acts := DecideShards(coldPairLayout(now), shardSettings())
	seen := map[string]ShardActionKind{}
	for _, a := range acts {
		for _, id := range []string{a.ShardID, a.Adjacent} {
			if id == "" {
				continue
			}
			if k, ok := seen[id]; ok {
				t.Fatalf("shard %s in two actions, %s and %s: %+v", id, k, a.Kind, acts)
			}
			seen[id] = a.Kind
		}
	}
	if seen["g"] != ShardHotKey {
		t.Errorf("actions %+v: want g reported for a hot key", acts)
	}
}

// Shard-level splits and merges keep the stream within min_shards and
// max_shards (issue 13.2): at max_shards a hot shard is not split (the
// stream level would take the extra shard back, 8 -> 9 -> 8 -> 9); a cold
// pair is merged first to make room; at min_shards no pair is merged.
func TestDecideShardsRespectsBounds(t *testing.T) {
	now := shardT0.Add(30 * time.Second)
	hot := func(us ...float64) ShardsObservation {
		obs := ShardsObservation{Now: now, Status: StatusActive}
		for i, u := range us {
			obs.Shards = append(obs.Shards, shard(string(rune('a'+i)), float64(i)/float64(len(us)), float64(i+1)/float64(len(us)), u, now))
			obs.StreamNeed += u
		}
		return obs
	}
	for _, tt := range []struct {
		name     string
		obs      ShardsObservation
		min, max int
		want     []ShardActionKind
		// merged is the shard a merge must start from, if any.
		merged string
	}{
		{name: "below max: split", obs: hot(0.9, 0.4, 0.4, 0.4), max: 5, want: []ShardActionKind{ShardSplit}},
		{name: "at max, nothing cold: held", obs: hot(0.9, 0.4, 0.4, 0.4), max: 4},
		{name: "above max: held", obs: hot(0.9, 0.4, 0.4, 0.4), max: 3},
		{name: "at max with a cold pair: merge it to make room", obs: hot(0.9, 0.4, 0.1, 0.1), max: 4,
			want: []ShardActionKind{ShardMerge}, merged: "c"},
		{name: "at max, no cold pair: held", obs: hot(0.1, 0.9, 0.1, 0.4), max: 4},
		{name: "above min: merge", obs: hot(0.1, 0.1, 0.4, 0.4), min: 3, want: []ShardActionKind{ShardMerge}, merged: "a"},
		{name: "at min: no merge", obs: hot(0.1, 0.1, 0.4, 0.4), min: 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := shardSettings()
			s.MinShards, s.MaxShards, s.MaxCallsPerCycle = tt.min, tt.max, 4
			acts := DecideShards(tt.obs, s)
			var kinds []ShardActionKind
			for _, a := range acts {
				kinds = append(kinds, a.Kind)
				if a.Kind == ShardMerge && a.ShardID != tt.merged {
					t.Errorf("merge of %s and %s, want from %s", a.ShardID, a.Adjacent, tt.merged)
				}
			}
			if !slices.Equal(kinds, tt.want) {
				t.Fatalf("actions %v, want %v: %+v", kinds, tt.want, acts)
			}
			n := len(tt.obs.Shards)
			for _, a := range acts {
				switch a.Kind {
				case ShardSplit:
					n++
				case ShardMerge:
					n--
				}
			}
			if tt.max > 0 && n > max(tt.max, len(tt.obs.Shards)) || n < min(tt.min, len(tt.obs.Shards)) {
				t.Errorf("%d shards after the actions, bounds [%d, %d]", n, tt.min, tt.max)
			}
		})
	}
}

// Merges leave a quarter of the day's split and merge calls to splits
// (issue 13.12: the mutation "merges may use the splits' reserve" survived
// every test): with exactly the reserve left a cold pair is not merged,
// with one more it is, and a hot shard is still split with the reserve.
func TestDecideShardsMergesLeaveTheSplitsReserve(t *testing.T) {
	now := shardT0.Add(30 * time.Second)
	s := shardSettings()
	reserve := s.MaxCallsPerDay / 4
	cold := ShardsObservation{Now: now, Status: StatusActive, StreamNeed: 1.0, Shards: []ShardObservation{
		shard("a", 0, 0.25, 0.1, now), shard("b", 0.25, 0.5, 0.1, now), shard("c", 0.5, 0.75, 0.4, now), shard("d", 0.75, 1, 0.4, now)}}
	hot := ShardsObservation{Now: now, Status: StatusActive, StreamNeed: 2.1, Shards: []ShardObservation{
		shard("a", 0, 0.25, 0.9, now), shard("b", 0.25, 0.5, 0.4, now), shard("c", 0.5, 0.75, 0.4, now), shard("d", 0.75, 1, 0.4, now)}}
	for _, tt := range []struct {
		name string
		obs  ShardsObservation
		left int
		want ShardActionKind
	}{
		{name: "merge with the reserve left", obs: cold, left: reserve},
		{name: "merge with one call over the reserve", obs: cold, left: reserve + 1, want: ShardMerge},
		{name: "split with the reserve left", obs: hot, left: reserve, want: ShardSplit},
		{name: "split with one call left", obs: hot, left: 1, want: ShardSplit},
		{name: "split with none left", obs: hot, left: 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			obs := tt.obs
			obs.Calls = repeatCalls(now.Add(-time.Hour), s.MaxCallsPerDay-tt.left)
			acts := DecideShards(obs, s)
			var got ShardActionKind
			if len(acts) > 0 {
				got = acts[0].Kind
			}
			if len(acts) > 1 || got != tt.want {
				t.Errorf("actions %+v, want %q", acts, tt.want)
			}
		})
	}
}
