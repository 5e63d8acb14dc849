package policy

import (
	"testing"
	"time"
)

// FuzzDecideShards checks the shard-level decision's invariants on random
// layouts: it never takes the stream beyond max_shards or below
// min_shards, never splits a shard holding a known hot key, splits only
// strictly inside the shard, merges only adjacent shards, touches a shard
// at most once, and never goes beyond the daily or per-cycle cap; it
// reports a hot key only in a child of a split with no divided range inside
// it and none known yet; a uniform
// reshard goes to fewer shards (at least half), alone, only with
// UpdateShardCount calls to spare beyond the reserve.
func FuzzDecideShards(f *testing.F) {
	f.Add([]byte{4, 10, 200, 10, 10}, uint8(0), uint8(3))
	f.Add([]byte{8, 1, 1, 250, 2, 3, 1, 1, 1}, uint8(47), uint8(1))
	f.Add([]byte{3, 5, 5, 5}, uint8(10), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, used, hotAt uint8) {
		if len(data) < 2 {
			return
		}
		now := shardT0.Add(30 * time.Second)
		n := int(data[0])%32 + 1
		var obs ShardsObservation
		obs.Now, obs.Status = now, StatusActive
		lo := 0.0
		for i := range n {
			b := byte(i * 37)
			if i+1 < len(data) {
				b = data[i+1]
			}
			hi := float64(i+1) / float64(n)
			if i%3 == 1 && b%2 == 0 {
				hi = lo + (hi-lo)*0.5 // uneven: leave a gap the next shard fills
			}
			if i == n-1 {
				hi = 1
			}
			sh := shard(string(rune('A'+i)), lo, hi, float64(b)/100, now)
			if b%5 == 0 {
				sh.Minutes = sh.Minutes[:len(sh.Minutes)-int(b)%len(sh.Minutes)]
			}
			if b%7 == 0 && i > 0 {
				p := KeyRange{Lo: obs.Shards[i-1].Range.Lo, Hi: hi}
				sh.SplitFrom = &p
			}
			obs.Shards = append(obs.Shards, sh)
			obs.StreamNeed += float64(b) / 100
			lo = hi
		}
		h := obs.Shards[int(hotAt)%n].Range
		obs.HotKeys = []KeyRange{{Lo: h.Lo + h.Width()/3, Hi: h.Lo + h.Width()/2}}
		if used%3 == 0 {
			d := obs.Shards[int(used/3)%n].Range
			obs.Divided = []KeyRange{{Lo: d.Lo + d.Width()/4, Hi: d.Lo + d.Width()/4}}
		}
		obs.Profile = []RangeLoad{{Range: KeyRange{0, 0.3}, Share: 0.5}, {Range: KeyRange{0.3, 1}, Share: 0.5}}
		obs.Calls = repeatCalls(now.Add(-time.Hour), int(used)%60)
		obs.UpdateCalls = repeatCalls(now.Add(-2*time.Hour), int(used)%(MaxUpdateCalls+1))
		s := shardSettings()
		s.MaxCallsPerCycle = int(hotAt)%4 + 1
		if hotAt%2 == 1 {
			s.UnevenRatio = 2 // uneven layouts here are up to 3 times wider
		}
		if used%4 != 0 {
			// min_shards and max_shards around the open count.
			s.MinShards, s.MaxShards = max(n-int(used)%3, 1), n+int(hotAt/4)%3-1
			s.MaxShards = max(s.MaxShards, s.MinShards)
		}

		acts := DecideShards(obs, s)
		byID := map[string]int{}
		for i, sh := range obs.Shards {
			byID[sh.ShardID] = i
		}
		calls, touched := 0, map[string]bool{}
		for _, a := range acts {
			if a.Kind == ShardReshardUniform {
				// An UpdateShardCount call: not under the split/merge caps.
				if len(acts) != 1 || a.Target >= n || 2*a.Target < n || a.Target < 1 {
					t.Fatalf("uniform reshard of %d shards to %d among %d actions", n, a.Target, len(acts))
				}
				if left := MaxUpdateCalls - (History{Calls: obs.UpdateCalls}).CallsUsed(now); left <= ReservedForScaleUp+1 {
					t.Fatalf("uniform reshard with %d UpdateShardCount calls used", len(obs.UpdateCalls))
				}
				continue
			}
			i, ok := byID[a.ShardID]
			if !ok {
				t.Fatalf("action on unknown shard %s", a.ShardID)
			}
			sh := obs.Shards[i]
			switch a.Kind {
			case ShardSplit:
				calls++
				if holdsHotKey(sh.Range, obs.HotKeys) {
					t.Fatalf("split %s, which holds a known hot key", a.ShardID)
				}
				if !(a.At > sh.Range.Lo && a.At < sh.Range.Hi) {
					t.Fatalf("split %s %s at %v, outside it", a.ShardID, sh.Range, a.At)
				}
			case ShardMerge:
				calls++
				j, ok := byID[a.Adjacent]
				if !ok || j != i+1 || obs.Shards[i].Range.Hi != obs.Shards[j].Range.Lo {
					t.Fatalf("merge of %s and %s, not adjacent", a.ShardID, a.Adjacent)
				}
				if touched[a.Adjacent] {
					t.Fatalf("shard %s in two actions", a.Adjacent)
				}
				touched[a.Adjacent] = true
			case ShardHotKey:
				if sh.SplitFrom == nil || dividedInside(obs.Divided, sh.Range) || holdsHotKey(sh.Range, obs.HotKeys) {
					t.Fatalf("hot key reported in %s %s: made by no split, or divided, or already known", a.ShardID, sh.Range)
				}
			default:
				t.Fatalf("unknown action %q", a.Kind)
			}
			if touched[a.ShardID] {
				t.Fatalf("shard %s in two actions", a.ShardID)
			}
			touched[a.ShardID] = true
			if a.Reason == "" {
				t.Fatalf("action %s without a reason", a.Kind)
			}
		}
		after := n
		for _, a := range acts {
			switch a.Kind {
			case ShardSplit:
				after++
			case ShardMerge:
				after--
			}
		}
		if s.MaxShards > 0 && after > max(s.MaxShards, n) || after < min(max(s.MinShards, 1), n) {
			t.Fatalf("%d shards to %d: outside min_shards %d, max_shards %d", n, after, s.MinShards, s.MaxShards)
		}
		if calls > s.MaxCallsPerCycle || (calls > 0 && SplitMergeCallsUsed(obs.Calls, now)+calls > s.MaxCallsPerDay) {
			t.Fatalf("%d calls with %d used: over the caps %d a cycle, %d a day", calls, SplitMergeCallsUsed(obs.Calls, now), s.MaxCallsPerCycle, s.MaxCallsPerDay)
		}
	})
}
