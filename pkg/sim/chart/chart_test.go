package chart

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/sim"
)

func TestWrite(t *testing.T) {
	m := sim.DefaultModel()
	m.PeakShards = sim.DefaultTracePeakShards
	sc, err := sim.NewScenario(sim.DefaultTrace(), m, sim.DefaultSettings(m.PeakShards))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := sc.Compare(context.Background(), sim.PolicyDefault, sim.PolicyKSU)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		format string
		want   string
	}{
		{format: "svg", want: "<svg"},
		{format: "png", want: "\x89PNG"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, tt.format, rs, sc.Hindsight().Plan.Counts); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(buf.String()[:min(buf.Len(), 200)], tt.want) {
				t.Errorf("not %s", tt.format)
			}
			if tt.format == "svg" {
				for _, s := range []string{"open shards", "best plan in hindsight", "lost minutes", "ksu on builtin:clickstream-2d"} {
					if !strings.Contains(buf.String(), s) {
						t.Errorf("svg lacks %q", s)
					}
				}
			}
		})
	}
	if err := Write(&bytes.Buffer{}, "gif", rs, nil); err == nil {
		t.Error("gif: no error")
	}
	if err := Save(filepath.Join(t.TempDir(), "c.jpeg"), rs, nil); err == nil || !strings.Contains(err.Error(), ".png or .svg") {
		t.Errorf("jpeg: %v", err)
	}
}

func TestSteps(t *testing.T) {
	got := steps(5, func(i int) int { return []int{2, 2, 4, 4, 1}[i] })
	if len(got) != 4 || got[1].Y != 4 || got[2].Y != 1 || got[3].X != 5.0/60 {
		t.Errorf("got %v", got)
	}
}
