package scaletest

import (
	"testing"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/controller"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/metrics"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/awsfake"
)

// The daemon, wired as it wires itself, keeps its first and its steady cycle
// over 500 streams under every AWS rate limit: no call throttled, no
// operation above its limit in any one-second window, GetMetricData at the
// least number of calls, and the steady cycle served by the state cache:
// DescribeStreamSummary only for the streams it resharded, ListShards only
// for a share of the streams.
func TestDaemonStaysUnderLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("a cold and a steady cycle over 500 streams")
	}
	const n = 500
	fake := startFake(t)
	specs := streamSpecs(n)
	fake.post(t, "streams", specs)
	w := daemon(t, fake.URL, specs, jsonLogger())
	cold := measureCycle(t, fake, w, time.Minute)
	t.Logf("cold cycle over %d streams: %s", n, describe(cold))
	// The sweep of the minute between the cycles, without waiting for it.
	if err := w.cache.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	steady := measureCycle(t, fake, w, time.Minute)
	t.Logf("steady cycle over %d streams: %s", n, describe(steady))

	for _, c := range []struct {
		name string
		f    cycleFigures
	}{{name: "cold", f: cold}, {name: "steady", f: steady}} {
		f := c.f
		if f.failed > 0 || f.decided != n {
			t.Errorf("%s: %d decided, %d failed; want all %d decided", c.name, f.decided, f.failed, n)
		}
		for op, calls := range f.calls {
			if f.throttled[op] > 0 {
				t.Errorf("%s: %s: %d of %d calls throttled", c.name, op, f.throttled[op], calls)
			}
			if l, ok := awsfake.AWSLimits[op]; ok && !l.PerStream && float64(f.maxPerSecond[op]) > l.PerSecond {
				t.Errorf("%s: %s: %d calls in one second, limit %v/s", c.name, op, f.maxPerSecond[op], l.PerSecond)
			}
		}
		// The packed reads of every stream, and two reads of its history
		// (its minutes, and the hours before them) for each stream whose
		// learning a cycle rebuilds (at most controller.MaxWarmUpsPerCycle a
		// cycle); a steady cycle reads calm streams less often (the poll
		// schedule), so it may make fewer.
		if want := (n*metrics.MetricsPerStream+metrics.MaxQueriesPerCall-1)/metrics.MaxQueriesPerCall +
			2*min(n, controller.MaxWarmUpsPerCycle); f.made["GetMetricData"] > want || c.name == "cold" && f.made["GetMetricData"] != want {
			t.Errorf("%s: %d GetMetricData calls made, want %d", c.name, f.made["GetMetricData"], want)
		}
	}
	if cold.calls["UpdateShardCount"] == 0 {
		t.Fatalf("the cold cycle resharded nothing: the stream mix no longer tests acting")
	}
	// A stream is described only right before a reshard, and after one
	// until a Describe or the sweep shows it ACTIVE; every other state is
	// cached.
	if max := cold.calls["UpdateShardCount"] + steady.calls["UpdateShardCount"]; steady.calls["DescribeStreamSummary"] > max {
		t.Errorf("steady cycle: %d DescribeStreamSummary calls, want at most %d", steady.calls["DescribeStreamSummary"], max)
	}
	if steady.calls["ListShards"] > n/4 {
		t.Errorf("steady cycle: %d ListShards calls for %d streams: counts are not cached", steady.calls["ListShards"], n)
	}
}
