package sim

import (
	"context"
	"testing"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

func TestCloudWatchDelay(t *testing.T) {
	c := NewClock(DefaultStart)
	cw := NewCloudWatch(StreamName, DefaultStart, 3*time.Minute, c)
	cw.Put(600, 6000, 7) // minute 0
	cw.Put(1200, 12000, 0)

	tests := []struct {
		name  string
		now   time.Duration
		known []bool // minutes -1, 0, 1, 2
	}{
		{name: "minute 0 not yet shown", now: 3*time.Minute + 59*time.Second, known: []bool{false, false, false, false}},
		{name: "minute 0 shown 3 minutes after it ends", now: 4 * time.Minute, known: []bool{false, true, false, false}},
		{name: "minute 1 shown, minute 2 not finished", now: 10 * time.Minute, known: []bool{false, true, true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.Set(int64(tt.now / time.Second))
			got, err := cw.ReadLoad(context.Background(), []string{StreamName, "other"}, DefaultStart.Add(-time.Minute), DefaultStart.Add(3*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			ms := got[StreamName]
			if len(ms) != 4 || len(got["other"]) != 0 {
				t.Fatalf("got %d minutes, %d for another stream", len(ms), len(got["other"]))
			}
			for i, m := range ms {
				if m.Known != tt.known[i] || !m.Start.Equal(DefaultStart.Add(time.Duration(i-1)*time.Minute)) {
					t.Errorf("minute %d: known %v at %s, want %v", i-1, m.Known, m.Start, tt.known[i])
				}
			}
			if ms[1].Known && (ms[1].IncomingRecords != 600 || ms[1].IncomingBytes != 6000 || ms[1].WriteThrottled != 7) {
				t.Errorf("minute 0 figures: %+v", ms[1])
			}
		})
	}
}

func TestCloudWatchBillsWhatEachReadAsks(t *testing.T) {
	c := NewClock(DefaultStart)
	cw := NewCloudWatch(StreamName, DefaultStart, time.Minute, c)
	cw.Put(600, 6000, 7)
	c.Set(int64(3 * time.Minute / time.Second))
	ctx, from, to := context.Background(), DefaultStart, DefaultStart.Add(time.Minute)
	if _, err := cw.ReadLoad(ctx, []string{StreamName}, from, to); err != nil {
		t.Fatal(err)
	}
	if _, err := cw.ReadWriteLoad(ctx, []string{StreamName}, from, to); err != nil {
		t.Fatal(err)
	}
	for _, records := range []bool{false, true} {
		got, err := cw.ReadWatchLoad(ctx, []string{StreamName}, records, from, to)
		if err != nil {
			t.Fatal(err)
		}
		// The load metric not asked for is not shown, as the AWS adapter
		// does not read it.
		m := got[StreamName][0]
		if !m.Known || m.WriteThrottled != 7 || (records && (m.IncomingRecords != 600 || m.IncomingBytes != 0)) || (!records && (m.IncomingBytes != 6000 || m.IncomingRecords != 0)) {
			t.Errorf("watch read of records %v: %+v", records, m)
		}
	}
	if want := int64(policy.MetricsPerStream + policy.WriteMetricsPerStream + 2*policy.WatchMetricsPerStream); cw.MetricsRequested() != want {
		t.Errorf("%d metrics requested, want %d", cw.MetricsRequested(), want)
	}
}

func TestCloudWatchPastRepeatsTheDayGiven(t *testing.T) {
	c := NewClock(DefaultStart)
	cw := NewCloudWatch(StreamName, DefaultStart, time.Minute, c)
	cw.SetPast([]int64{10, 20, 30}, []float64{100, 200, 300})
	cw.Put(600, 6000, 7)
	c.Set(int64(3 * time.Minute / time.Second))
	got, err := cw.ReadLoad(context.Background(), []string{StreamName}, DefaultStart.Add(-4*time.Minute), DefaultStart.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	// Minutes -4..-1 are the given day's minutes 2, 0, 1, 2 (the day,
	// repeated, ends just before start); minute 0 is the trace's.
	want := []float64{30, 10, 20, 30, 600}
	for i, m := range got[StreamName] {
		if !m.Known || m.IncomingRecords != want[i] || m.IncomingBytes != want[i]*10 || (i < 4 && m.WriteThrottled != 0) {
			t.Errorf("minute %d: %+v, want %v records", i-4, m, want[i])
		}
	}
}

// The simulated CloudWatch's hours are the Sums of the minutes it shows,
// billed as the adapter's read of hours asks for them; an hour it does not
// show whole is not known.
func TestCloudWatchHoursSumTheMinutes(t *testing.T) {
	c := NewClock(DefaultStart)
	cw := NewCloudWatch(StreamName, DefaultStart, time.Minute, c)
	day := make([]int64, 24*60)
	bytes := make([]float64, len(day))
	for i := range day {
		day[i], bytes[i] = int64(i/60), float64(i/60)*10
	}
	cw.SetPast(day, bytes)
	got, err := cw.ReadHours(context.Background(), StreamName, DefaultStart.Add(-3*time.Hour), DefaultStart.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("%d hours, want 4", len(got))
	}
	// The day, repeated, ends just before start: its hours 21 to 23.
	for i, want := range []float64{21, 22, 23} {
		if h := got[i]; !h.Known || h.IncomingRecords != want*60 || h.IncomingBytes != want*600 {
			t.Errorf("hour %d: %+v, want %v records a minute", i-3, h, want)
		}
	}
	if got[3].Known {
		t.Errorf("the trace's first hour is known before it ran: %+v", got[3])
	}
	if cw.MetricsRequested() != policy.HourMetricsPerStream {
		t.Errorf("%d metrics billed, want %d", cw.MetricsRequested(), policy.HourMetricsPerStream)
	}
}
