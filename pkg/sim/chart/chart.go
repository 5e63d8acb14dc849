// Package chart draws what a simulated policy did over time: the load
// against the shards in effect, the best plan in hindsight, and the minutes
// in which records were throttled or lost, one panel per policy, so that a
// reader sees at a glance where a policy was late or wasteful.
package chart

import (
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/sim"
)

// maxPoints bounds the points drawn per line; longer timelines are reduced
// to buckets, keeping each bucket's highest value so that no peak is lost.
const maxPoints = 3000

var (
	loadColour      = color.RGBA{R: 90, G: 120, B: 200, A: 255}
	shardColour     = color.RGBA{A: 255}
	planColour      = color.RGBA{G: 150, B: 60, A: 255}
	throttledColour = color.RGBA{R: 240, G: 150, A: 255}
	lostColour      = color.RGBA{R: 210, A: 255}
)

// Formats are the image formats Write supports, by file extension.
var Formats = []string{"png", "svg"}

// Save writes the chart to path, in the format its extension names.
func Save(path string, results []sim.Result, plan []int) (err error) {
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	if !supported(format) {
		return fmt.Errorf("chart %s: the file must end in .png or .svg", path)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	return Write(f, format, results, plan)
}

func supported(format string) bool {
	for _, f := range Formats {
		if f == format {
			return true
		}
	}
	return false
}

// Write draws one panel per result, stacked, and writes the image in format
// ("png" or "svg"). plan, when not nil, is the hindsight plan's shard count
// per minute, drawn in every panel.
func Write(w io.Writer, format string, results []sim.Result, plan []int) error {
	if !supported(format) {
		return fmt.Errorf("unsupported chart format %q: use png or svg", format)
	}
	if len(results) == 0 {
		return fmt.Errorf("nothing to draw")
	}
	width, panel := 12*vg.Inch, 3.2*vg.Inch
	c, err := draw.NewFormattedCanvas(width, panel*vg.Length(len(results)), format)
	if err != nil {
		return err
	}
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: len(results), Cols: 1, PadY: 0.15 * vg.Inch, PadTop: 0.1 * vg.Inch, PadBottom: 0.1 * vg.Inch,
		PadLeft: 0.1 * vg.Inch, PadRight: 0.1 * vg.Inch}
	for i, r := range results {
		p, err := panelFor(r, plan)
		if err != nil {
			return err
		}
		p.Draw(tiles.At(dc, 0, i))
	}
	_, err = c.WriteTo(w)
	return err
}

func panelFor(r sim.Result, plan []int) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s on %s: %s records lost, %s throttled, %s shard-hours (x%.2f hindsight)",
		r.Policy, r.Trace, sim.Group(float64(r.LostRecords), 0), sim.Group(float64(r.ThrottledRecords), 0),
		sim.Group(r.ShardHours, 1), r.XHindsight)
	p.X.Label.Text = "hours from the start of the trace"
	p.Y.Label.Text = "shards"
	p.Legend.Top, p.Legend.Left = true, true

	n := len(r.Timeline)
	bucket := max((n+maxPoints-1)/maxPoints, 1)
	hour := func(i int) float64 { return float64(i) / 60 }

	var load, shards, planXY, throttled, lost plotter.XYs
	for start := 0; start < n; start += bucket {
		end := min(start+bucket, n)
		var need float64
		var th, lo bool
		for _, row := range r.Timeline[start:end] {
			need = max(need, row.Need)
			th = th || row.ThrottledRecords > 0
			lo = lo || row.LostRecords > 0
		}
		load = append(load, plotter.XY{X: hour(start), Y: need})
		switch {
		case lo:
			lost = append(lost, plotter.XY{X: hour(start), Y: need})
		case th:
			throttled = append(throttled, plotter.XY{X: hour(start), Y: need})
		}
	}
	// Step lines only need their changes.
	shards = steps(n, func(i int) int { return r.Timeline[i].OpenShards })
	if len(plan) == n {
		planXY = steps(n, func(i int) int { return plan[i] })
	}

	add := func(name string, xys plotter.XYs, c color.Color, width vg.Length, dashed, step bool) error {
		if len(xys) == 0 {
			return nil
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return err
		}
		l.Color, l.Width = c, width
		if dashed {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		if step {
			l.StepStyle = plotter.PostStep
		}
		p.Add(l)
		p.Legend.Add(name, l)
		return nil
	}
	if err := add("load (shards needed)", load, loadColour, vg.Points(0.7), false, false); err != nil {
		return nil, err
	}
	if err := add("best plan in hindsight", planXY, planColour, vg.Points(1), true, true); err != nil {
		return nil, err
	}
	if err := add("open shards", shards, shardColour, vg.Points(1.2), false, true); err != nil {
		return nil, err
	}
	for _, m := range []struct {
		name string
		xys  plotter.XYs
		c    color.Color
	}{{"throttled minutes", throttled, throttledColour}, {"lost minutes", lost, lostColour}} {
		if len(m.xys) == 0 {
			continue
		}
		s, err := plotter.NewScatter(m.xys)
		if err != nil {
			return nil, err
		}
		s.GlyphStyle.Color, s.GlyphStyle.Radius, s.GlyphStyle.Shape = m.c, vg.Points(2), draw.CircleGlyph{}
		p.Add(s)
		p.Legend.Add(m.name, s)
	}
	p.Y.Min = 0
	return p, nil
}

// steps reduces a per-minute count to the points where it changes, plus the
// end, for a post-step line.
func steps(n int, at func(int) int) plotter.XYs {
	if n == 0 {
		return nil
	}
	xys := plotter.XYs{{X: 0, Y: float64(at(0))}}
	for i := 1; i < n; i++ {
		if at(i) != at(i-1) {
			xys = append(xys, plotter.XY{X: float64(i) / 60, Y: float64(at(i))})
		}
	}
	return append(xys, plotter.XY{X: float64(n) / 60, Y: float64(at(n - 1))})
}
