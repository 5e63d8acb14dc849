package sim

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// CompareMatrix matches runs by trace, peak and delay: it counts the runs
// whose x hindsight fell or rose as the table prints it, names the runs that
// lost or throttled more, and leaves out runs only one report holds.
func TestCompareMatrix(t *testing.T) {
	at := func(peak int, change func(*Result)) MatrixRun {
		d := goodDefault()
		if change != nil {
			change(&d)
		}
		r := matrixRun(d)
		r.PeakShards = peak
		return r
	}
	before := NewMatrixReport([]MatrixRun{
		at(8, func(r *Result) { r.LostRecords = 1000 }), // fails, and passes after
		at(50, nil),
		at(400, func(r *Result) { r.XHindsight = 2.0 }),
		at(1000, nil),
	}, DefaultTargets)
	after := NewMatrixReport([]MatrixRun{
		at(8, func(r *Result) { r.XHindsight = 1.302 }), // the table prints 1.30: unchanged
		at(50, func(r *Result) { r.XHindsight, r.LostRecords, r.LostAfterFirstEpisode = 1.5, 1000, 1000 }),
		at(400, func(r *Result) { r.XHindsight, r.ThrottledRecords = 1.6, 2000 }),
		at(9, nil),
	}, DefaultTargets)
	c := CompareMatrix(before, after)
	if c.Runs != 3 || len(c.OnlyBefore) != 1 || len(c.OnlyAfter) != 1 || !strings.Contains(c.OnlyBefore[0], "@1000/3m") {
		t.Fatalf("matched %d runs, only before %q, only after %q; want 3, @1000, @9", c.Runs, c.OnlyBefore, c.OnlyAfter)
	}
	if c.Fell != 1 || c.Rose != 1 || math.Abs(c.FellBy+0.4) > 1e-9 || math.Abs(c.RoseBy-0.2) > 1e-9 {
		t.Errorf("fell %d by %.2f, rose %d by %.2f; want 1 by -0.40, 1 by 0.20", c.Fell, c.FellBy, c.Rose, c.RoseBy)
	}
	if c.PassingBefore != 2 || c.PassingAfter != 2 {
		t.Errorf("passing %d -> %d, want 2 -> 2 (the run @8 lost 0.1 %% before, the run @50 after)", c.PassingBefore, c.PassingAfter)
	}
	if len(c.NowPass) != 1 || c.NowPass[0] != "scenario:test @8/3m" || len(c.NoLongerPass) != 1 || c.NoLongerPass[0] != "scenario:test @50/3m" {
		t.Errorf("verdicts changed: now pass %q, no longer %q; want the run @8, the run @50", c.NowPass, c.NoLongerPass)
	}
	if math.Abs(c.MedianBefore-1.3) > 1e-9 || math.Abs(c.MedianAfter-1.5) > 1e-9 || math.Abs(c.MeanBefore-4.6/3) > 1e-9 {
		t.Errorf("median %.3f -> %.3f, mean before %.3f; want 1.3 -> 1.5, 1.533", c.MedianBefore, c.MedianAfter, c.MeanBefore)
	}
	if len(c.LostMore) != 1 || c.LostMore[0] != (RunChange{"scenario:test @50/3m", 0, 0.1, 0, 1000}) ||
		len(c.ThrottledMore) != 1 || c.ThrottledMore[0] != (RunChange{"scenario:test @400/3m", 0.1, 0.2, 1000, 2000}) {
		t.Errorf("lost more %+v, throttled more %+v", c.LostMore, c.ThrottledMore)
	}
	// The run @8 lost 0.1 % in its first episode before; the run @50 loses
	// 0.1 % after its first episode now.
	if c.FirstOverBefore != 1 || c.FirstOverAfter != 0 || c.LaterOverBefore != 0 || c.LaterOverAfter != 1 {
		t.Errorf("over the loss target in the first episode %d -> %d, after it %d -> %d; want 1 -> 0, 0 -> 1",
			c.FirstOverBefore, c.FirstOverAfter, c.LaterOverBefore, c.LaterOverAfter)
	}
	var out bytes.Buffer
	if err := WriteMatrixComparison(&out, "before.json", c); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"against before.json (3 runs in both):", "runs meeting every target: 2 -> 2", "1 now meet every target\n      scenario:test @8/3m\n", "1 no longer do\n      scenario:test @50/3m\n", "median 1.300 -> 1.500",
		"1 runs fell (by 0.40 in all), 1 rose (by 0.20 in all)", "1 runs lost more records", "scenario:test @50/3m: 0.000 % -> 0.100 % (0 -> 1,000 records)",
		"1 runs throttled more records", "1 runs only in the earlier report, 1 only in this one",
		"runs over the loss target in their first episode of losses alone: 1 -> 0; after it: 0 -> 1",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("comparison lacks %q:\n%s", want, out.String())
		}
	}
}
