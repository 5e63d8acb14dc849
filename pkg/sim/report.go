package sim

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// Result is what one policy did to one trace.
type Result struct {
	Trace   string `json:"trace"`
	Policy  string `json:"policy"`
	Minutes int    `json:"minutes"`
	// MetricDelay is the model's CloudWatch delay, as 1m.
	MetricDelay string `json:"metric_delay"`

	OfferedRecords   int64 `json:"offered_records"`
	AcceptedRecords  int64 `json:"accepted_records"`
	ThrottledRecords int64 `json:"throttled_records"`
	LostRecords      int64 `json:"lost_records"`
	// BacklogRecords still wait for a retry when the trace ends.
	BacklogRecords   int64 `json:"backlog_records"`
	ThrottledMinutes int   `json:"throttled_minutes"`
	LostMinutes      int   `json:"lost_minutes"`
	// LossEpisodes counts the runs of lost minutes, each within
	// LossEpisodeGap of the one before; LostAfterFirstEpisode are the
	// records lost outside the first. A first burst of a new regime may be
	// lost before anything could know it; the next must not be.
	LossEpisodes          int   `json:"loss_episodes"`
	LostAfterFirstEpisode int64 `json:"lost_after_first_episode"`

	ShardHours               float64 `json:"shard_hours"`
	OracleShardHours         float64 `json:"oracle_shard_hours"`
	HindsightShardHours      float64 `json:"hindsight_shard_hours"`
	HindsightUpperShardHours float64 `json:"hindsight_upper_shard_hours"`
	HindsightExact           bool    `json:"hindsight_exact"`
	XOracle                  float64 `json:"x_oracle"`
	XHindsight               float64 `json:"x_hindsight"`
	StartShards              int     `json:"start_shards"`
	MinOpenShards            int     `json:"min_open_shards"`
	MaxOpenShards            int     `json:"max_open_shards"`

	// ReshardCalls are the accepted UpdateShardCount, SplitShard and
	// MergeShards calls; RefusedCalls those AWS refused.
	ReshardCalls          int `json:"reshard_calls"`
	UpdateShardCountCalls int `json:"update_shard_count_calls"`
	SplitMergeCalls       int `json:"split_merge_calls"`
	RefusedCalls          int `json:"refused_calls"`
	// MaxReshardCalls24h is the most accepted UpdateShardCount calls in any
	// rolling 24 hours (AWS allows 10).
	MaxReshardCalls24h int `json:"max_reshard_calls_24h"`

	// CostUSD is everything: StreamCostUSD (shard-hours and PUT payload
	// units, or on-demand's charges), MonitoringCostUSD (the autoscaler's own
	// bill: its CloudWatch reads, alarms, shard-level metrics, lease and
	// alerts, Bill) and EFOCostUSD (enhanced fan-out consumers).
	CostUSD           float64 `json:"cost_usd"`
	StreamCostUSD     float64 `json:"stream_cost_usd"`
	MonitoringCostUSD float64 `json:"monitoring_cost_usd"`
	EFOCostUSD        float64 `json:"efo_cost_usd"`
	// MonitoringUSDPerStreamMonth is MonitoringCostUSD per 730 hours.
	MonitoringUSDPerStreamMonth float64 `json:"monitoring_usd_per_stream_month"`
	// The autoscaler's own bill's quantities (Bill).
	MetricsRequested     int64   `json:"metrics_requested"`
	CloudWatchRequests   int64   `json:"cloudwatch_requests"`
	AlarmMetricMonths    float64 `json:"alarm_metric_months"`
	EnhancedMetricMonths float64 `json:"enhanced_metric_months"`
	LeaseWrites          float64 `json:"lease_writes"`
	SNSPublishes         int64   `json:"sns_publishes"`
	LambdaInvocations    int64   `json:"lambda_invocations"`

	// OnDemandCostUSD is the trace in on-demand Standard mode (every record
	// accepted), OnDemandAdvantageCostUSD in On-demand Advantage mode.
	OnDemandCostUSD          float64 `json:"on_demand_cost_usd"`
	OnDemandAdvantageCostUSD float64 `json:"on_demand_advantage_cost_usd"`
	FixedPeakCostUSD         float64 `json:"fixed_peak_cost_usd"`
	SavingVsOnDemandPct      float64 `json:"saving_vs_on_demand_pct"`

	// Alerts counts the controller's alerts by kind.
	Alerts map[string]int `json:"alerts,omitempty"`
	// HotKeyAlerts are the shard-level policy's hot-partition-key reports.
	HotKeyAlerts []string `json:"hot_key_alerts,omitempty"`
	// HotKeyShardSplits counts the accepted splits of shards whose range held
	// the simulated hot key before its first hot-key alert, and
	// HotKeyShardSplitsAfterAlert those after; nil when there is none.
	HotKeyShardSplits           *int `json:"hot_key_shard_splits,omitempty"`
	HotKeyShardSplitsAfterAlert *int `json:"hot_key_shard_splits_after_alert,omitempty"`
	// UniformReshards counts the shard-level policy's uniform
	// UpdateShardCount calls (reshard_uniform), part of
	// UpdateShardCountCalls.
	UniformReshards int `json:"uniform_reshards,omitempty"`
	// Notes say what a reader should know to read the figures.
	Notes []string `json:"notes,omitempty"`

	Timeline []TimelineRow `json:"-"`
	Calls    []Call        `json:"-"`
}

// setBill fills the bill's fields at the model's prices over hours.
func (r *Result) setBill(b Bill, m Model, hours float64) {
	r.MetricsRequested, r.CloudWatchRequests = b.MetricsRequested, b.CloudWatchRequests
	r.AlarmMetricMonths, r.EnhancedMetricMonths = b.AlarmMetricMonths, b.EnhancedMetricMonths
	r.LeaseWrites, r.SNSPublishes, r.LambdaInvocations = b.LeaseWrites, b.Publishes, b.Invocations
	r.MonitoringCostUSD = b.Cost(m.Prices)
	r.MonitoringUSDPerStreamMonth = perStreamMonth(r.MonitoringCostUSD, hours)
}

// TimelineRow is one minute of a replay.
type TimelineRow struct {
	Minute           int64
	OfferedRecords   int64
	OfferedBytes     int64
	AcceptedRecords  int64
	AcceptedBytes    float64
	ThrottledRecords int64
	LostRecords      int64
	// BacklogRecords wait for a retry at the end of the minute.
	BacklogRecords int64
	// OpenShards is the shard count in effect at the end of the minute.
	OpenShards int
	// MaxShardFraction is the widest open shard's share of the key space.
	MaxShardFraction float64
	Status           policy.Status
	// CapacityRecords and CapacityBytes are what the shards in effect could
	// accept over the minute's seconds.
	CapacityRecords int64
	CapacityBytes   float64
	// Need is the minute's offered load in shards at its average rate.
	Need float64
}

// TimelineHeader is the timeline CSV's header.
const TimelineHeader = "minute,offered_records,offered_bytes,accepted_records,throttled_records,lost_records,backlog_records,open_shards,max_shard_fraction,status"

// WriteTimeline writes the timeline as CSV, one row per minute.
func WriteTimeline(w io.Writer, rows []TimelineRow) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(strings.Split(TimelineHeader, ",")); err != nil {
		return err
	}
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	for _, r := range rows {
		rec := []string{i(r.Minute), i(r.OfferedRecords), i(r.OfferedBytes), i(r.AcceptedRecords), i(r.ThrottledRecords),
			i(r.LostRecords), i(r.BacklogRecords), strconv.Itoa(r.OpenShards),
			strconv.FormatFloat(r.MaxShardFraction, 'f', 6, 64), string(r.Status)}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes one JSON object per result, or an array of them when
// asArray.
func WriteJSON(w io.Writer, results []Result, asArray bool) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if asArray {
		return enc.Encode(results)
	}
	for _, r := range results {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

// WriteTable writes the results as a table for people, one row per policy,
// with a legend under it.
func WriteTable(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "policy\tlost\tthrottled\tshard-hours\tx oracle\tx hindsight\treshard calls\tcost\town bill /mo\tvs on-demand\t")
	for _, r := range results {
		calls := strconv.Itoa(r.ReshardCalls)
		if r.SplitMergeCalls > 0 {
			calls = fmt.Sprintf("%d (%d split/merge)", r.ReshardCalls, r.SplitMergeCalls)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2f\t%.2f\t%s\t$%s\t$%s\t%s\t\n",
			r.Policy, lossFigure(r.LostRecords, r.OfferedRecords), lossFigure(r.ThrottledRecords, r.OfferedRecords),
			thousands(r.ShardHours, 1), r.XOracle, r.XHindsight, calls, thousands(r.CostUSD, 2),
			thousands(r.MonitoringUSDPerStreamMonth, 2), saving(r.SavingVsOnDemandPct))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, r := range results {
		for _, n := range r.Notes {
			if !seen[n] {
				seen[n] = true
				fmt.Fprintf(w, "note: %s\n", n)
			}
		}
	}
	return nil
}

// lossFigure is a count of records and its share of those offered.
func lossFigure(n, of int64) string {
	if n == 0 {
		return "0"
	}
	return fmt.Sprintf("%s (%s)", thousands(float64(n), 0), share(n, of))
}

func share(n, of int64) string {
	if of == 0 {
		return "-"
	}
	p := 100 * float64(n) / float64(of)
	switch {
	case p < 0.01:
		return "<0.01%"
	case p < 10:
		return fmt.Sprintf("%.2f%%", p)
	default:
		return fmt.Sprintf("%.0f%%", p)
	}
}

func saving(pct float64) string {
	if pct >= 0 {
		return fmt.Sprintf("%.0f%% less", pct)
	}
	return fmt.Sprintf("%.0f%% more", -pct)
}

// thousands formats v with decimals places and thousands separators.
func thousands(v float64, decimals int) string {
	s := strconv.FormatFloat(math.Abs(v), 'f', decimals, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	if v < 0 {
		b.WriteByte('-')
	}
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if frac != "" {
		b.WriteString("." + frac)
	}
	return b.String()
}

// Group formats v with decimals places and thousands separators, as the
// table does.
func Group(v float64, decimals int) string { return thousands(v, decimals) }
