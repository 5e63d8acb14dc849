package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/sim"
)

// defaultTraceDir is where the shared traces live, beside the project.
const defaultTraceDir = "../shared/traces"

// matrixFlags are the flags of simulate --matrix.
type matrixFlags struct {
	on           bool
	peaks        string
	metricDelays string
	scenarios    string
	seeds        string
	traces       string
	cache        string
	against      string
}

func addMatrixFlags(fl *pflag.FlagSet, f *matrixFlags) {
	fl.BoolVar(&f.on, "matrix", false, "replay every scenario and shared trace at each peak and metric delay under every policy and check the default policy's targets")
	fl.StringVar(&f.peaks, "peaks", "8,50,400", "--matrix: peaks in shards, comma-separated")
	fl.StringVar(&f.metricDelays, "metric-delays", "1m,3m", "--matrix: CloudWatch delays, comma-separated")
	fl.StringVar(&f.scenarios, "scenarios", "all", "--matrix: scenarios to replay: all, none, or names comma-separated")
	fl.StringVar(&f.seeds, "seeds", "0", "--matrix: replay each scenario under each of these seeds, comma-separated (0: the scenario's own), to see the policy on traces it was not built on")
	fl.StringVar(&f.traces, "traces", defaultTraceDir, "--matrix: also replay every *.csv trace in this directory (none: no files)")
	fl.StringVar(&f.cache, "hindsight-cache", "", "--matrix: keep the hindsight bounds in this directory and reuse them (they depend on the traces, not on the policy)")
	fl.StringVar(&f.against, "against", "", "--matrix: compare default run by run with an earlier report written by --matrix --json to this file: passes, median and mean x hindsight, runs that fell and rose, runs that lost or throttled more")
}

// readMatrixReport reads a report written by simulate --matrix --json.
func readMatrixReport(path string) (sim.MatrixReport, error) {
	var rep sim.MatrixReport
	b, err := os.ReadFile(path)
	if err != nil {
		return rep, fmt.Errorf("--against: %w", err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return rep, fmt.Errorf("--against %s: not a report of simulate --matrix --json: %w", path, err)
	}
	if len(rep.Runs) == 0 {
		return rep, fmt.Errorf("--against %s: no runs: not a report of simulate --matrix --json", path)
	}
	return rep, nil
}

// listScenarios prints the scenario library: name, length, description.
func listScenarios(stdout io.Writer) error {
	for _, g := range sim.Scenarios() {
		fmt.Fprintf(stdout, "%-17s %5.1f days  peak %3d  %s\n", g.Name, float64(g.Minutes)/1440, g.PeakShards, g.Description)
	}
	fmt.Fprintln(stdout, "\nreplay one with: kinesis-autoscaler simulate --scenario NAME [--peak-shards N] [--seed N]")
	return nil
}

// runMatrix runs simulate --matrix; changed says whether a flag was given on the command line.
func runMatrix(ctx context.Context, f simulateFlags, changed func(flag string) bool, stdout, stderr io.Writer) error {
	switch {
	case f.trace != "" || f.fromCloudWatch != "" || f.scenario != "":
		return badInput(errors.New("--matrix replays the scenarios and the --traces directory; it excludes --trace, --from-cloudwatch and --scenario"))
	case f.policy != "":
		return badInput(errors.New("--matrix replays every policy; it excludes --policy"))
	case f.timeline != "" || f.chart != "":
		return badInput(errors.New("--matrix writes no timeline or chart; replay one run with --scenario or --trace for those"))
	case changed("peak-shards") || changed("metric-delay"):
		return badInput(errors.New("--matrix takes its peaks from --peaks and its delays from --metric-delays, not --peak-shards or --metric-delay"))
	case changed("seed") || changed("key-skew") || changed("hot-key"):
		return badInput(errors.New("--matrix replays each trace with even keys and the seeds of --seeds; it excludes --seed, --key-skew and --hot-key"))
	case f.matrix.against != "" && f.json:
		return badInput(errors.New("--against prints its comparison after the table; it excludes --json"))
	}
	var before sim.MatrixReport
	if f.matrix.against != "" {
		// Read before the replay: a wrong file is said at once, not after it.
		var err error
		if before, err = readMatrixReport(f.matrix.against); err != nil {
			return badInput(err)
		}
	}
	peaks, err := parsePeaks(f.matrix.peaks)
	if err != nil {
		return badInput(err)
	}
	delays, err := parseDelays(f.matrix.metricDelays)
	if err != nil {
		return badInput(err)
	}
	seeds, err := parseSeeds(f.matrix.seeds)
	if err != nil {
		return badInput(err)
	}
	traces, err := matrixScenarios(f.matrix.scenarios, seeds)
	if err != nil {
		return badInput(err)
	}
	files, err := matrixTraceFiles(f.matrix.traces, changed("traces"), stderr)
	if err != nil {
		return err
	}
	traces = append(traces, files...)
	if len(traces) == 0 {
		return badInput(errors.New("--matrix has nothing to replay: --scenarios none and no trace files"))
	}
	model := sim.Model{
		RecordBytes: f.recordBytes, ProducerTTL: f.producerTTL, MetricDelay: delays[0], ReshardTime: f.reshardTime,
		Prices: f.prices, PeakShards: peaks[0], WarmStart: f.warmStart,
	}
	if err := model.Validate(); err != nil {
		return badInput(err)
	}
	opts := sim.MatrixOptions{
		Traces: traces, Peaks: peaks, MetricDelays: delays, Model: model,
		Settings: func(peak int) (policy.Settings, error) {
			s, _, err := defaultPolicySettings(f.config, f.headroom, peak)
			return s, err
		},
	}
	if f.matrix.cache != "" {
		opts.HindsightCache = &sim.HindsightCache{Dir: f.matrix.cache}
		var once sync.Once
		opts.Warn = func(err error) {
			once.Do(func() { fmt.Fprintf(stderr, "note: %v; the matrix goes on without it\n", err) })
		}
	}
	if f.config != "" || f.headroom != "" {
		if _, _, err := defaultPolicySettings(f.config, f.headroom, peaks[0]); err != nil {
			return badInput(err)
		}
	}
	var minutes int
	for _, t := range traces {
		minutes += len(t.Minutes)
	}
	finish := matrixProgress(&opts, minutes*len(peaks)*len(delays)*len(sim.MatrixPolicies()), stderr)
	start := time.Now()
	runs, err := sim.RunMatrix(ctx, opts)
	finish()
	if err != nil {
		return err
	}
	rep := sim.NewMatrixReport(runs, sim.DefaultTargets)
	if f.json {
		return sim.WriteMatrixJSON(stdout, rep)
	}
	fmt.Fprintf(stdout, "target matrix: %d traces x peaks %s x metric delays %s, policies %s; default policy: %s\n\n",
		len(traces), f.matrix.peaks, f.matrix.metricDelays, strings.Join(sim.MatrixPolicies(), ","), settingsOrigin(f.config, f.headroom))
	if err := sim.WriteMatrixTable(stdout, rep); err != nil {
		return err
	}
	if f.matrix.against != "" {
		fmt.Fprintln(stdout)
		if err := sim.WriteMatrixComparison(stdout, f.matrix.against, sim.CompareMatrix(before, rep)); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "matrix of %d runs replayed in %s\n", len(runs), time.Since(start).Round(time.Second))
	return nil
}

func settingsOrigin(path, headroom string) string {
	origin := path
	if path == "" {
		origin = "built-in defaults (max_shards 16 or twice the peak)"
	}
	return origin + headroomOrigin(headroom)
}

func parsePeaks(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 || n > 100_000 {
			return nil, fmt.Errorf("--peaks %q: %q is not a shard count from 1 to 100000", s, p)
		}
		out = append(out, n)
	}
	return out, nil
}

func parseDelays(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, p := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(p))
		if err != nil || d < 0 || d > time.Hour {
			return nil, fmt.Errorf("--metric-delays %q: %q is not a duration from 0 to 1h (like 1m or 3m)", s, p)
		}
		out = append(out, d)
	}
	return out, nil
}

// parseSeeds reads --seeds: scenario seeds, 0 for each scenario's own, each
// at most once.
func parseSeeds(s string) ([]uint64, error) {
	var out []uint64
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(p), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("--seeds %q: %q is not a seed (a whole number, 0 for each scenario's own)", s, p)
		}
		if slices.Contains(out, n) {
			return nil, fmt.Errorf("--seeds %q: %d is given twice", s, n)
		}
		out = append(out, n)
	}
	return out, nil
}

// matrixScenarios makes the traces of the named scenarios, one for each
// seed.
func matrixScenarios(names string, seeds []uint64) ([]sim.Trace, error) {
	switch names {
	case "none", "":
		return nil, nil
	case "all":
		names = strings.Join(sim.ScenarioNames(), ",")
	}
	var out []sim.Trace
	for _, n := range strings.Split(names, ",") {
		g, err := sim.LookupScenario(strings.TrimSpace(n))
		if err != nil {
			return nil, fmt.Errorf("--scenarios: %w", err)
		}
		for _, seed := range seeds {
			// 0 and the scenario's own seed are the same trace: once.
			if t := g.Trace(seed); !slices.ContainsFunc(out, func(o sim.Trace) bool { return o.Name == t.Name }) {
				out = append(out, t)
			}
		}
	}
	return out, nil
}

// matrixTraceFiles reads every *.csv in dir. When dir is the default and
// does not exist, it says so on stderr and replays no files; a directory
// named on the command line must exist.
func matrixTraceFiles(dir string, named bool, stderr io.Writer) ([]sim.Trace, error) {
	if dir == "none" || dir == "" {
		return nil, nil
	}
	if _, err := os.Stat(dir); err != nil {
		if !named && errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(stderr, "note: no shared traces: %s does not exist (they live beside the project, not in it); replaying the scenarios only\n", dir)
			return nil, nil
		}
		return nil, badInput(fmt.Errorf("--traces %s: %w", dir, errors.Unwrap(err)))
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.csv"))
	if err != nil {
		return nil, badInput(fmt.Errorf("--traces %s: %w", dir, err))
	}
	sort.Strings(paths)
	if len(paths) == 0 {
		fmt.Fprintf(stderr, "note: no *.csv trace in %s; replaying the scenarios only\n", dir)
	}
	var out []sim.Trace
	for _, p := range paths {
		file, err := os.Open(p)
		if err != nil {
			return nil, badInput(fmt.Errorf("trace %s: %w", p, errors.Unwrap(err)))
		}
		t, err := sim.ReadTrace(file, filepath.Base(p))
		file.Close()
		if err != nil {
			return nil, badInput(err)
		}
		out = append(out, t)
	}
	return out, nil
}

// matrixProgress draws a progress bar on stderr when it is a terminal.
func matrixProgress(o *sim.MatrixOptions, minutes int, stderr io.Writer) func() {
	add, done := progressBar(stderr, minutes, "matrix")
	if add != nil {
		o.Progress = add
	}
	return done
}
