package scaletest

import (
	"testing"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/metrics"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/awsfake"
)

// The prototype of the scale change keeps a steady cycle over 500 streams
// under every AWS rate limit: no call throttled, no operation above its limit
// in any one-second window, GetMetricData batched, and the cycle short.
func TestDesignStaysUnderLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("a cold and a steady cycle over 500 streams")
	}
	const n = 500
	fake := startFake(t)
	specs := streamSpecs(n)
	fake.post(t, "streams", specs)
	w := daemon(fake.URL, specs, jsonLogger(), true)
	cold := coldThenSteady(t, fake, w, time.Minute)
	t.Logf("cold cycle over %d streams, histories read unthrottled: %s", n, describe(cold))

	f := measureCycle(t, fake, w.ctrl, time.Minute)
	t.Logf("steady cycle over %d streams: %s", n, describe(f))
	if f.failed > 0 || f.decided != n {
		t.Errorf("%d decided, %d failed; want all %d decided", f.decided, f.failed, n)
	}
	for op, calls := range f.calls {
		if f.throttled[op] > 0 {
			t.Errorf("%s: %d of %d calls throttled", op, f.throttled[op], calls)
		}
		if l, ok := awsfake.AWSLimits[op]; ok && !l.PerStream && float64(f.maxPerSecond[op]) > l.PerSecond {
			t.Errorf("%s: %d calls in one second, limit %v/s", op, f.maxPerSecond[op], l.PerSecond)
		}
	}
	if want := (n*metrics.MetricsPerStream + metrics.MaxQueriesPerCall - 1) / metrics.MaxQueriesPerCall; f.calls["GetMetricData"] > want {
		t.Errorf("%d GetMetricData calls, want at most %d", f.calls["GetMetricData"], want)
	}
	if f.took > 10*time.Second {
		t.Errorf("steady cycle took %s", f.took)
	}
}
