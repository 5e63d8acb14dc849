package sim

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestOracle(t *testing.T) {
	if got := Oracle([]int{1, 3, 0, 2}); got != 7 {
		t.Errorf("got %d, want 7 (a minute needs at least one shard)", got)
	}
}

func TestNeedOf(t *testing.T) {
	tests := []struct {
		name    string
		records int64
		size    float64
		want    int
	}{
		{name: "idle", records: 0, size: 1024, want: 1},
		{name: "exactly one shard", records: 60_000, size: 1024, want: 1},
		{name: "one record over", records: 60_001, size: 1024, want: 2},
		{name: "bytes bound", records: 60_000, size: 40 * 1024, want: 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := needOf(tt.records, tt.size); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestHindsightHandSolved(t *testing.T) {
	day := PlanRules{Window: 1440, MaxCalls: 10, Spacing: 1}
	tests := []struct {
		name  string
		needs []int
		rules PlanRules
		want  int64
		plan  []int
	}{
		{name: "constant", needs: []int{3, 3, 3, 3}, rules: day, want: 12, plan: []int{3, 3, 3, 3}},
		// 1 -> 4 takes two calls (x2 at most each): 1,1,2,4,4,4.
		{name: "doubling twice", needs: []int{1, 1, 1, 4, 4, 4}, rules: day, want: 16, plan: []int{1, 1, 2, 4, 4, 4}},
		// Two minutes between calls: 1->2->4 no longer fits, start at 2.
		{name: "spacing", needs: []int{1, 1, 1, 4, 4, 4}, rules: PlanRules{Window: 1440, MaxCalls: 10, Spacing: 2},
			want: 18, plan: []int{2, 2, 2, 4, 4, 4}},
		// One call per 6 minutes: going down and up again is not allowed.
		{name: "quota", needs: []int{2, 1, 1, 1, 1, 2}, rules: PlanRules{Window: 6, MaxCalls: 1, Spacing: 1},
			want: 12, plan: []int{2, 2, 2, 2, 2, 2}},
		{name: "quota spent late", needs: []int{2, 2, 1, 1, 1, 1, 1, 1}, rules: PlanRules{Window: 6, MaxCalls: 1, Spacing: 1},
			want: 10, plan: []int{2, 2, 1, 1, 1, 1, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Hindsight(tt.needs, tt.rules)
			if !h.Exact || h.Lower != tt.want || h.Upper != tt.want {
				t.Errorf("got lower %d upper %d exact %v, want %d", h.Lower, h.Upper, h.Exact, tt.want)
			}
			if !slices.Equal(h.Plan.Counts, tt.plan) {
				t.Errorf("plan %v, want %v", h.Plan.Counts, tt.plan)
			}
		})
	}
}

// On tiny inputs every plan can be enumerated: the programme's variants must
// find exactly the brute-force optima of the same variants, and bracket the
// brute-force optimum of the rolling rule.
func TestHindsightAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for i := range 400 {
		n := 3 + rng.IntN(6)
		needs := make([]int, n)
		for j := range needs {
			needs[j] = 1 + rng.IntN(3)
			if rng.IntN(3) == 0 {
				needs[j] = 1 + rng.IntN(6)
			}
		}
		r := PlanRules{Window: 2 + rng.IntN(5), MaxCalls: 1 + rng.IntN(3), Spacing: 1 + rng.IntN(2)}
		d := slices.Max(needs)

		rolling := bruteForce(needs, d, func(p Plan) bool { return p.Obeys(needs, r) })
		lowerVariant := bruteForce(needs, d, func(p Plan) bool { return obeysPairs(p, needs, r, r.Window/2) })
		upperVariant := bruteForce(needs, d, func(p Plan) bool { return obeysPairs(p, needs, r, r.Window) })

		lo, _ := newPlanDP(needs, d, max(r.Window/2, 1), r.MaxCalls, r.Spacing).solve()
		up, upPlan := newPlanDP(needs, d, r.Window, r.MaxCalls, r.Spacing).solve()
		if lo != lowerVariant || up != upperVariant {
			t.Fatalf("case %d %v %+v: programme %d/%d, brute force %d/%d", i, needs, r, lo, up, lowerVariant, upperVariant)
		}
		if upPlan.ShardMinutes != up || cost(upPlan.Counts) != up || !obeysPairs(upPlan, needs, r, r.Window) {
			t.Fatalf("case %d: reconstructed plan %v costs %d, want %d", i, upPlan.Counts, cost(upPlan.Counts), up)
		}

		h := Hindsight(needs, r)
		if h.Lower > rolling || h.Upper < rolling {
			t.Fatalf("case %d %v %+v: [%d, %d] does not bracket the optimum %d", i, needs, r, h.Lower, h.Upper, rolling)
		}
		if h.Exact && h.Lower != rolling {
			t.Fatalf("case %d: exact %d, optimum %d", i, h.Lower, rolling)
		}
		if !h.Plan.Obeys(needs, r) || cost(h.Plan.Counts) != h.Upper {
			t.Fatalf("case %d: plan %v does not obey or costs %d, not %d", i, h.Plan.Counts, cost(h.Plan.Counts), h.Upper)
		}
		b := HindsightBounds(needs, r)
		if b.Lower != h.Lower || b.Upper != h.Upper || b.Exact != h.Exact || (b.Plan.Counts != nil && !slices.Equal(b.Plan.Counts, h.Plan.Counts)) {
			t.Fatalf("case %d: bounds %d/%d exact %v, Hindsight %d/%d exact %v", i, b.Lower, b.Upper, b.Exact, h.Lower, h.Upper, h.Exact)
		}
	}
}

// bruteForce is the least cost of a plan with counts in 1..d that ok accepts.
func bruteForce(needs []int, d int, ok func(Plan) bool) int64 {
	best := int64(infCost)
	counts := make([]int, len(needs))
	var walk func(i int)
	walk = func(i int) {
		if i == len(needs) {
			p := Plan{Counts: counts}
			if c := cost(counts); c < best && ok(p) {
				best = c
			}
			return
		}
		for c := needs[i]; c <= d; c++ {
			counts[i] = c
			walk(i + 1)
		}
	}
	walk(0)
	return best
}

func cost(counts []int) int64 {
	var n int64
	for _, c := range counts {
		n += int64(c)
	}
	return n
}

// obeysPairs is Obeys with the rolling window replaced by fixed blocks of
// block minutes, at most MaxCalls changes in any two consecutive blocks.
func obeysPairs(p Plan, needs []int, r PlanRules, block int) bool {
	block = max(block, 1)
	loose := r
	loose.Window, loose.MaxCalls = 1, len(needs)+1 // no rolling check
	if !p.Obeys(needs, loose) {
		return false
	}
	perBlock := make([]int, len(needs)/block+2)
	for _, t := range p.Changes() {
		perBlock[t/block]++
	}
	for b := range perBlock {
		if perBlock[b] > r.MaxCalls || (b+1 < len(perBlock) && perBlock[b]+perBlock[b+1] > r.MaxCalls) {
			return false
		}
	}
	return true
}

func TestPlanObeys(t *testing.T) {
	r := PlanRules{Window: 10, MaxCalls: 2, Spacing: 2}
	needs := []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}
	tests := []struct {
		name   string
		counts []int
		want   bool
	}{
		{name: "steady", counts: []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, want: true},
		{name: "more than double", counts: []int{1, 1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3}},
		{name: "below half", counts: []int{5, 5, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2}},
		{name: "too soon after the start", counts: []int{1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2}},
		{name: "too soon after a change", counts: []int{1, 1, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4}},
		{name: "three in a window", counts: []int{1, 1, 2, 2, 1, 1, 2, 2, 2, 2, 2, 2}},
		{name: "below need", counts: []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (Plan{Counts: tt.counts}).Obeys(needs, r); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	// Three changes, the first a whole window before the third.
	spread := Plan{Counts: []int{1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 2}}
	if !spread.Obeys(append(needs, 1), r) {
		t.Errorf("changes at 2, 6 and 12 in windows of 10 refused")
	}
}

func TestAWSPlanRules(t *testing.T) {
	if r := AWSPlanRules(3 * time.Minute); r.Window != 1440 || r.MaxCalls != 10 || r.Spacing != 3 {
		t.Errorf("got %+v", r)
	}
	if r := AWSPlanRules(90 * time.Second); r.Spacing != 2 {
		t.Errorf("90s: spacing %d, want 2", r.Spacing)
	}
}

// A programme too large to run falls back to bounds that still hold.
func TestHindsightTooLarge(t *testing.T) {
	needs := make([]int, 1000)
	for i := range needs {
		needs[i] = 1 + i%7
	}
	needs[500] = 600_000
	r := AWSPlanRules(3 * time.Minute)
	h := Hindsight(needs, r)
	if h.Exact || h.Lower != Oracle(needs) || h.Upper != 600_000*1000 || !h.Plan.Obeys(needs, r) {
		t.Errorf("got lower %d upper %d exact %v", h.Lower, h.Upper, h.Exact)
	}
}
