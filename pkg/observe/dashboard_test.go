package observe

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"testing"
)

// grafanaDashboard is the part of config/grafana-dashboard.json checked.
type grafanaDashboard struct {
	Panels []struct {
		ID      int
		Type    string
		Title   string
		Targets []struct{ Expr string }
	}
	Templating struct {
		List []struct {
			Name       string
			Definition string
		}
	}
}

// seriesName finds the names of series in a PromQL query: the daemon's
// own, and the process collector's.
var seriesName = regexp.MustCompile(`\b(?:kinesis_autoscaler|process)_[a-z0-9_]+\b`)

// TestGrafanaDashboardQueriesExportedSeries checks that every query of the
// Grafana dashboard names at least one series and only series that the
// daemon's registry exports, so that a renamed metric cannot leave a panel
// silently empty.
func TestGrafanaDashboardQueriesExportedSeries(t *testing.T) {
	data, err := os.ReadFile("../../config/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("config/grafana-dashboard.json is not JSON: %v", err)
	}
	exported := New(BuildInfo{Version: "dev"}, nil).SeriesNames()
	var queries []string
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if p.Title == "" || len(p.Targets) == 0 {
			t.Errorf("panel %d has no title or no query", p.ID)
		}
		for _, tg := range p.Targets {
			queries = append(queries, tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if v.Definition != "" {
			queries = append(queries, v.Definition)
		}
	}
	if len(queries) < 10 {
		t.Fatalf("only %d queries found: is the dashboard's structure what this test reads?", len(queries))
	}
	used := map[string]bool{}
	for _, q := range queries {
		names := seriesName.FindAllString(q, -1)
		if len(names) == 0 {
			t.Errorf("query names no series of the daemon: %s", q)
		}
		for _, n := range names {
			used[n] = true
			if !slices.Contains(exported, n) {
				t.Errorf("query names %s, which the daemon does not export: %s", n, q)
			}
		}
	}
	// What the dashboard is for: per-stream load against capacity, actions,
	// calls left, hot shards, the daemon's cycle time and errors.
	for _, want := range []string{
		"kinesis_autoscaler_utilisation_ratio", "kinesis_autoscaler_open_shards", "kinesis_autoscaler_scaling_actions_total",
		"kinesis_autoscaler_reshard_calls_left", "kinesis_autoscaler_hottest_shard_utilisation_ratio",
		"kinesis_autoscaler_cycle_duration_seconds_bucket", "kinesis_autoscaler_aws_errors_total", "kinesis_autoscaler_stream_up",
	} {
		if !used[want] {
			t.Errorf("the dashboard does not show %s", want)
		}
	}
}

// TestSeriesNamesSeesEveryMetric checks the registry reading the dashboard
// test relies on: the vectors without a series yet are listed too.
func TestSeriesNamesSeesEveryMetric(t *testing.T) {
	names := New(BuildInfo{Version: "dev"}, nil).SeriesNames()
	for _, want := range []string{
		"kinesis_autoscaler_open_shards", "kinesis_autoscaler_stream_up", "kinesis_autoscaler_aws_errors_total",
		"kinesis_autoscaler_cycle_duration_seconds_count", "kinesis_autoscaler_build_info", "process_resident_memory_bytes",
	} {
		if !slices.Contains(names, want) {
			t.Errorf("SeriesNames lacks %s", want)
		}
	}
}
