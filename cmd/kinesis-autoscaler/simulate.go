package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"golang.org/x/term"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/config"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/sim"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/sim/chart"
)

// maxHistoryDays is how far back CloudWatch keeps 1-minute datapoints.
const maxHistoryDays = 15

// progressMinutes is the replay length (minutes times policies) from which
// a progress bar is shown on a terminal.
const progressMinutes = 50_000

type simulateFlags struct {
	// historyTrace reads --from-cloudwatch's trace (cloudWatchHistory).
	historyTrace   func(ctx context.Context, configPath, stream string, days int) (sim.Trace, error)
	trace          string
	policy         string
	compare        bool
	peakShards     int
	recordBytes    int64
	producerTTL    time.Duration
	metricDelay    time.Duration
	metricDelays   string
	reshardTime    time.Duration
	config         string
	headroom       string
	json           bool
	timeline       string
	chart          string
	fromCloudWatch string
	days           int
	logLevel       string
	prices         sim.Prices
	keySkew        string
	hotKey         float64
	consumers      int
	efoConsumers   int
	leaseReplicas  int
	leaseStreams   int
	everyCycle     bool
	warmStart      bool
	scenario       string
	seed           uint64
	matrix         matrixFlags
}

func simulateCommand(stdout, stderr io.Writer, h hooks) *cobra.Command {
	f := simulateFlags{historyTrace: cloudWatchHistory}
	if h.historyTrace != nil {
		f.historyTrace = h.historyTrace
	}
	def := sim.DefaultModel()
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Replay a traffic trace through the autoscaler and compare policies, no AWS needed",
		Long: `Replay a traffic trace through the same controller and policy code that "run"
uses, against a simulated stream, CloudWatch and clock, and report the records
each policy lost and throttled, its shard-hours and its cost, beside the
oracle (the least shards every minute) and the best plan in hindsight within
AWS's UpdateShardCount limits.

With no arguments it compares every policy on a built-in two-day clickstream
trace. --scenario NAME replays a seeded trace of the scenario library
(--scenario list lists them); --matrix replays every scenario and shared
trace at several peaks and metric delays and checks the default policy's
targets. A trace file is CSV with the header minute,records,bytes (bytes may be
empty); --peak-shards scales it so that its busiest minute needs that many
shards.

Policies: default (this daemon's threshold policy, from --config or the
built-in defaults), shard (default plus shard-level splits and merges),
ksu (AWS's Java Kinesis Scaling Utility, sample
configuration), ksu-readme (the same with its README's example configuration), alarm (AWS's CloudWatch-alarm and Lambda sample), fixed (the
peak need, constant).`,
		Example: `  kinesis-autoscaler simulate
  kinesis-autoscaler simulate --trace traffic.csv --peak-shards 50 --compare
  kinesis-autoscaler simulate --scenario list
  kinesis-autoscaler simulate --scenario scheduled-bursts --peak-shards 400
  kinesis-autoscaler simulate --matrix --peaks 8,50 --scenarios step-up,flash-crowd
  kinesis-autoscaler simulate --trace traffic.csv --policy default --config config.yaml --timeline t.csv --chart t.png
  kinesis-autoscaler simulate --from-cloudwatch my-stream --days 14 --json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 && looksLikeConfig(args[0]) && !strings.HasSuffix(strings.ToLower(args[0]), ".csv") {
				return noArgs(cmd, args)
			}
			if len(args) > 0 {
				return badInput(fmt.Errorf("simulate takes no arguments, got %q; give a trace with --trace FILE", args[0]))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.scenario == "list" {
				return listScenarios(stdout)
			}
			if f.matrix.on {
				return runMatrix(cmd.Context(), f, cmd.Flags().Changed, stdout, stderr)
			}
			return runSimulate(cmd.Context(), f, cmd.Flags().Changed("peak-shards"), stdout, stderr)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.trace, "trace", "", "trace CSV (minute,records,bytes); default: the built-in two-day clickstream")
	fl.StringVar(&f.scenario, "scenario", "", "replay a trace of the scenario library instead of a file; \"list\" lists them")
	fl.Uint64Var(&f.seed, "seed", 0, "seed of the --scenario trace (default: the scenario's own)")
	addMatrixFlags(fl, &f.matrix)
	fl.StringVar(&f.policy, "policy", "", "replay one policy: default, shard, ksu, ksu-readme, alarm or fixed (default: compare them all)")
	fl.BoolVar(&f.compare, "compare", false, "compare every policy side by side (what simulate does without --policy)")
	fl.IntVar(&f.peakShards, "peak-shards", 0, fmt.Sprintf("scale the trace so that its busiest minute needs this many shards; 0 replays it as it is (default %d for the built-in trace, the scenario's own for --scenario, 0 for files)", sim.DefaultTracePeakShards))
	fl.Int64Var(&f.recordBytes, "record-bytes", def.RecordBytes, "size of a record where the trace gives no bytes")
	fl.DurationVar(&f.producerTTL, "producer-ttl", def.ProducerTTL, "how long the producer retries a refused record before it is lost (the KPL's RecordTtl)")
	fl.StringVar(&f.metricDelays, "metric-delay", sim.ShortDuration(def.MetricDelay), "how long after a minute ends CloudWatch shows it; a list (1m,2m,3m) replays each in turn")
	fl.DurationVar(&f.reshardTime, "reshard-time", def.ReshardTime, "how long after the call a reshard takes effect")
	fl.StringVar(&f.config, "config", "", "take the default policy's settings from this config file (first stream, else the defaults block)")
	fl.StringVar(&f.headroom, "headroom", "", "the default policy's headroom: lossless, balanced or economy (default: --config's, else balanced)")
	fl.BoolVar(&f.json, "json", false, "print JSON: one object per policy, an array when comparing")
	fl.StringVar(&f.timeline, "timeline", "", "write a per-minute timeline CSV here (one file per policy when comparing: NAME-POLICY.csv)")
	fl.StringVar(&f.chart, "chart", "", "draw load, capacity and shards over time to this .png or .svg file")
	fl.StringVar(&f.fromCloudWatch, "from-cloudwatch", "", "replay this stream's own IncomingRecords and IncomingBytes history from CloudWatch")
	fl.IntVar(&f.days, "days", 14, fmt.Sprintf("days of history for --from-cloudwatch (1 to %d: CloudWatch keeps 1-minute data %d days)", maxHistoryDays, maxHistoryDays))
	fl.StringVar(&f.keySkew, "key-skew", "", "spread partition keys unevenly: hotspot:F:W puts a fraction F of the load evenly on a slice of width W of the hash-key space (many keys: splittable), the rest evenly (default: even keys)")
	fl.Float64Var(&f.hotKey, "hot-key", 0, "give one partition key this fraction of the load (0 to below 1): no split can divide it")
	fl.StringVar(&f.logLevel, "log-level", "", "log the controller's decisions to stderr at this level: debug, info, warn, error (default: no logs)")
	fl.Float64Var(&f.prices.ShardHour, "price-shard-hour", def.Prices.ShardHour, "provisioned price per shard-hour, USD")
	fl.Float64Var(&f.prices.PutMillion, "price-put-million", def.Prices.PutMillion, "provisioned price per million 25 KB PUT payload units, USD")
	fl.Float64Var(&f.prices.OnDemandStreamHour, "price-on-demand-stream-hour", def.Prices.OnDemandStreamHour, "on-demand price per stream-hour, USD")
	fl.Float64Var(&f.prices.OnDemandGB, "price-on-demand-gb", def.Prices.OnDemandGB, "on-demand price per GB ingested, USD")
	fl.Float64Var(&f.prices.OnDemandReadGB, "price-on-demand-read-gb", def.Prices.OnDemandReadGB, "on-demand price per GB read by a shared-throughput consumer, USD")
	fl.Float64Var(&f.prices.OnDemandEFOGB, "price-on-demand-efo-gb", def.Prices.OnDemandEFOGB, "on-demand price per GB read by an enhanced fan-out consumer, USD (not verified: docs/costs.md)")
	fl.Float64Var(&f.prices.AdvantageGB, "price-advantage-gb", def.Prices.AdvantageGB, "On-demand Advantage price per GB ingested, USD (docs/costs.md)")
	fl.Float64Var(&f.prices.AdvantageReadGB, "price-advantage-read-gb", def.Prices.AdvantageReadGB, "On-demand Advantage price per GB read, USD (docs/costs.md)")
	fl.Float64Var(&f.prices.AdvantageEFOGB, "price-advantage-efo-gb", def.Prices.AdvantageEFOGB, "On-demand Advantage price per GB read by enhanced fan-out, USD (not verified: docs/costs.md)")
	fl.Float64Var(&f.prices.EFOShardHour, "price-efo-shard-hour", def.Prices.EFOShardHour, "provisioned enhanced fan-out price per consumer-shard-hour, USD")
	fl.Float64Var(&f.prices.EFOGB, "price-efo-gb", def.Prices.EFOGB, "provisioned enhanced fan-out price per GB read, USD")
	fl.Float64Var(&f.prices.MetricsThousand, "price-metrics-thousand", def.Prices.MetricsThousand, "CloudWatch GetMetricData price per 1,000 metrics requested, USD")
	fl.Float64Var(&f.prices.RequestsThousand, "price-requests-thousand", def.Prices.RequestsThousand, "CloudWatch price per 1,000 GetMetricStatistics requests, USD")
	fl.Float64Var(&f.prices.CustomMetricMonth, "price-custom-metric-month", def.Prices.CustomMetricMonth, "CloudWatch price per custom metric-month (each enhanced shard-level metric of each shard), USD")
	fl.Float64Var(&f.prices.AlarmMetricMonth, "price-alarm-metric-month", def.Prices.AlarmMetricMonth, "CloudWatch price per standard-resolution alarm metric-month, USD")
	fl.Float64Var(&f.prices.DynamoDBWriteMillion, "price-dynamodb-write-million", def.Prices.DynamoDBWriteMillion, "DynamoDB on-demand price per million write request units (the lease), USD")
	fl.Float64Var(&f.prices.SNSMillion, "price-sns-million", def.Prices.SNSMillion, "SNS price per million publishes (alerts), USD")
	fl.Float64Var(&f.prices.LambdaMillion, "price-lambda-million", def.Prices.LambdaMillion, "Lambda price per million requests (the alarm sample's), USD")
	fl.IntVar(&f.consumers, "consumers", def.Consumers, "applications reading every record once with shared throughput (on-demand mode bills their reads)")
	fl.IntVar(&f.efoConsumers, "efo-consumers", 0, "enhanced fan-out consumers reading every record: their consumer-shard-hours and GB are added to every policy's cost")
	fl.IntVar(&f.leaseReplicas, "lease-replicas", 0, "daemon replicas sharing a DynamoDB lease (0: no lease table, the default configuration)")
	fl.BoolVar(&f.warmStart, "warm-start", false, "the stream ran its trace's first day before the trace starts (served in full, as the on-demand rows assume): the daemon's warm-up reads it from CloudWatch, as on a stream that exists; off, every run starts cold")
	fl.BoolVar(&f.everyCycle, "poll-every-cycle", false, "the daemon reads every stream's metrics every cycle instead of as often as each stream needs (to compare the bill and the losses)")
	fl.IntVar(&f.leaseStreams, "lease-streams", 1, "streams the daemon manages, among which the lease's bill is shared")
	return cmd
}

// runSimulate replays at each metric delay of --metric-delay in turn: with
// several, the tables follow one another and --json prints one array of
// every result, each naming its metric_delay.
func runSimulate(ctx context.Context, f simulateFlags, peakSet bool, stdout, stderr io.Writer) error {
	delays, err := parseDelays(f.metricDelays)
	if err != nil {
		return badInput(fmt.Errorf("--metric-delay: %w", err))
	}
	if len(delays) == 1 {
		f.metricDelay = delays[0]
		return runSimulateAt(ctx, f, peakSet, stdout, stderr)
	}
	if f.timeline != "" || f.chart != "" {
		return badInput(errors.New("--timeline and --chart take one --metric-delay"))
	}
	var all []json.RawMessage
	for _, d := range delays {
		f.metricDelay = d
		var out bytes.Buffer
		w := io.Writer(stdout)
		if f.json {
			w = &out
		}
		if err := runSimulateAt(ctx, f, peakSet, w, stderr); err != nil {
			return err
		}
		if !f.json {
			fmt.Fprintln(stdout)
			continue
		}
		dec := json.NewDecoder(&out)
		for dec.More() {
			var one json.RawMessage
			if err := dec.Decode(&one); err != nil {
				return err
			}
			if one[0] == '[' {
				var many []json.RawMessage
				if err := json.Unmarshal(one, &many); err != nil {
					return err
				}
				all = append(all, many...)
				continue
			}
			all = append(all, one)
		}
	}
	if !f.json {
		return nil
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(all)
}

func runSimulateAt(ctx context.Context, f simulateFlags, peakSet bool, stdout, stderr io.Writer) error {
	names, err := policiesOf(f)
	if err != nil {
		return badInput(err)
	}
	if f.chart != "" {
		ext := strings.TrimPrefix(strings.ToLower(filepath.Ext(f.chart)), ".")
		if ext != "png" && ext != "svg" {
			return badInput(fmt.Errorf("--chart %s: the file must end in .png or .svg", f.chart))
		}
	}
	trace, builtin, err := loadTrace(ctx, f)
	if err != nil {
		return err
	}
	model := sim.Model{
		PeakShards: f.peakShards, RecordBytes: f.recordBytes, ProducerTTL: f.producerTTL,
		MetricDelay: f.metricDelay, ReshardTime: f.reshardTime, Prices: f.prices,
		Consumers: f.consumers, EFOConsumers: f.efoConsumers, LeaseReplicas: f.leaseReplicas, LeaseStreams: f.leaseStreams,
		PollEveryCycle: f.everyCycle, WarmStart: f.warmStart,
	}
	if builtin && !peakSet {
		model.PeakShards = sim.DefaultTracePeakShards
	}
	if f.scenario != "" && !peakSet {
		g, _ := sim.LookupScenario(f.scenario)
		model.PeakShards = g.PeakShards
	}
	if f.keySkew != "" {
		k, err := sim.ParseHotspot(f.keySkew)
		if err != nil {
			return badInput(fmt.Errorf("--key-skew: %w", err))
		}
		model.Keys = k
	}
	if !(f.hotKey >= 0 && f.hotKey < 1) {
		return badInput(fmt.Errorf("--hot-key %v: must be a fraction of the load, 0 to below 1", f.hotKey))
	}
	model.Keys.HotKeyFraction = f.hotKey
	if err := model.Validate(); err != nil {
		return badInput(err)
	}
	peak, err := sim.PeakShards(trace, model)
	if err != nil {
		return badInput(err)
	}
	settings, origin, err := defaultPolicySettings(f.config, f.headroom, peak)
	if err != nil {
		return badInput(err)
	}
	sc, err := sim.NewScenario(trace, model, settings)
	if err != nil {
		return badInput(err)
	}
	if f.logLevel != "" {
		log, err := newLogger("console", f.logLevel, stderr)
		if err != nil {
			return badInput(err)
		}
		defer func() { _ = log.Sync() }()
		sc.Log = log
	} else {
		sc.Log = zap.NewNop()
	}
	finish := showProgress(sc, len(trace.Minutes)*len(names), stderr)
	results, err := sc.Compare(ctx, names...)
	finish()
	if err != nil {
		return err
	}

	comparing := len(names) > 1
	if f.json {
		if err := sim.WriteJSON(stdout, results, comparing); err != nil {
			return err
		}
	} else {
		writeHeader(stdout, sc, origin)
		if err := sim.WriteTable(stdout, results); err != nil {
			return err
		}
		writeLegend(stdout, sc)
		for _, r := range results {
			for _, a := range r.HotKeyAlerts {
				fmt.Fprintf(stdout, "alert (%s): %s\n", r.Policy, a)
			}
		}
	}
	if f.timeline != "" {
		for _, r := range results {
			path := f.timeline
			if comparing {
				path = perPolicy(path, r.Policy)
			}
			if err := writeFile(path, func(w io.Writer) error { return sim.WriteTimeline(w, r.Timeline) }); err != nil {
				return fmt.Errorf("write timeline: %w", err)
			}
			fmt.Fprintf(stderr, "timeline of %s written to %s\n", r.Policy, path)
		}
	}
	if f.chart != "" {
		if err := chart.Save(f.chart, results, sc.Hindsight().Plan.Counts); err != nil {
			return fmt.Errorf("draw chart: %w", err)
		}
		fmt.Fprintf(stderr, "chart written to %s\n", f.chart)
	}
	return nil
}

// policiesOf is the policies to replay.
func policiesOf(f simulateFlags) ([]string, error) {
	if f.policy == "" {
		return sim.Policies, nil
	}
	if f.compare {
		return nil, errors.New("--policy and --compare exclude each other: --compare replays every policy")
	}
	for _, p := range sim.Policies {
		if p == f.policy {
			return []string{p}, nil
		}
	}
	return nil, fmt.Errorf("unknown policy %q: choose default, shard, ksu, ksu-readme, alarm or fixed", f.policy)
}

// loadTrace reads the trace the flags name; builtin is true for the
// built-in one.
func loadTrace(ctx context.Context, f simulateFlags) (t sim.Trace, builtin bool, err error) {
	switch {
	case f.trace != "" && f.fromCloudWatch != "":
		return t, false, badInput(errors.New("--trace and --from-cloudwatch exclude each other"))
	case f.scenario != "" && (f.trace != "" || f.fromCloudWatch != ""):
		return t, false, badInput(errors.New("--scenario excludes --trace and --from-cloudwatch"))
	case f.seed != 0 && f.scenario == "":
		return t, false, badInput(errors.New("--seed needs --scenario"))
	case f.scenario != "":
		g, err := sim.LookupScenario(f.scenario)
		if err != nil {
			return t, false, badInput(fmt.Errorf("--scenario: %w", err))
		}
		return g.Trace(f.seed), false, nil
	case f.fromCloudWatch != "":
		if f.days < 1 || f.days > maxHistoryDays {
			return t, false, badInput(fmt.Errorf("--days %d: must be 1 to %d (CloudWatch keeps 1-minute data %d days)", f.days, maxHistoryDays, maxHistoryDays))
		}
		t, err = f.historyTrace(ctx, f.config, f.fromCloudWatch, f.days)
		if err != nil {
			return t, false, fmt.Errorf("read the history of stream %q: %w", f.fromCloudWatch, err)
		}
		return t, false, nil
	case f.trace != "":
		file, err := os.Open(f.trace)
		if err != nil {
			return t, false, badInput(fmt.Errorf("trace %s: %w", f.trace, errors.Unwrap(err)))
		}
		defer file.Close()
		t, err = sim.ReadTrace(file, f.trace)
		if err != nil {
			return t, false, badInput(err)
		}
		return t, false, nil
	}
	return sim.DefaultTrace(), true, nil
}

// defaultPolicySettings are the default policy's settings, from the config
// file at path (the built-in defaults when empty) with headroom over its
// own when set, and words saying where they came from.
func defaultPolicySettings(path, headroom string, peak int) (policy.Settings, string, error) {
	s, origin, err := configPolicySettings(path, peak)
	if err != nil || headroom == "" {
		return s, origin, err
	}
	if !policy.Headroom(headroom).Valid() {
		return s, origin, fmt.Errorf("--headroom %q: must be one of %s", headroom, policy.HeadroomNames())
	}
	s.Headroom = policy.Headroom(headroom)
	return s, origin + headroomOrigin(headroom), nil
}

// headroomOrigin says that --headroom set the headroom; nothing when it did
// not.
func headroomOrigin(headroom string) string {
	if headroom == "" {
		return ""
	}
	return "; headroom " + headroom + " (--headroom)"
}

// configPolicySettings are the default policy's settings from the config
// file at path, or the built-in defaults when path is empty.
func configPolicySettings(path string, peak int) (policy.Settings, string, error) {
	if path == "" {
		s := sim.DefaultSettings(peak)
		origin := "built-in defaults; max_shards is 16 or twice the peak need if more, so that the policy is not capped"
		if s.MaxShards > 16 {
			origin = fmt.Sprintf("built-in defaults; max_shards raised from 16 to %d, twice the peak need, so that the policy is not capped", s.MaxShards)
		}
		return s, origin, nil
	}
	cfg, err := config.Load(path)
	if err != nil {
		return policy.Settings{}, "", err
	}
	if len(cfg.Streams) > 0 {
		s := cfg.Streams[0].Settings.Policy()
		return s, fmt.Sprintf("%s, stream %s%s", path, cfg.Streams[0].Name, capped(s, peak)), nil
	}
	s := cfg.Defaults.Policy()
	return s, fmt.Sprintf("%s, defaults block%s", path, capped(s, peak)), nil
}

func capped(s policy.Settings, peak int) string {
	if s.MaxShards < peak {
		return fmt.Sprintf("; max_shards %d is below the peak need of %d shards, so the policy will throttle", s.MaxShards, peak)
	}
	return ""
}

func writeHeader(w io.Writer, sc *sim.Scenario, origin string) {
	t, m, s := sc.Trace, sc.Model, sc.Settings
	fmt.Fprintf(w, "trace: %s", t.Name)
	if t.Description != "" {
		fmt.Fprintf(w, " (%s)", t.Description)
	}
	fmt.Fprintf(w, "\n  %s minutes (%.1f h); ", sim.Group(float64(len(t.Minutes)), 0), sc.Hours())
	if m.PeakShards > 0 {
		fmt.Fprintf(w, "scaled x%.4g so that the busiest minute needs %d shards", sc.Scale(), sc.Peak())
	} else {
		fmt.Fprintf(w, "as recorded, the busiest minute needs %d shards", sc.Peak())
	}
	fmt.Fprintf(w, "; records of %s bytes where the trace gives none\n", sim.Group(float64(m.RecordBytes), 0))
	fmt.Fprintf(w, "model: 1 s steps; a shard takes 1,000 records/s and 1 MiB/s; the producer retries a refused record for %s, then it is lost;\n", sim.ShortDuration(m.ProducerTTL))
	fmt.Fprintf(w, "  CloudWatch shows a minute %s after it ends; a reshard takes effect %s after the call;\n", sim.ShortDuration(m.MetricDelay), sim.ShortDuration(m.ReshardTime))
	fmt.Fprintf(w, "  UpdateShardCount: at most x2 or /2 per call, %d calls per rolling 24 h, none while UPDATING\n", policy.MaxUpdateCalls)
	if k := m.Keys; !k.Even() {
		fmt.Fprintf(w, "  partition keys: ")
		if k.HotspotFraction > 0 {
			lo := min(sim.HotspotStart, 1-k.HotspotWidth)
			fmt.Fprintf(w, "%.4g of the load on the slice [%.4f, %.4f) of the key space; ", k.HotspotFraction, lo, lo+k.HotspotWidth)
		}
		if k.HotKeyFraction > 0 {
			fmt.Fprintf(w, "%.4g on one hot key at %.4f; ", k.HotKeyFraction, sim.HotKeyAt)
		}
		fmt.Fprintf(w, "the rest evenly\n")
	}
	fmt.Fprintf(w, "default policy (%s):\n  shards %d..%d, up above %.0f%% for %s, down below %.0f%% for %s, cooldowns %s up and %s down\n",
		origin, s.MinShards, s.MaxShards, s.ScaleUpThreshold*100, sim.ShortDuration(s.ScaleUpAfter), s.ScaleDownThreshold*100, sim.ShortDuration(s.ScaleDownAfter),
		sim.ShortDuration(s.CooldownUp), sim.ShortDuration(s.CooldownDown))
	h := sc.Hindsight()
	fmt.Fprintf(w, "references: oracle %s shard-hours (least shards every minute, no delay, no AWS limits);\n", sim.Group(sc.Oracle(), 1))
	if h.Exact {
		fmt.Fprintf(w, "  hindsight %s shard-hours (the best plan that knows the whole trace, within AWS's limits; exact)\n", sim.Group(float64(h.Lower)/60, 1))
	} else {
		fmt.Fprintf(w, "  hindsight %s shard-hours (no plan within AWS's limits does better, even knowing the whole trace; one of %s exists)\n",
			sim.Group(float64(h.Lower)/60, 1), sim.Group(float64(h.Upper)/60, 1))
	}
	fmt.Fprintf(w, "  on-demand mode $%s; fixed at the peak need $%s\n", sim.Group(sc.OnDemandCost(), 2), sim.Group(sc.FixedPeakCost(), 2))
	for _, n := range sc.Notes() {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintln(w)
}

func writeLegend(w io.Writer, sc *sim.Scenario) {
	fmt.Fprintf(w, `
lost: records dropped after the producer retried them for %s; throttled: records refused at least once;
shard-hours: shards in effect over time; x oracle, x hindsight: shard-hours against those references;
reshard calls: accepted UpdateShardCount (and SplitShard/MergeShards) calls; cost: shard-hours and PUT payload
units at list price, plus the autoscaler's own bill and enhanced fan-out; own bill /mo: the autoscaler's own
CloudWatch reads, alarms, shard-level metrics, alerts and lease per stream-month (docs/costs.md);
vs on-demand: against the same traffic in on-demand Standard mode, read once per --consumers.
default: this daemon's threshold policy, run by its own controller; shard: default plus shard-level splits and
merges on per-shard metrics; ksu: AWS's Java Kinesis Scaling Utility
with its sample configuration (scalePct 100 read as the utility reads it: it never scales up); ksu-readme: the
same with its README's example configuration; alarm: AWS's CloudWatch-alarm and Lambda sample; fixed: the peak need, constant.
`, sim.ShortDuration(sc.Model.ProducerTTL))
}

// perPolicy names a policy's timeline file: NAME-POLICY.EXT.
func perPolicy(path, policy string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "-" + policy + ext
}

func writeFile(path string, write func(io.Writer) error) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	return write(f)
}

// showProgress draws a progress bar on stderr for long replays when stderr
// is a terminal; the returned function removes it.
func showProgress(sc *sim.Scenario, minutes int, stderr io.Writer) func() {
	if minutes < progressMinutes {
		return func() {}
	}
	add, done := progressBar(stderr, minutes, "simulating")
	if add != nil {
		sc.Progress = add
	}
	return done
}

// progressBar draws a bar of minutes on stderr when it is a terminal: add
// (nil when there is no bar) counts minutes from any goroutine, done removes
// the bar.
func progressBar(stderr io.Writer, minutes int, what string) (add func(int), done func()) {
	file, ok := stderr.(*os.File)
	if !ok || !term.IsTerminal(int(file.Fd())) {
		return nil, func() {}
	}
	bar := progressbar.NewOptions64(int64(minutes),
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionSetItsString("minutes"),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	var mu sync.Mutex
	add = func(n int) {
		mu.Lock()
		defer mu.Unlock()
		_ = bar.Add(n)
	}
	return add, func() {
		mu.Lock()
		defer mu.Unlock()
		_ = bar.Finish()
	}
}
