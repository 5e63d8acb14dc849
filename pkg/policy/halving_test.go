package policy

import (
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"
)

// spentHistory has n UpdateShardCount calls within the last day at t0.
func spentHistory(n int) History {
	var h History
	for i := range n {
		h.Calls = append(h.Calls, t0.Add(-time.Duration(20-i)*time.Hour))
	}
	h.LastAction = &Action{At: t0.Add(-11 * time.Hour), From: 8, To: 16, Direction: DirectionUp}
	return h
}

func TestGateHalvesByMergesWhenTheCallsAreSpent(t *testing.T) {
	s := testSettings()
	s.MaxShards = 200
	down := Decision{Stream: "clicks", Direction: DirectionDown, Current: 16, Desired: 5, Target: 5, PeakFloor: 7, CallsToReturn: 1, Reason: "quiet"}
	cases := []struct {
		name   string
		d      func(*Decision)
		s      func(*Settings)
		calls  int
		merges bool   // a halving by merges to Current/2
		target int    // otherwise: the target (Current when held)
		reason string // in the reason
	}{
		{name: "all calls spent, the half carries the peak", calls: MaxUpdateCalls, merges: true, reason: "by MergeShards"},
		{name: "the calls kept for scale-ups are not spent", calls: MaxUpdateCalls - ReservedForScaleUp, merges: true},
		{name: "calls to spare: one UpdateShardCount", calls: 2, target: 8, reason: "scaling down to 8"},
		{name: "an odd count cannot be halved in pairs", calls: MaxUpdateCalls, d: func(d *Decision) { d.Current = 15 }, target: 15,
			reason: "calls left in the last 24h"},
		{name: "less than half wanted gone", calls: MaxUpdateCalls, d: func(d *Decision) { d.Desired, d.Target = 9, 9 }, target: 16},
		{name: "nothing learned", calls: MaxUpdateCalls, d: func(d *Decision) { d.PeakFloor = 0 }, target: 16},
		{name: "below the peak with no call to come back", calls: MaxUpdateCalls, d: func(d *Decision) { d.PeakFloor = 9 }, target: 16},
		{name: "below the peak with the calls to come back and one more", calls: MaxUpdateCalls - 2,
			d: func(d *Decision) { d.PeakFloor = 9 }, merges: true},
		{name: "below the peak, the calls to come back free before the past expects the need, and one left now", calls: MaxUpdateCalls - 1,
			d: func(d *Decision) { d.PeakFloor, d.ReturnBy = 9, []time.Time{t0.Add(6 * time.Hour)} }, merges: true, reason: "3 more back by"},
		{name: "below the peak, the calls free before the need, but none left now for an emergency", calls: MaxUpdateCalls,
			d: func(d *Decision) { d.PeakFloor, d.ReturnBy = 9, []time.Time{t0.Add(6 * time.Hour)} }, target: 16},
		{name: "below the peak, one left now, no call free before the need", calls: MaxUpdateCalls - 1,
			d: func(d *Decision) { d.PeakFloor, d.ReturnBy = 9, []time.Time{t0.Add(3 * time.Hour)} }, target: 16},
		{name: "calls free before the need, but an odd count: a scale-down by UpdateShardCount spends one now, and counts the window alone",
			calls: 6, d: func(d *Decision) {
				d.Current, d.CallsToReturn = 15, 4
				d.ReturnBy = slices.Repeat([]time.Time{t0.Add(6 * time.Hour)}, 4)
			}, target: 15, reason: "takes 4"},
		{name: "each call to come back finds itself and one more when the past expects it to be needed", calls: MaxUpdateCalls - 2,
			d: func(d *Decision) {
				d.PeakFloor, d.CallsToReturn = 9, 3
				d.ReturnBy = []time.Time{t0.Add(time.Hour), t0.Add(4 * time.Hour), t0.Add(5 * time.Hour)}
			}, merges: true, reason: "2 more back by"},
		{name: "the last call to come back needed before a call frees for it", calls: MaxUpdateCalls - 2,
			d: func(d *Decision) {
				d.PeakFloor, d.CallsToReturn = 9, 3
				d.ReturnBy = []time.Time{t0.Add(time.Hour), t0.Add(4 * time.Hour), t0.Add(4 * time.Hour)}
			}, target: 16},
		{name: "a call to come back the past cannot time counts the window alone", calls: MaxUpdateCalls - 2,
			d: func(d *Decision) {
				d.PeakFloor, d.CallsToReturn = 9, 3
				d.ReturnBy = []time.Time{t0.Add(time.Hour), t0.Add(4 * time.Hour)}
			}, target: 16},
		{name: "below min_shards", calls: MaxUpdateCalls, s: func(s *Settings) { s.MinShards = 9 }, target: 16},
		{name: "too many merges to finish within HalvingSpan", calls: MaxUpdateCalls,
			d: func(d *Decision) { d.Current, d.Desired, d.Target = 100, 40, 40 }, target: 100},
		{name: "a halving under way holds the next scale-down", calls: MaxUpdateCalls, d: func(d *Decision) { d.Halving = true },
			target: 16, reason: "under way"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := down
			if c.d != nil {
				c.d(&d)
			}
			s := s
			if c.s != nil {
				c.s(&s)
			}
			g := Gate(d, spentHistory(c.calls), s, t0)
			if g.ByMerges != c.merges {
				t.Fatalf("by merges = %v, want %v: %s to %d; %s", g.ByMerges, c.merges, g.Direction, g.Target, g.Reason)
			}
			want := c.target
			if c.merges {
				want = d.Current / 2
			}
			if g.Target != want {
				t.Fatalf("target %d, want %d; %s", g.Target, want, g.Reason)
			}
			if c.merges && (!g.Scales() || g.Direction != DirectionDown) {
				t.Fatalf("a halving that does not scale down: %s to %d", g.Direction, g.Target)
			}
			if c.reason != "" && !strings.Contains(g.Reason, c.reason) {
				t.Fatalf("reason %q does not say %q", g.Reason, c.reason)
			}
		})
	}
	// Within cooldown_down: held, whatever the calls.
	h := spentHistory(MaxUpdateCalls)
	h.LastAction.At = t0.Add(-time.Minute)
	if g := Gate(down, h, s, t0); g.Scales() || g.ByMerges {
		t.Fatalf("a halving within cooldown_down: %s to %d; %s", g.Direction, g.Target, g.Reason)
	}
}

func TestHistoryOfAHalving(t *testing.T) {
	h := spentHistory(3)
	halving := Action{At: t0, From: 16, To: 8, Direction: DirectionDown, ByMerges: true}
	h = h.Record(halving)
	if got := h.CallsUsed(t0); got != 3 {
		t.Fatalf("a halving by merges counted as a call: %d calls used, want 3", got)
	}
	if h.Expected() != 8 {
		t.Fatalf("expected count %d, want the halving's 8", h.Expected())
	}
	for open, want := range map[int]bool{16: true, 12: true, 9: true, 8: false, 17: false, 4: false} {
		to, ok := h.Halving(open)
		if ok != want || (ok && to != 8) {
			t.Errorf("Halving(%d) = %d, %v; want under way %v toward 8", open, to, ok, want)
		}
		if ok {
			if _, inferred := h.Reconcile(open, t0.Add(time.Hour)); inferred {
				t.Errorf("the halving's count %d taken for another tool's reshard", open)
			}
		}
	}
	stopped := h.StopHalving(12)
	if _, ok := stopped.Halving(12); ok {
		t.Fatal("a stopped halving is still under way")
	}
	if _, inferred := stopped.Reconcile(12, t0.Add(time.Hour)); inferred {
		t.Fatal("a stopped halving's count taken for another tool's reshard")
	}
	up := h.Record(Action{At: t0.Add(time.Hour), From: 8, To: 16, Direction: DirectionUp})
	if _, ok := up.Halving(12); ok {
		t.Fatal("a scale-up did not end the halving")
	}
}

// evenShards is n even open shards, as AWS's UpdateShardCount leaves them.
func evenShards(n int) []OpenShard { return layoutOf(make([]byte, n)) }

// merged joins shards a and b as MergeShards does.
func merged(shards []OpenShard, a, b OpenShard) []OpenShard {
	var out []OpenShard
	for _, s := range shards {
		switch s.ID {
		case a.ID:
			out = append(out, OpenShard{ID: a.ID + b.ID, StartingHashKey: a.StartingHashKey, EndingHashKey: b.EndingHashKey,
				Range: RangeOf(a.StartingHashKey, b.EndingHashKey)})
		case b.ID:
		default:
			out = append(out, s)
		}
	}
	return out
}

func TestHalvingMergeEndsInAnEvenLayout(t *testing.T) {
	for _, n := range []int{2, 8, 14, 90} {
		shards := evenShards(n)
		// The order AWS lists them in is not the hash keys'.
		shards[0], shards[n-1] = shards[n-1], shards[0]
		merges := 0
		for {
			a, b, ok := HalvingMerge(shards, n/2)
			if !ok {
				break
			}
			if merges++; merges > n {
				t.Fatalf("%d shards: more merges than shards", n)
			}
			shards = merged(shards, a, b)
		}
		if merges != n/2 || len(shards) != n/2 {
			t.Fatalf("%d shards: %d merges left %d shards, want %d and %d", n, merges, len(shards), n/2, n/2)
		}
		for _, s := range shards {
			if w := s.Range.Width(); w < 1/float64(n/2)*(1-1e-9) || w > 1/float64(n/2)*(1+1e-9) {
				t.Fatalf("%d shards halved: a shard of width %v, want %v", n, w, 1/float64(n/2))
			}
		}
	}
	// A layout a halving cannot finish: one shard of a third between halves.
	odd := evenShards(6)
	odd = merged(odd, odd[2], odd[3])
	odd = merged(odd, odd[0], odd[1])
	if a, b, ok := HalvingMerge(odd, 4); ok {
		t.Fatalf("paired %s and %s toward 4 even shards in a layout of %d", a.ID, b.ID, len(odd))
	}
}

// FuzzHalvingMerge checks the halving's merges on arbitrary layouts: a pair
// is two neighbours, each at most half and together at most one of `to`
// even shards; merging every pair it names ends within as many merges as
// there are shards, with no shard wider than one of `to` even shards (the
// halving never takes capacity below its target) and so at least `to` open.
func FuzzHalvingMerge(f *testing.F) {
	f.Add([]byte{1, 1, 1, 1, 1, 1, 1, 1}, uint8(4))
	f.Add([]byte{2, 1, 1, 3, 1, 1}, uint8(4))
	f.Add([]byte{255, 1, 1}, uint8(1))
	f.Fuzz(func(t *testing.T, weights []byte, to8 uint8) {
		if len(weights) < 1 || len(weights) > 64 {
			t.Skip()
		}
		to := max(int(to8%64), 1)
		shards := layoutOf(weights)
		if shards == nil {
			t.Skip()
		}
		full := 1 / float64(to) * (1 + halvingSlack)
		for range len(weights) + 1 {
			a, b, ok := HalvingMerge(shards, to)
			if !ok {
				break
			}
			if new(big.Int).Add(a.EndingHashKey, big.NewInt(1)).Cmp(b.StartingHashKey) != 0 {
				t.Fatalf("merging %v and %v, which are not neighbours", a.Range, b.Range)
			}
			if a.Range.Width() > full/2 || b.Range.Width() > full/2 || a.Range.Width()+b.Range.Width() > full {
				t.Fatalf("merging %v and %v toward %d even shards", a.Range, b.Range, to)
			}
			shards = merged(shards, a, b)
		}
		if _, _, ok := HalvingMerge(shards, to); ok {
			t.Fatalf("still merging after %d merges of %d shards", len(weights), len(weights))
		}
		for _, s := range shards {
			if w := s.Range.Width(); w > full && !slices.ContainsFunc(layoutOf(weights), func(o OpenShard) bool { return o.ID == s.ID }) {
				t.Fatalf("a merge left a shard of %v, wider than one of %d even shards", w, to)
			}
		}
	})
}

// layoutOf cuts the key space into len(weights) neighbouring shards with
// widths in proportion to weights (nil when a shard would own no key).
func layoutOf(weights []byte) []OpenShard {
	total := 0
	for _, w := range weights {
		total += int(w) + 1
	}
	out := make([]OpenShard, len(weights))
	start, sum := big.NewInt(0), 0
	for i, w := range weights {
		sum += int(w) + 1
		next := new(big.Int).Div(new(big.Int).Mul(keySpace, big.NewInt(int64(sum))), big.NewInt(int64(total)))
		end := new(big.Int).Sub(next, big.NewInt(1))
		if end.Cmp(start) < 0 {
			return nil
		}
		out[i] = OpenShard{ID: fmt.Sprintf("s%d", i), StartingHashKey: start, EndingHashKey: end, Range: RangeOf(start, end)}
		start = next
	}
	return out
}

// A call that leaves ScarceCalls or fewer aims at an even count, so that the
// next scale-down can be a halving by merges: an odd target from EvenFrom
// up is rounded up by one shard, within AWS's step and max_shards. With
// calls to spare, a small count, or one too large to halve within
// HalvingSpan, the target is kept.
func TestGateRoundsToEvenWhenCallsAreScarce(t *testing.T) {
	s := testSettings()
	s.MaxShards = 200
	cases := []struct {
		name  string
		d     Decision
		spent int // calls in the rolling window
		want  int
	}{
		{name: "up, 4 left after it", d: Decision{Direction: DirectionUp, Current: 20, Desired: 33}, spent: 5, want: 34},
		{name: "up, 5 left after it", d: Decision{Direction: DirectionUp, Current: 20, Desired: 33}, spent: 4, want: 33},
		{name: "up, a small count", d: Decision{Direction: DirectionUp, Current: 4, Desired: 7}, spent: 8, want: 7},
		{name: "up, at AWS's step", d: Decision{Direction: DirectionUp, Current: 20, Desired: 41}, spent: 8, want: 40},
		{name: "up, the last call (urgent)", d: Decision{Direction: DirectionUp, Current: 20, Desired: 33, Urgent: true}, spent: 9, want: 34},
		{name: "up, beyond what a halving takes in HalvingSpan", d: Decision{Direction: DirectionUp, Current: 150, Desired: 199, Urgent: true}, spent: 9, want: 199},
		{name: "down, 4 left after it", d: Decision{Direction: DirectionDown, Current: 40, Desired: 25, PeakFloor: 20, CallsToReturn: 1}, spent: 5, want: 26},
		{name: "down, an even target", d: Decision{Direction: DirectionDown, Current: 40, Desired: 26, PeakFloor: 20, CallsToReturn: 1}, spent: 5, want: 26},
		{name: "down, 5 left after it", d: Decision{Direction: DirectionDown, Current: 40, Desired: 25, PeakFloor: 20, CallsToReturn: 1}, spent: 4, want: 25},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := spentHistory(c.spent)
			c.d.Stream, c.d.Target, c.d.Reason = "clicks", c.d.Desired, "load"
			got := Gate(c.d, h, s, t0)
			if got.Target != c.want || got.ByMerges {
				t.Fatalf("target %d (by merges %v), want %d; %s", got.Target, got.ByMerges, c.want, got.Reason)
			}
			if rounded := strings.Contains(got.Reason, "rounded up"); rounded != (got.Target != min(c.d.Desired, 2*c.d.Current, s.MaxShards)) {
				t.Errorf("reason %q: rounding said %v", got.Reason, rounded)
			}
		})
	}
}

// With 4 calls or fewer left, a scale-up goes straight to Decision.PeakShards
// (within AWS's step), and says which count it is; with more, to what it
// wants.
func TestGateGoesStraightToThePeakWhenCallsAreScarce(t *testing.T) {
	s := testSettings()
	s.MaxShards = 200
	up := Decision{Stream: "clicks", Direction: DirectionUp, Current: 10, Desired: 12, Target: 12, PeakShards: 18, Reason: "load"}
	cases := []struct {
		name     string
		fromPast bool
		spent    int
		want     int
		reason   string
	}{
		{name: "4 left: the recent peak", spent: 6, want: 18, reason: "4 calls left: aiming at the 18 shards of the recent peak"},
		{name: "4 left, a planned scale-up: the day the past expects", fromPast: true, spent: 6, want: 18,
			reason: "aiming at the 18 shards of the day the stream's past days expect"},
		{name: "5 left: what it wants", spent: 5, want: 12},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := up
			d.PeakFromPast = c.fromPast
			got := Gate(d, spentHistory(c.spent), s, t0)
			if got.Target != c.want {
				t.Fatalf("target %d, want %d; %s", got.Target, c.want, got.Reason)
			}
			if c.reason != "" && !strings.Contains(got.Reason, c.reason) {
				t.Fatalf("reason %q does not say %q", got.Reason, c.reason)
			}
			if c.reason == "" && strings.Contains(got.Reason, "aiming at") {
				t.Fatalf("reason %q aims at the peak with calls to spare", got.Reason)
			}
		})
	}
}
