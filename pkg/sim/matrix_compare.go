package sim

import (
	"fmt"
	"io"
	"math"
	"slices"
)

// MatrixComparison is the default policy of a target matrix run by run
// against an earlier report of the same runs (simulate --matrix --against):
// what a policy change did, with the runs it made worse named.
type MatrixComparison struct {
	// Runs is how many runs both reports hold (matched by trace, peak and
	// metric delay); OnlyBefore and OnlyAfter name the others.
	Runs                  int
	OnlyBefore, OnlyAfter []string
	// PassingBefore and PassingAfter count the runs of both that meet
	// every target.
	PassingBefore, PassingAfter int
	// NowPass and NoLongerPass name the runs whose verdict changed.
	NowPass, NoLongerPass []string
	// The median and mean of default's x hindsight over the runs of both.
	MedianBefore, MedianAfter, MeanBefore, MeanAfter float64
	// Fell and Rose count the runs whose x hindsight, as the table prints
	// it (two decimals), went down or up; FellBy and RoseBy sum the changes.
	Fell, Rose     int
	FellBy, RoseBy float64
	// FirstOverBefore and FirstOverAfter count the runs of both whose first
	// episode of losses alone lost more than the loss target (of the later
	// report) allows; LaterOverBefore and LaterOverAfter those whose losses
	// after it did.
	FirstOverBefore, FirstOverAfter, LaterOverBefore, LaterOverAfter int
	// LostMore and ThrottledMore are the runs whose default lost or
	// throttled more records than before, in the order of the report.
	LostMore, ThrottledMore []RunChange
}

// RunChange is one run's figure before and after: records, and per cent of
// its offered records (a change too small to show in per cent shows in
// records).
type RunChange struct {
	Label                       string
	Before, After               float64
	BeforeRecords, AfterRecords int64
}

// CompareMatrix compares after with before, run by run.
func CompareMatrix(before, after MatrixReport) MatrixComparison {
	var c MatrixComparison
	old := map[string]MatrixReportRun{}
	for _, r := range before.Runs {
		old[r.label()] = r
	}
	seen := map[string]bool{}
	var xb, xa []float64
	for _, a := range after.Runs {
		b, ok := old[a.label()]
		if !ok {
			c.OnlyAfter = append(c.OnlyAfter, a.label())
			continue
		}
		seen[a.label()] = true
		c.Runs++
		if b.Pass {
			c.PassingBefore++
		}
		if a.Pass {
			c.PassingAfter++
		}
		switch {
		case a.Pass && !b.Pass:
			c.NowPass = append(c.NowPass, a.label())
		case b.Pass && !a.Pass:
			c.NoLongerPass = append(c.NoLongerPass, a.label())
		}
		db, okb := reportResult(b.Results, PolicyDefault)
		da, oka := reportResult(a.Results, PolicyDefault)
		if !okb || !oka {
			continue
		}
		xb, xa = append(xb, db.XHindsight), append(xa, da.XHindsight)
		fb, lb := after.Targets.lossOver(db)
		fa, la := after.Targets.lossOver(da)
		c.FirstOverBefore, c.LaterOverBefore = c.FirstOverBefore+fb, c.LaterOverBefore+lb
		c.FirstOverAfter, c.LaterOverAfter = c.FirstOverAfter+fa, c.LaterOverAfter+la
		switch d := math.Round(da.XHindsight*100)/100 - math.Round(db.XHindsight*100)/100; {
		case d < 0:
			c.Fell++
			c.FellBy += d
		case d > 0:
			c.Rose++
			c.RoseBy += d
		}
		if da.LostRecords > db.LostRecords {
			c.LostMore = append(c.LostMore, RunChange{a.label(), pct(db.LostRecords, db.OfferedRecords), pct(da.LostRecords, da.OfferedRecords), db.LostRecords, da.LostRecords})
		}
		if da.ThrottledRecords > db.ThrottledRecords {
			c.ThrottledMore = append(c.ThrottledMore, RunChange{a.label(), pct(db.ThrottledRecords, db.OfferedRecords), pct(da.ThrottledRecords, da.OfferedRecords), db.ThrottledRecords, da.ThrottledRecords})
		}
	}
	for _, b := range before.Runs {
		if !seen[b.label()] {
			c.OnlyBefore = append(c.OnlyBefore, b.label())
		}
	}
	c.MedianBefore, c.MeanBefore = medianMean(xb)
	c.MedianAfter, c.MeanAfter = medianMean(xa)
	return c
}

// label names a report's run as MatrixRun.Label does.
func (r MatrixReportRun) label() string {
	return fmt.Sprintf("%s @%d/%s", r.Trace, r.PeakShards, r.MetricDelay)
}

// medianMean is the median and the mean of xs (0 when empty).
func medianMean(xs []float64) (median, mean float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	median = s[len(s)/2]
	if len(s)%2 == 0 {
		median = (s[len(s)/2-1] + median) / 2
	}
	for _, x := range s {
		mean += x
	}
	return median, mean / float64(len(s))
}

// WriteMatrixComparison writes c for people; name says what the earlier
// report was.
func WriteMatrixComparison(w io.Writer, name string, c MatrixComparison) error {
	fmt.Fprintf(w, "against %s (%d runs in both):\n", name, c.Runs)
	fmt.Fprintf(w, "  runs meeting every target: %d -> %d\n", c.PassingBefore, c.PassingAfter)
	for _, l := range []struct {
		what string
		rs   []string
	}{{"now meet every target", c.NowPass}, {"no longer do", c.NoLongerPass}} {
		if len(l.rs) > 0 {
			fmt.Fprintf(w, "    %d %s\n", len(l.rs), l.what)
		}
		for _, r := range l.rs {
			fmt.Fprintf(w, "      %s\n", r)
		}
	}
	fmt.Fprintf(w, "  default's x hindsight: median %.3f -> %.3f, mean %.3f -> %.3f\n", c.MedianBefore, c.MedianAfter, c.MeanBefore, c.MeanAfter)
	fmt.Fprintf(w, "  %d runs fell (by %.2f in all), %d rose (by %.2f in all)\n", c.Fell, math.Abs(c.FellBy), c.Rose, c.RoseBy)
	fmt.Fprintf(w, "  runs over the loss target in their first episode of losses alone: %d -> %d; after it: %d -> %d\n",
		c.FirstOverBefore, c.FirstOverAfter, c.LaterOverBefore, c.LaterOverAfter)
	for _, l := range []struct {
		what string
		rs   []RunChange
	}{{"lost more records", c.LostMore}, {"throttled more records", c.ThrottledMore}} {
		fmt.Fprintf(w, "  %d runs %s\n", len(l.rs), l.what)
		for _, r := range l.rs {
			fmt.Fprintf(w, "    %s: %.3f %% -> %.3f %% (%s -> %s records)\n", r.Label, r.Before, r.After,
				thousands(float64(r.BeforeRecords), 0), thousands(float64(r.AfterRecords), 0))
		}
	}
	if len(c.OnlyBefore)+len(c.OnlyAfter) > 0 {
		fmt.Fprintf(w, "  %d runs only in the earlier report, %d only in this one (not compared)\n", len(c.OnlyBefore), len(c.OnlyAfter))
	}
	_, err := fmt.Fprintln(w)
	return err
}
