package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// MatrixReport is a target matrix's runs with the targets' verdict, as
// `simulate --matrix --json` prints it.
type MatrixReport struct {
	Targets Targets           `json:"targets"`
	Runs    []MatrixReportRun `json:"runs"`
	// MedianXHindsight is the median over the runs of default's
	// shard-hours against the hindsight bound.
	MedianXHindsight float64 `json:"median_x_hindsight"`
	// Passing counts the runs without a violation.
	Passing int `json:"passing"`
	// Violations are every violation, the median's included.
	Violations []Violation `json:"violations"`
	// Pass is true when there is no violation.
	Pass bool `json:"pass"`
	// FirstEpisodeOverLoss counts the runs whose first episode of losses
	// alone lost more than the loss target allows, and LaterOverLoss those
	// whose losses after it did: a first burst of a new regime may be lost
	// before the policy has seen one, the next must not be.
	FirstEpisodeOverLoss int `json:"first_episode_over_loss"`
	LaterOverLoss        int `json:"later_over_loss"`
	// BySeed sums up the scenario runs of each seed, when the scenarios
	// were replayed under more than one (simulate --matrix --seeds): a
	// policy built on the scenarios' own seeds should do as well on others.
	BySeed []SeedSummary `json:"by_seed,omitempty"`
}

// SeedSummary is the scenario runs of one seed in a MatrixReport.
type SeedSummary struct {
	// Seed is the seed, or "own" for each scenario's own.
	Seed             string  `json:"seed"`
	Runs             int     `json:"runs"`
	Passing          int     `json:"passing"`
	MedianXHindsight float64 `json:"median_x_hindsight"`
	MaxXHindsight    float64 `json:"max_x_hindsight"`
}

// scenarioSeed is the seed a scenario trace's name gives ("own" for the
// scenario's own); false for a trace that is not a scenario.
func scenarioSeed(trace string) (string, bool) {
	if !strings.HasPrefix(trace, ScenarioPrefix) {
		return "", false
	}
	if _, seed, ok := strings.Cut(trace, "@seed="); ok {
		return seed, true
	}
	return "own", true
}

// bySeed sums up the scenario runs of each seed, in the order the seeds
// first appear; nil when the runs have at most one seed.
func bySeed(runs []MatrixRun, reps []MatrixReportRun) []SeedSummary {
	var out []SeedSummary
	groups := map[string][]int{}
	for i, r := range runs {
		seed, ok := scenarioSeed(r.Trace)
		if !ok {
			continue
		}
		if _, seen := groups[seed]; !seen {
			out = append(out, SeedSummary{Seed: seed})
		}
		groups[seed] = append(groups[seed], i)
	}
	if len(out) < 2 {
		return nil
	}
	for k := range out {
		var rs []MatrixRun
		for _, i := range groups[out[k].Seed] {
			rs = append(rs, runs[i])
			if reps[i].Pass {
				out[k].Passing++
			}
			if d, ok := runs[i].Result(PolicyDefault); ok && runs[i].Err == nil {
				out[k].MaxXHindsight = math.Max(out[k].MaxXHindsight, d.XHindsight)
			}
		}
		out[k].Runs = len(rs)
		out[k].MedianXHindsight, _ = MedianXHindsight(rs)
	}
	return out
}

// MatrixReportRun is one run of a MatrixReport.
type MatrixReportRun struct {
	Trace       string      `json:"trace"`
	PeakShards  int         `json:"peak_shards"`
	MetricDelay string      `json:"metric_delay"`
	Minutes     int         `json:"minutes"`
	Error       string      `json:"error,omitempty"`
	Results     []Result    `json:"results,omitempty"`
	Violations  []Violation `json:"violations,omitempty"`
	Pass        bool        `json:"pass"`
}

// NewMatrixReport judges the runs against t.
func NewMatrixReport(runs []MatrixRun, t Targets) MatrixReport {
	rep := MatrixReport{Targets: t, Runs: make([]MatrixReportRun, len(runs)), Violations: []Violation{}}
	for i, r := range runs {
		vs := t.CheckRun(r)
		rr := MatrixReportRun{Trace: r.Trace, PeakShards: r.PeakShards, MetricDelay: ShortDuration(r.MetricDelay),
			Minutes: r.Minutes, Results: r.Results, Violations: vs, Pass: len(vs) == 0}
		if r.Err != nil {
			rr.Error = r.Err.Error()
		}
		if rr.Pass {
			rep.Passing++
		}
		if d, ok := r.Result(PolicyDefault); ok && r.Err == nil {
			first, later := t.lossOver(d)
			rep.FirstEpisodeOverLoss += first
			rep.LaterOverLoss += later
		}
		rep.Runs[i] = rr
		rep.Violations = append(rep.Violations, vs...)
	}
	rep.MedianXHindsight, _ = MedianXHindsight(runs)
	all := t.Check(runs)
	if len(all) > 0 && all[len(all)-1].Kind == ViolationMedianXHindsight {
		rep.Violations = append(rep.Violations, all[len(all)-1])
	}
	rep.Pass = len(rep.Violations) == 0
	rep.BySeed = bySeed(runs, rep.Runs)
	return rep
}

// lossOver is 1 for each of a run's first episode of losses and its losses
// after it that alone lost more than t allows, 0 otherwise.
func (t Targets) lossOver(d Result) (first, later int) {
	if pct(d.LostRecords-d.LostAfterFirstEpisode, d.OfferedRecords) > t.MaxLostPct {
		first = 1
	}
	if pct(d.LostAfterFirstEpisode, d.OfferedRecords) > t.MaxLostPct {
		later = 1
	}
	return first, later
}

// WriteMatrixJSON writes the report as one JSON object.
func WriteMatrixJSON(w io.Writer, rep MatrixReport) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteMatrixTable writes the report for people: one row per run with
// default's figures, its cost against each baseline and the verdict, then
// every violation in full and a summary.
func WriteMatrixTable(w io.Writer, rep MatrixReport) error {
	var baselines []string
	for _, r := range rep.Runs {
		for _, res := range r.Results {
			if IsBaseline(res.Policy) && !slices.Contains(baselines, res.Policy) {
				baselines = append(baselines, res.Policy)
			}
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "trace\tpeak\tdelay\tlost\tlost later\tthrottled\tcalls/24h\tx hindsight\t")
	for _, b := range baselines {
		fmt.Fprintf(tw, "vs %s\t", b)
	}
	fmt.Fprintln(tw, "verdict")
	for _, r := range rep.Runs {
		fmt.Fprintf(tw, "%s\t%d\t%s\t", r.Trace, r.PeakShards, r.MetricDelay)
		d, ok := reportResult(r.Results, PolicyDefault)
		if ok {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.2f\t", pctFigure(d.LostRecords, d.OfferedRecords), pctFigure(d.LostAfterFirstEpisode, d.OfferedRecords),
				pctFigure(d.ThrottledRecords, d.OfferedRecords), d.MaxReshardCalls24h, d.XHindsight)
		} else {
			fmt.Fprint(tw, "-\t-\t-\t-\t-\t")
		}
		for _, name := range baselines {
			b, okb := reportResult(r.Results, name)
			if !ok || !okb {
				fmt.Fprint(tw, "-\t")
				continue
			}
			fmt.Fprintf(tw, "%s\t", signedPct(costDelta(d.CostUSD, b.CostUSD)))
		}
		fmt.Fprintln(tw, verdict(r.Violations))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, v := range rep.Violations {
		fmt.Fprintf(w, "FAIL %s\n", v)
	}
	t := rep.Targets
	fmt.Fprintf(w, "\nmedian x hindsight: %.2f over %d runs (target at most %.2f)\n", rep.MedianXHindsight, len(rep.Runs), t.MaxMedianXHindsight)
	fmt.Fprintf(w, "runs passing: %d of %d\n", rep.Passing, len(rep.Runs))
	fmt.Fprintf(w, "runs losing more than %.3g%% in their first episode of losses alone: %d; after it (lost later): %d\n",
		t.MaxLostPct, rep.FirstEpisodeOverLoss, rep.LaterOverLoss)
	for _, g := range rep.BySeed {
		fmt.Fprintf(w, "  scenarios, seed %s: %d of %d passing, median x hindsight %.2f, at most %.2f\n", g.Seed, g.Passing, g.Runs, g.MedianXHindsight, g.MaxXHindsight)
	}
	result := "PASS"
	if !rep.Pass {
		result = "FAIL"
	}
	fmt.Fprintf(w, "targets: %s\n", result)
	fmt.Fprintf(w, `
lost, throttled: default's share of the offered records (targets: at most %.3g%% and %.3g%%); lost later: the share
lost after the first episode of losses (minutes that lost records, each within %s of the one before: a first
burst of a new regime may be lost, the next must not be; not a target of its own); calls/24h: default's
most UpdateShardCount calls in a rolling 24 h (at most %d); x hindsight: default's shard-hours against the hindsight
lower bound (at most %.2f on each run, %.2f at the median); vs BASELINE: default's cost against the baseline's
(a baseline that loses no more records and costs less dominates default: FAIL).
`, t.MaxLostPct, t.MaxThrottledPct, ShortDuration(LossEpisodeGap), t.MaxCalls24h, t.MaxXHindsight, t.MaxMedianXHindsight)
	return nil
}

func reportResult(rs []Result, name string) (Result, bool) {
	return MatrixRun{Results: rs}.Result(name)
}

// verdict is PASS, or FAIL with the kinds of violation (and the
// dominating baselines).
func verdict(vs []Violation) string {
	if len(vs) == 0 {
		return "PASS"
	}
	var kinds []string
	var dominated []string
	for _, v := range vs {
		if v.Kind == ViolationDominated {
			dominated = append(dominated, v.Baseline)
			continue
		}
		kinds = append(kinds, string(v.Kind))
	}
	if len(dominated) > 0 {
		kinds = append([]string{"dominated by " + strings.Join(dominated, ",")}, kinds...)
	}
	return "FAIL " + strings.Join(kinds, "; ")
}

// pctFigure is n as a share of of, to three decimals.
func pctFigure(n, of int64) string {
	switch p := pct(n, of); {
	case n == 0:
		return "0"
	case p < 0.001:
		return "<0.001%"
	default:
		return fmt.Sprintf("%.3f%%", p)
	}
}

func signedPct(p float64) string {
	if math.IsInf(p, 0) || math.IsNaN(p) {
		return "-"
	}
	return fmt.Sprintf("%+.0f%%", p)
}
