package sim

import (
	"math"
	"slices"
	"sync"
	"time"
)

// Oracle is the least shard-minutes that carry every minute: the sum of the
// minutes' needs, with no delay and no AWS limits.
func Oracle(needs []int) int64 {
	var n int64
	for _, d := range needs {
		n += int64(max(d, 1))
	}
	return n
}

// PlanRules are AWS's rules for a plan of shard counts, in minutes.
type PlanRules struct {
	// Window is the rolling quota window (1440 minutes).
	Window int
	// MaxCalls is how many changes the window may hold (10).
	MaxCalls int
	// Spacing is the least number of minutes between two changes: a change
	// takes effect ReshardTime after its call, and the stream refuses calls
	// while UPDATING. At least 1.
	Spacing int
}

// AWSPlanRules are AWS's UpdateShardCount rules for a given reshard time.
func AWSPlanRules(reshardTime time.Duration) PlanRules {
	return PlanRules{Window: 1440, MaxCalls: 10, Spacing: max(int((reshardTime+time.Minute-1)/time.Minute), 1)}
}

// Plan is a shard count for every minute.
type Plan struct {
	Counts       []int
	ShardMinutes int64
}

// Changes lists the minutes at which the count changes.
func (p Plan) Changes() []int {
	var out []int
	for t := 1; t < len(p.Counts); t++ {
		if p.Counts[t] != p.Counts[t-1] {
			out = append(out, t)
		}
	}
	return out
}

// Obeys reports whether the plan carries needs and keeps AWS's rules: every
// change at most doubles or halves the count (UpdateShardCount's limits), no
// change comes sooner than Spacing minutes after the previous one or after
// the start, and no Window holds more than MaxCalls changes.
func (p Plan) Obeys(needs []int, r PlanRules) bool {
	if len(p.Counts) != len(needs) {
		return false
	}
	for t, c := range p.Counts {
		if c < max(needs[t], 1) {
			return false
		}
	}
	ch := p.Changes()
	for i, t := range ch {
		a, b := p.Counts[t-1], p.Counts[t]
		if b > 2*a || 2*b < a {
			return false
		}
		prev := 0
		if i > 0 {
			prev = ch[i-1]
		}
		if t-prev < r.Spacing {
			return false
		}
		if i+r.MaxCalls < len(ch) && ch[i+r.MaxCalls]-t < r.Window {
			return false
		}
	}
	return true
}

// HindsightResult is the best plan that knows the whole trace in advance.
type HindsightResult struct {
	// Lower is a lower bound on the least shard-minutes of any plan that
	// obeys the rules: no plan, however clairvoyant, does better.
	Lower int64
	// Upper is the shard-minutes of Plan, a plan that obeys the rules.
	Upper int64
	// Exact is true when Lower == Upper: Plan is optimal.
	Exact bool
	// Plan is the best plan found that obeys the rules; its Counts are nil
	// when the trace was too large to reconstruct one (Upper is then still
	// the optimum of a variant whose plans obey the rules).
	Plan Plan
	// Elapsed is how long the computation took.
	Elapsed time.Duration
}

// maxReconstructBytes bounds the memory one programme uses to reconstruct
// its plan.
const maxReconstructBytes = 256 << 20

// Hindsight computes the least shard-minutes of a plan that carries every
// minute's need and changes the count only with UpdateShardCount calls
// within AWS's rules (Plan.Obeys), by dynamic programming.
//
// The rolling window makes the exact problem non-Markov: whether a change is
// allowed depends on the times of the last MaxCalls changes. Hindsight
// therefore solves two Markov variants exactly and brackets the answer. Both
// cut time into fixed blocks and allow at most MaxCalls changes in any two
// consecutive blocks:
//
//   - Lower, blocks of Window/2 minutes: two consecutive blocks make one
//     window, so every plan that obeys the rolling rule obeys this one, and
//     its optimum is a lower bound on the true optimum.
//   - Upper, blocks of Window minutes: a window overlaps at most two
//     consecutive blocks, so every plan of this variant obeys the rolling
//     rule, and its optimum is an upper bound.
//
// If an optimal plan of Lower obeys the rolling rule (checked), it is
// optimal and Exact is set; so it is when the bounds meet.
//
// State per minute: the count c in 1..D (D the peak need; no plan gains from
// more), the changes made in the previous and the current block (p, u with
// p+u <= MaxCalls: (K+1)(K+2)/2 pairs for K = MaxCalls), and the minutes
// since the last change capped at Spacing (S+1 values). A change goes from c
// to any c' in [ceil(c/2), 2c], AWS's per-call limits, so a plan that must
// more than double takes several changes, each Spacing apart. The minimum
// over c for each c' is a sliding-window minimum, since both ends of the
// window rise with c'. A minute costs O(D K^2 S), the whole O(T D K^2 S) for
// T minutes. Plans are reconstructed by recomputing segments of about
// sqrt(T) minutes from checkpoints, which doubles the time and keeps memory
// at O(sqrt(T) D K^2 S); beyond maxReconstructBytes only the costs are
// computed. A programme too large to run (D T of 2^29 or more, or more than
// 4e10 state updates, about a minute of work) is not run: Lower is then the
// oracle and Plan the peak need held constant.
//
// Measured with BenchmarkHindsight at a peak of 50 shards (D = 50, K = 10,
// S = 3) on one core of a shared 2-core machine: the 720-minute EPA trace
// 0.06 s, the 39,693-minute NASA trace 2.8 s, the 64,800-minute WorldCup
// trace 4.6 s, for both programmes; they run in parallel when cores allow.
func Hindsight(needs []int, r PlanRules) HindsightResult { return solveHindsight(needs, r, true) }

// HindsightBounds is Hindsight without reconstructing the upper programme's
// plan, about a quarter of the work: Lower, Upper and Exact are the same,
// and Plan is Hindsight's when the lower programme's plan obeys the rolling
// rule (it is always reconstructed, to check that); otherwise its Counts
// are nil.
func HindsightBounds(needs []int, r PlanRules) HindsightResult {
	return solveHindsight(needs, r, false)
}

func solveHindsight(needs []int, r PlanRules, upperPlan bool) HindsightResult {
	began := time.Now()
	r.Spacing = max(r.Spacing, 1)
	r.Window = max(r.Window, 2)
	if len(needs) == 0 {
		return HindsightResult{Exact: true, Elapsed: time.Since(began)}
	}
	d := 1
	for _, n := range needs {
		d = max(d, n)
	}
	pairs := (r.MaxCalls + 1) * (r.MaxCalls + 2) / 2
	if int64(d)*int64(len(needs)) >= maxProgrammeCost ||
		float64(len(needs))*float64(d)*float64(pairs)*float64(r.Spacing+1) > maxProgrammeWork {
		// Too large to solve: the oracle is a lower bound, and the peak need
		// held constant is a plan that obeys the rules.
		counts := make([]int, len(needs))
		for i := range counts {
			counts[i] = d
		}
		plan := Plan{Counts: counts, ShardMinutes: int64(d) * int64(len(needs))}
		return HindsightResult{Lower: Oracle(needs), Upper: plan.ShardMinutes, Plan: plan, Elapsed: time.Since(began)}
	}
	type run struct {
		dp   *planDP
		cost int64
		plan Plan
	}
	runs := []*run{
		{dp: newPlanDP(needs, d, r.Window/2, r.MaxCalls, r.Spacing)},
		{dp: newPlanDP(needs, d, r.Window, r.MaxCalls, r.Spacing)},
	}
	runs[1].dp.noPlan = !upperPlan
	var wg sync.WaitGroup
	for _, ru := range runs {
		wg.Go(func() { ru.cost, ru.plan = ru.dp.solve() })
	}
	wg.Wait()

	lower, upper := runs[0], runs[1]
	res := HindsightResult{Lower: lower.cost, Upper: upper.cost, Plan: upper.plan}
	if lower.plan.Counts != nil && lower.plan.Obeys(needs, r) {
		res.Upper, res.Plan = lower.cost, lower.plan
	}
	res.Exact = res.Lower == res.Upper
	res.Elapsed = time.Since(began)
	return res
}

// cell is a value of the programme: shard-minutes so far. int32 halves the
// memory traffic; maxProgrammeCost keeps every value, infinite ones
// included, clear of overflow.
type cell = int32

// infCost marks a state no plan reaches. A minute adds at most D to a value,
// and D times T stays below maxProgrammeCost, so infinite values stay at or
// above infCost and below the int32 limit.
const infCost cell = 1 << 30

// maxProgrammeCost bounds D times T for the programme.
const maxProgrammeCost = 1 << 29

// maxProgrammeWork bounds the cell updates of one programme (T times its
// states per minute), about a minute of work on one core.
const maxProgrammeWork = 4e10

// planDP is the dynamic programme over (count, changes in the previous and
// the current block, minutes since the last change) for fixed blocks of
// block minutes with at most k changes in any two consecutive blocks.
type planDP struct {
	needs   []int
	d, k, s int
	block   int
	// pairs[i] is the i-th (previous, current) pair of change counts; index
	// maps a pair back to i.
	pairs [][2]int
	index [][]int
	// states per minute
	states  int
	mins    []cell
	deque   []int
	scratch []cell
	// noPlan skips reconstructing a plan: solve returns the optimum only.
	noPlan bool
}

func newPlanDP(needs []int, d, block, calls, spacing int) *planDP {
	p := &planDP{needs: needs, d: d, k: calls, s: spacing, block: block}
	p.index = make([][]int, calls+1)
	for prev := 0; prev <= calls; prev++ {
		p.index[prev] = make([]int, calls+1)
		for cur := 0; cur <= calls; cur++ {
			p.index[prev][cur] = -1
			if prev+cur <= calls {
				p.index[prev][cur] = len(p.pairs)
				p.pairs = append(p.pairs, [2]int{prev, cur})
			}
		}
	}
	p.states = len(p.pairs) * (spacing + 1) * d
	p.mins, p.deque = make([]cell, d), make([]int, d)
	p.scratch = make([]cell, p.states)
	return p
}

func (p *planDP) at(pair, j, c int) int { return (pair*(p.s+1)+j)*p.d + c }

func (p *planDP) row(v []cell, pair, j int) []cell {
	i := p.at(pair, j, 0)
	return v[i : i+p.d : i+p.d]
}

func (p *planDP) decode(i int) (pair, j, c int) {
	c = i % p.d
	i /= p.d
	return i / (p.s + 1), i % (p.s + 1), c
}

// isBlockStart reports whether a new block begins at minute t.
func (p *planDP) isBlockStart(t int) bool { return t > 0 && t%p.block == 0 }

// initial is V for minute 0: any count that carries it, as if just set, so
// that the first change comes Spacing minutes later at the earliest.
func (p *planDP) initial() []cell {
	v := make([]cell, p.states)
	for i := range v {
		v[i] = infCost
	}
	row := p.row(v, p.index[0][0], 0)
	for c := max(p.needs[0], 1) - 1; c < p.d; c++ {
		row[c] = cell(c + 1)
	}
	return v
}

// reset is V at a block boundary: the current block's changes become the
// previous block's.
func (p *planDP) reset(v, out []cell) {
	for i := range out {
		out[i] = infCost
	}
	for pi, pc := range p.pairs {
		to := p.index[pc[1]][0]
		for j := 0; j <= p.s; j++ {
			src, dst := p.row(v, pi, j), p.row(out, to, j)
			for c, x := range src {
				dst[c] = min(dst[c], x)
			}
		}
	}
}

// transition computes V for minute t into next from V for minute t-1.
func (p *planDP) transition(t int, prev, next []cell) {
	src := prev
	if p.isBlockStart(t) {
		p.reset(prev, p.scratch)
		src = p.scratch
	}
	need := max(p.needs[t], 1)
	for pi, pc := range p.pairs {
		// Keep the count: one more minute since the last change.
		for j := 1; j < p.s; j++ {
			addCost(p.row(next, pi, j), p.row(src, pi, j-1), need)
		}
		minAddCost(p.row(next, pi, p.s), p.row(src, pi, p.s-1), p.row(src, pi, p.s), need)
		// Change the count: one more change in this block, from a state at
		// least Spacing-1 minutes after the previous change, from c in
		// [ceil(c'/2), 2c'] (1-based).
		dst := p.row(next, pi, 0)
		from := -1
		if pc[1] > 0 {
			from = p.index[pc[0]][pc[1]-1]
		}
		if from < 0 {
			for c := range dst {
				dst[c] = infCost
			}
			continue
		}
		mins := p.mins
		minAddCost(mins, p.row(src, from, p.s-1), p.row(src, from, p.s), 0)
		head, tail, hi := 0, 0, -1
		for c2 := 1; c2 <= p.d; c2++ {
			lo, up := (c2+1)/2-1, min(2*c2, p.d)-1 // 0-based window
			for hi < up {
				hi++
				for tail > head && mins[p.deque[tail-1]] >= mins[hi] {
					tail--
				}
				p.deque[tail] = hi
				tail++
			}
			for p.deque[head] < lo {
				head++
			}
			dst[c2-1] = mins[p.deque[head]]
		}
		addCost(dst, dst, need)
	}
}

// addCost sets dst to src plus the cost of a minute at each count: counts
// below need cannot carry it.
func addCost(dst, src []cell, need int) {
	src = src[:len(dst)]
	n := min(need-1, len(dst))
	for c := 0; c < n; c++ {
		dst[c] = infCost
	}
	for c := n; c < len(dst); c++ {
		dst[c] = src[c] + cell(c+1)
	}
}

// minAddCost sets dst to the smaller of a and b plus the cost of a minute;
// need 0 adds nothing.
func minAddCost(dst, a, b []cell, need int) {
	a, b = a[:len(dst)], b[:len(dst)]
	if need == 0 {
		for c := range dst {
			dst[c] = min(a[c], b[c])
		}
		return
	}
	n := min(need-1, len(dst))
	for c := 0; c < n; c++ {
		dst[c] = infCost
	}
	for c := n; c < len(dst); c++ {
		dst[c] = min(a[c], b[c]) + cell(c+1)
	}
}

// solve runs the programme forward and returns the optimum and, when memory
// allows, an optimal plan.
func (p *planDP) solve() (int64, Plan) {
	T := len(p.needs)
	seg := max(int(math.Sqrt(float64(T))), 1)
	reconstruct := !p.noPlan && int64(seg+T/seg+2)*int64(p.states)*4 <= maxReconstructBytes
	var checkpoints [][]cell // V of the minute before each segment
	v, next := p.initial(), make([]cell, p.states)
	for t := 1; t < T; t++ {
		if reconstruct && t%seg == 0 {
			checkpoints = append(checkpoints, slices.Clone(v))
		}
		p.transition(t, v, next)
		v, next = next, v
	}
	best := slices.Min(v)
	if best >= infCost {
		return int64(best), Plan{}
	}
	if !reconstruct {
		return int64(best), Plan{ShardMinutes: int64(best)}
	}
	return int64(best), p.reconstruct(v, best, seg, checkpoints)
}

// reconstruct walks back from the best final state, recomputing one segment
// at a time from its checkpoint.
func (p *planDP) reconstruct(final []cell, best cell, seg int, checkpoints [][]cell) Plan {
	T := len(p.needs)
	counts := make([]int, T)
	state := slices.Index(final, best)
	rows := make([][]cell, seg)
	for i := range rows {
		rows[i] = make([]cell, p.states)
	}
	for si := (T - 1) / seg; si >= 0; si-- {
		t0, t1 := si*seg, min((si+1)*seg, T)
		if t0 == 0 {
			copy(rows[0], p.initial())
		} else {
			p.transition(t0, checkpoints[si-1], rows[0])
		}
		for t := t0 + 1; t < t1; t++ {
			p.transition(t, rows[t-t0-1], rows[t-t0])
		}
		for t := t1 - 1; t >= t0; t-- {
			_, _, c := p.decode(state)
			counts[t] = c + 1
			if t == 0 {
				break
			}
			prev := rows[max(t-t0-1, 0)]
			if t == t0 {
				prev = checkpoints[si-1]
			}
			state = p.predecessor(t, prev, state, rows[t-t0][state]-cell(c+1))
		}
	}
	return Plan{Counts: counts, ShardMinutes: int64(best)}
}

// predecessor finds the state of minute t-1 (in prev) that leads to state at
// minute t with value val before minute t's cost.
func (p *planDP) predecessor(t int, prev []cell, state int, val cell) int {
	src := prev
	if p.isBlockStart(t) {
		p.reset(prev, p.scratch)
		src = p.scratch
	}
	pi, j, c := p.decode(state)
	found := -1
	switch {
	case j == 0:
		pc := p.pairs[pi]
		from := p.index[pc[0]][pc[1]-1]
		c1 := c + 1
		for c0 := (c1 + 1) / 2; c0 <= min(2*c1, p.d) && found < 0; c0++ {
			for _, j0 := range []int{p.s - 1, p.s} {
				if i := p.at(from, j0, c0-1); src[i] == val {
					found = i
					break
				}
			}
		}
	case j < p.s:
		found = p.at(pi, j-1, c)
	case src[p.at(pi, p.s-1, c)] == val:
		found = p.at(pi, p.s-1, c)
	default:
		found = p.at(pi, p.s, c)
	}
	if found < 0 || src[found] != val {
		panic("sim: hindsight reconstruction lost its way")
	}
	if !p.isBlockStart(t) {
		return found
	}
	// Undo the reset: find the pair of minute t-1 that became this one.
	rpi, rj, rc := p.decode(found)
	cur := p.pairs[rpi][0]
	for prevCount := 0; prevCount+cur <= p.k; prevCount++ {
		if i := p.at(p.index[prevCount][cur], rj, rc); prev[i] == val {
			return i
		}
	}
	panic("sim: hindsight reconstruction lost its way at a block boundary")
}
