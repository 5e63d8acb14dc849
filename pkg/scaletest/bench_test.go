package scaletest

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"
)

// budget bounds one cycle of the benchmark.
func budget(tb testing.TB) time.Duration {
	if s := os.Getenv("SCALETEST_BUDGET"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			tb.Fatalf("SCALETEST_BUDGET: %v", err)
		}
		return d
	}
	return 10 * time.Minute
}

// BenchmarkCycle measures the daemon's first cycle after start-up and the
// cycles after it, each at the next tick of the poll interval (a minute of
// real time, as in the daemon), for 100, 1,000 and 10,000 streams, wired as
// the daemon wires itself. The figures are each cycle's own (ns/op means
// nothing: the wait for the tick is in it); the first cycle's are reported
// with a cold- prefix. An op is the nextCycles cycles after the first; run it
// with -benchtime 1x.
func BenchmarkCycle(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("streams=%d", n), func(b *testing.B) {
			fake := startFake(b)
			specs := streamSpecs(n)
			fake.post(b, "streams", specs)
			w := daemon(b, fake.URL, specs, jsonLogger())
			cold := w.cycle(b, fake, budget(b))
			report(b, "cold-", cold)
			b.Logf("streams=%d, cold: %s", n, describe(cold))
			for range b.N {
				// The cycles after the first: right after a first cycle longer
				// than the poll interval, the next starts at once; the ones
				// after it are steady.
				for range nextCycles {
					f := w.cycle(b, fake, budget(b))
					report(b, "", f)
					b.Logf("streams=%d, next at %s: %s", n, f.at.Round(time.Second), describe(f))
				}
			}
		})
	}
}

// nextCycles is how many cycles each op runs after the first.
const nextCycles = 3

func report(b *testing.B, prefix string, f cycleFigures) {
	b.ReportMetric(f.took.Seconds(), prefix+"cycle-s")
	b.ReportMetric(float64(f.decided), prefix+"decided")
	b.ReportMetric(float64(f.failed), prefix+"failed")
	b.ReportMetric(float64(f.peakHeapBytes)/(1<<20), prefix+"peak-heap-MB")
	b.ReportMetric(float64(f.liveHeapBytes)/(1<<20), prefix+"live-heap-MB")
	b.ReportMetric(float64(f.peakRSSBytes)/(1<<20), prefix+"peak-RSS-MB")
	b.ReportMetric(float64(f.allocs), prefix+"allocs")
	b.ReportMetric(float64(f.allocBytes)/(1<<20), prefix+"alloc-MB")
	for op, n := range f.calls {
		b.ReportMetric(float64(n), prefix+op+"-calls")
		b.ReportMetric(float64(f.made[op]), prefix+op+"-made")
		b.ReportMetric(float64(f.throttled[op]), prefix+op+"-throttled")
		b.ReportMetric(float64(f.maxPerSecond[op]), prefix+op+"-max/s")
	}
}

func describe(f cycleFigures) string {
	ops := make([]string, 0, len(f.calls))
	for op := range f.calls {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	var parts []string
	for _, op := range ops {
		parts = append(parts, fmt.Sprintf("%s %d calls (%d made by the daemon, %d throttled, %d other errors, max %d/s)",
			op, f.calls[op], f.made[op], f.throttled[op], f.errors[op], f.maxPerSecond[op]))
	}
	return fmt.Sprintf("%s, %d decided, %d failed, peak heap %.1f MB, live heap after GC %.1f MB, peak RSS %.1f MB, %d allocs (%.1f MB); %s",
		f.took.Round(time.Millisecond), f.decided, f.failed, float64(f.peakHeapBytes)/(1<<20), float64(f.liveHeapBytes)/(1<<20),
		float64(f.peakRSSBytes)/(1<<20), f.allocs, float64(f.allocBytes)/(1<<20),
		strings.Join(parts, ", "))
}
