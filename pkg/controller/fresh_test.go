package controller

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// A calm stream is read every few minutes (policy.NextRead). A scale-down is
// decided on minutes read in its own cycle, never on those of an earlier
// read, and after a reshard the stream is read every cycle until its minutes
// show the new count.
func TestScaleDownDecidedOnFreshMinutes(t *testing.T) {
	// 35 % of 8 shards: calm, above scale_down_threshold, and more shards
	// than the load needs.
	r := newRig(t, Options{}, map[string]int{"clicks": 8}, map[string]float64{"clicks": 0.35})
	forced, after := 0, -1
	for i := 0; i < 180; i++ {
		st := r.c.state["clicks"]
		due := st == nil || st.poll.due(r.clock.Now())
		calls := r.load.calls
		out := r.cycles(1)
		read := r.load.calls > calls
		if after >= 0 && i <= after+3 && !read {
			t.Errorf("cycle %d, %d after the reshard: the stream was not read", i, i-after)
		}
		if d := out[0].Decision; out[0].Acted && d.Direction == policy.DirectionDown {
			if !read {
				t.Fatalf("cycle %d scaled down from %d to %d on the minutes of an earlier read", i, d.Current, d.Target)
			}
			if !due {
				forced++
			}
			after = i
		}
	}
	if after < 0 || forced == 0 {
		t.Fatalf("no scale-down between scheduled reads in 180 cycles (last scale-down at cycle %d): the test shows nothing", after)
	}
}

// spikyLoad is fakeLoad with one minute half as busy again.
type spikyLoad struct {
	*fakeLoad
	spike time.Time
}

func (s spikyLoad) ReadLoad(ctx context.Context, streams []string, start, end time.Time) (map[string][]policy.Minute, error) {
	out, err := s.fakeLoad.ReadLoad(ctx, streams, start, end)
	for _, ms := range out {
		for i := range ms {
			if ms[i].Known && ms[i].Start.Equal(s.spike) {
				ms[i].IncomingRecords *= 1.5
				ms[i].IncomingBytes *= 1.5
			}
		}
	}
	return out, err
}

// The learner takes the minutes a read had settled by the time of that read:
// with spaced reads and a 3-minute metric delay, the minutes CloudWatch had
// not published at a read are learnt from the next, as read every minute,
// and not taken as unknown. A one-minute spike at each offset from the
// reads is learnt.
func TestSpacedReadsLearnEveryMinute(t *testing.T) {
	for offset := range 5 {
		spike := start.Truncate(time.Minute).Add(time.Duration(60+offset) * time.Minute)
		r := newRig(t, Options{}, map[string]int{"clicks": 8}, map[string]float64{"clicks": 0.3})
		s := settings()
		s.MinShards = 8
		r.c = New([]StreamSpec{{Name: "clicks", Settings: s}},
			Deps{Load: spikyLoad{r.load, spike}, Streams: r.streams, History: r.history, Notifier: r.alerts, Clock: r.clock},
			Options{PollInterval: time.Minute, DedupWindow: time.Hour}, zaptest.NewLogger(t))
		r.cycles(90)
		if reason := r.c.state["clicks"].poll.reason; !strings.HasPrefix(reason, "calm") {
			t.Fatalf("the stream is read every cycle (%s): the test shows nothing", reason)
		}
		// 45 % of 8 shards, at 100 %: 3.6 shards.
		if env := r.c.state["clicks"].learned.Envelope(r.clock.Now()); math.Abs(env.Peak-3.6) > 1e-6 {
			t.Errorf("spike at %s: peak learnt %.2f shards, want 3.6", spike.Format("15:04"), env.Peak)
		}
	}
}

// A failed read before a scale-down skips the scale-down, as every AWS fault
// does: the stream is left as it is and the next cycle decides again.
func TestScaleDownWaitsWhenTheFreshReadFails(t *testing.T) {
	// The first scale-down between scheduled reads, found on a rig that
	// reads without faults.
	ref := newRig(t, Options{}, map[string]int{"clicks": 8}, map[string]float64{"clicks": 0.35})
	at := -1
	for i := 0; i < 180 && at < 0; i++ {
		st := ref.c.state["clicks"]
		due := st == nil || st.poll.due(ref.clock.Now())
		out := ref.cycles(1)
		if out[0].Acted && out[0].Decision.Direction == policy.DirectionDown && !due {
			at = i
		}
	}
	if at < 0 {
		t.Fatal("no scale-down between scheduled reads in 180 cycles: the test shows nothing")
	}
	r := newRig(t, Options{}, map[string]int{"clicks": 8}, map[string]float64{"clicks": 0.35})
	r.cycles(at)
	r.load.err = errors.New("throttled by CloudWatch")
	updates := len(r.streams.updates)
	out := r.cycles(1)
	if out[0].Acted || out[0].Err == nil || len(r.streams.updates) != updates {
		t.Fatalf("cycle %d with the read failing: acted %v, error %v, %d calls", at, out[0].Acted, out[0].Err, len(r.streams.updates)-updates)
	}
	r.load.err = nil
	if out := r.cycles(1); !out[0].Acted || out[0].Decision.Direction != policy.DirectionDown {
		t.Errorf("the next cycle, with the read back: %+v", out[0].Decision)
	}
}
