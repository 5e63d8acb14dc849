package sim

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// Matrix defaults: the peaks and metric delays the targets are judged at.
var (
	// DefaultMatrixPeaks are the peaks, in shards, each trace is scaled to.
	DefaultMatrixPeaks = []int{8, 50, 400}
	// DefaultMatrixMetricDelays are the CloudWatch delays each trace is
	// replayed with.
	DefaultMatrixMetricDelays = []time.Duration{time.Minute, 3 * time.Minute}
)

// MatrixOptions say what a target matrix replays.
type MatrixOptions struct {
	// Traces are replayed each at every peak and metric delay.
	Traces []Trace
	// Peaks are the shard counts each trace's busiest minute is scaled to
	// (DefaultMatrixPeaks when empty).
	Peaks []int
	// MetricDelays are the CloudWatch delays (DefaultMatrixMetricDelays
	// when empty).
	MetricDelays []time.Duration
	// Policies are replayed on each run (MatrixPolicies when empty).
	Policies []string
	// Model is the model of every run; its PeakShards and MetricDelay are
	// set from Peaks and MetricDelays.
	Model Model
	// Settings gives the default policy's settings for a trace whose
	// busiest minute needs peak shards (DefaultSettings when nil).
	Settings func(peak int) (policy.Settings, error)
	// Progress, when set, is called with the number of minutes simulated,
	// from several goroutines at once.
	Progress func(minutes int)
	// HindsightCache, when set, keeps the hindsight bounds between matrices.
	HindsightCache *HindsightCache
	// Warn, when set, is told what went wrong with the cache (the matrix
	// goes on without it), from several goroutines at once.
	Warn func(error)
}

// MatrixRun is one trace at one peak and metric delay, replayed under
// every policy. Its results carry no timeline and no calls (a matrix of
// long traces would not fit in memory otherwise).
type MatrixRun struct {
	Trace       string        `json:"trace"`
	PeakShards  int           `json:"peak_shards"`
	MetricDelay time.Duration `json:"metric_delay_ns"`
	Minutes     int           `json:"minutes"`
	Results     []Result      `json:"results"`
	// Err is why the run has no results, if it has none.
	Err error `json:"-"`
}

// Label names the run: trace, peak and metric delay.
func (r MatrixRun) Label() string {
	return fmt.Sprintf("%s @%d/%s", r.Trace, r.PeakShards, ShortDuration(r.MetricDelay))
}

// Result is the run's result under the named policy.
func (r MatrixRun) Result(name string) (Result, bool) {
	for _, res := range r.Results {
		if res.Policy == name {
			return res, true
		}
	}
	return Result{}, false
}

// RunMatrix replays every trace at every peak and metric delay under every
// policy, as many replays at once as GOMAXPROCS, and returns the runs in
// the order of traces, then peaks, then delays. A run that cannot be
// prepared (a trace with no records) has Err set; the returned error is
// the context's, or bad options.
func RunMatrix(ctx context.Context, o MatrixOptions) ([]MatrixRun, error) {
	if len(o.Peaks) == 0 {
		o.Peaks = DefaultMatrixPeaks
	}
	if len(o.MetricDelays) == 0 {
		o.MetricDelays = DefaultMatrixMetricDelays
	}
	if len(o.Policies) == 0 {
		o.Policies = MatrixPolicies()
	}
	if o.Settings == nil {
		o.Settings = func(peak int) (policy.Settings, error) { return DefaultSettings(peak), nil }
	}
	for _, n := range o.Policies {
		if err := checkPolicy(n); err != nil {
			return nil, err
		}
	}
	for _, p := range o.Peaks {
		if p < 1 {
			return nil, fmt.Errorf("peak %d: must be at least 1 shard", p)
		}
	}

	// A job is a hindsight plan (policy -1) or one replay. Every delay of a
	// trace and peak shares one prepared trace and one hindsight plan (the
	// delay changes neither), and the plans, the longest work, go first.
	type job struct {
		run    int
		policy int
	}
	var runs []MatrixRun
	var scenarios []*Scenario
	var plans, replays []job
	for _, t := range o.Traces {
		for _, peak := range o.Peaks {
			m := o.Model
			m.PeakShards = peak
			base, err := matrixScenario(t, m, o.Settings)
			if err == nil {
				base.Progress = o.Progress
				plans = append(plans, job{run: len(runs), policy: -1})
			}
			for _, delay := range o.MetricDelays {
				run := MatrixRun{Trace: t.Name, PeakShards: peak, MetricDelay: delay, Minutes: len(t.Minutes),
					Results: make([]Result, len(o.Policies))}
				var sc *Scenario
				if err != nil {
					run.Err, run.Results = err, nil
				} else {
					sc = base.withMetricDelay(delay)
					for p := range o.Policies {
						replays = append(replays, job{run: len(runs), policy: p})
					}
				}
				runs = append(runs, run)
				scenarios = append(scenarios, sc)
			}
		}
	}
	slices.SortStableFunc(plans, func(a, b job) int {
		return cmp.Compare(runs[b.run].Minutes*runs[b.run].PeakShards, runs[a.run].Minutes*runs[a.run].PeakShards)
	})
	jobs := append(plans, replays...)

	errs := make([]error, len(runs))
	var mu sync.Mutex
	next := make(chan job)
	var wg sync.WaitGroup
	for range max(runtime.GOMAXPROCS(0), 1) {
		wg.Go(func() {
			for j := range next {
				if j.policy < 0 {
					if err := scenarios[j.run].cachedHindsightBounds(o.HindsightCache); err != nil && o.Warn != nil {
						o.Warn(err)
					}
					continue
				}
				res, err := scenarios[j.run].Run(ctx, o.Policies[j.policy])
				res.Timeline, res.Calls = nil, nil
				runs[j.run].Results[j.policy] = res
				if err != nil {
					mu.Lock()
					errs[j.run] = errors.Join(errs[j.run], err)
					mu.Unlock()
				}
			}
		})
	}
	for _, j := range jobs {
		select {
		case next <- j:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i, err := range errs {
		if err != nil {
			runs[i].Err, runs[i].Results = err, nil
		}
	}
	return runs, nil
}

// MatrixPolicies are the policies a matrix replays by default: default and
// every baseline (see IsBaseline). The shard policy, which the targets do
// not judge and which costs the most to replay, is left out.
func MatrixPolicies() []string {
	var out []string
	for _, p := range Policies {
		if p == PolicyDefault || IsBaseline(p) {
			out = append(out, p)
		}
	}
	return out
}

// withMetricDelay is the scenario with another metric delay: the same
// prepared trace, settings and hindsight plan (the delay changes neither).
func (sc *Scenario) withMetricDelay(d time.Duration) *Scenario {
	out := *sc
	out.Model.MetricDelay = d
	return &out
}

// matrixScenario prepares one trace and peak of a matrix.
func matrixScenario(t Trace, m Model, settings func(int) (policy.Settings, error)) (*Scenario, error) {
	peak, err := PeakShards(t, m)
	if err != nil {
		return nil, err
	}
	s, err := settings(peak)
	if err != nil {
		return nil, err
	}
	return NewScenario(t, m, s)
}
