package sim

import (
	"fmt"
	"math"
)

// Targets are what the default policy must show on every run of a target
// matrix (issue 11's "Done when"):
//   - no baseline both loses no more records than default and costs less;
//   - default loses at most MaxLostPct and throttles at most
//     MaxThrottledPct of the offered records;
//   - at most MaxCalls24h UpdateShardCount calls in any rolling 24 hours;
//   - shard-hours at most MaxXHindsight times the hindsight lower bound on
//     every run, and at most MaxMedianXHindsight times it at the median
//     over the runs.
type Targets struct {
	MaxLostPct          float64
	MaxThrottledPct     float64
	MaxCalls24h         int
	MaxXHindsight       float64
	MaxMedianXHindsight float64
}

// DefaultTargets are issue 11's targets.
var DefaultTargets = Targets{
	MaxLostPct: 0.05, MaxThrottledPct: 0.5, MaxCalls24h: 10,
	MaxXHindsight: 2.5, MaxMedianXHindsight: 1.6,
}

// ViolationKind names the target a violation misses.
type ViolationKind string

// The kinds of violation.
const (
	// ViolationMissing: the run failed or has no default result.
	ViolationMissing ViolationKind = "missing"
	// ViolationDominated: a baseline loses no more records and costs less.
	ViolationDominated ViolationKind = "dominated"
	// ViolationLost: default lost more than MaxLostPct of the records.
	ViolationLost ViolationKind = "lost"
	// ViolationThrottled: default throttled more than MaxThrottledPct.
	ViolationThrottled ViolationKind = "throttled"
	// ViolationCalls: more than MaxCalls24h UpdateShardCount calls in a
	// rolling 24 hours.
	ViolationCalls ViolationKind = "calls"
	// ViolationXHindsight: shard-hours above MaxXHindsight times the
	// hindsight bound on one run.
	ViolationXHindsight ViolationKind = "x-hindsight"
	// ViolationMedianXHindsight: the median over the runs above
	// MaxMedianXHindsight (Run is empty).
	ViolationMedianXHindsight ViolationKind = "median-x-hindsight"
)

// Violation is one target a matrix misses.
type Violation struct {
	// Run is the run's label; empty for a target over all runs.
	Run  string        `json:"run,omitempty"`
	Kind ViolationKind `json:"kind"`
	// Baseline names the dominating baseline of a ViolationDominated.
	Baseline string `json:"baseline,omitempty"`
	Reason   string `json:"reason"`
}

func (v Violation) String() string {
	if v.Run == "" {
		return fmt.Sprintf("%s: %s", v.Kind, v.Reason)
	}
	return fmt.Sprintf("%s: %s: %s", v.Run, v.Kind, v.Reason)
}

// IsBaseline says whether the named policy is a baseline the default
// policy is judged against: every policy of Policies but default, shard
// (default plus shard-level scaling) and the on-demand modes, which are not
// autoscalers but the alternative to one (docs/costs.md compares them).
func IsBaseline(name string) bool {
	return name != PolicyDefault && name != PolicyShard && name != PolicyOnDemand && name != PolicyAdvantage
}

// CheckTargets returns the matrix's violations of DefaultTargets, run by
// run in order, then the median's.
func CheckTargets(runs []MatrixRun) []Violation { return DefaultTargets.Check(runs) }

// Check returns the matrix's violations of t, run by run in order, then the
// median's.
func (t Targets) Check(runs []MatrixRun) []Violation {
	var out []Violation
	for _, r := range runs {
		out = append(out, t.CheckRun(r)...)
	}
	if med, n := MedianXHindsight(runs); n > 0 && med > t.MaxMedianXHindsight {
		out = append(out, Violation{Kind: ViolationMedianXHindsight,
			Reason: fmt.Sprintf("median shard-hours %.2fx the hindsight bound over %d runs, above %.2fx", med, n, t.MaxMedianXHindsight)})
	}
	return out
}

// CheckRun returns one run's violations of t (the median aside).
func (t Targets) CheckRun(r MatrixRun) []Violation {
	label := r.Label()
	fail := func(kind ViolationKind, format string, args ...any) Violation {
		return Violation{Run: label, Kind: kind, Reason: fmt.Sprintf(format, args...)}
	}
	if r.Err != nil {
		return []Violation{fail(ViolationMissing, "the run failed: %v", r.Err)}
	}
	d, ok := r.Result(PolicyDefault)
	if !ok {
		return []Violation{fail(ViolationMissing, "no result for the default policy")}
	}
	var out []Violation
	for _, b := range r.Results {
		if IsBaseline(b.Policy) && b.LostRecords <= d.LostRecords && b.CostUSD < d.CostUSD {
			v := fail(ViolationDominated, "%s loses %s records (default %s) and costs $%.2f, less than default's $%.2f",
				b.Policy, thousands(float64(b.LostRecords), 0), thousands(float64(d.LostRecords), 0), b.CostUSD, d.CostUSD)
			v.Baseline = b.Policy
			out = append(out, v)
		}
	}
	if p := pct(d.LostRecords, d.OfferedRecords); p > t.MaxLostPct {
		out = append(out, fail(ViolationLost, "default lost %.3g%% of the offered records, above %.3g%%", p, t.MaxLostPct))
	}
	if p := pct(d.ThrottledRecords, d.OfferedRecords); p > t.MaxThrottledPct {
		out = append(out, fail(ViolationThrottled, "default throttled %.3g%% of the offered records, above %.3g%%", p, t.MaxThrottledPct))
	}
	if d.MaxReshardCalls24h > t.MaxCalls24h {
		out = append(out, fail(ViolationCalls, "default made %d UpdateShardCount calls in a rolling 24 h, above %d", d.MaxReshardCalls24h, t.MaxCalls24h))
	}
	if d.XHindsight > t.MaxXHindsight {
		out = append(out, fail(ViolationXHindsight, "default used %.2fx the hindsight bound's shard-hours, above %.2fx", d.XHindsight, t.MaxXHindsight))
	}
	return out
}

// MedianXHindsight is the median over the runs of the default policy's
// shard-hours against the hindsight bound, and how many runs it is over
// (runs without a default result are left out).
func MedianXHindsight(runs []MatrixRun) (median float64, n int) {
	var xs []float64
	for _, r := range runs {
		if d, ok := r.Result(PolicyDefault); ok && r.Err == nil {
			xs = append(xs, d.XHindsight)
		}
	}
	median, _ = medianMean(xs)
	return median, len(xs)
}

// pct is n as a percentage of of (0 when of is 0).
func pct(n, of int64) float64 {
	if of <= 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

// costDelta is how much more (positive) or less (negative) a costs than b,
// in per cent of b.
func costDelta(a, b float64) float64 {
	if b <= 0 {
		return math.Inf(1)
	}
	return 100 * (a/b - 1)
}
