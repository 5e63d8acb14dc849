package faulttest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/controller"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/faultproxy"
)

// A call that never answers must not stall the loop: the cycle ends within
// two poll intervals and the other streams are decided. The SDK's HTTP
// client has no overall timeout, so only the daemon can bound the call.
// (UpdateShardCount is bounded: the controller gives it 20 s.)
func TestHungCallStallsNoOtherStream(t *testing.T) {
	tests := []struct {
		name   string
		inject func(*world)
		// served are the roles that must be decided without error.
		served []string
	}{
		{name: "DescribeStreamSummary of one stream hangs", served: []string{"steady", "idle"},
			inject: func(w *world) { w.kinesis.Inject(rule(w, "DescribeStreamSummary", "hot", faultproxy.Hang())) }},
		{name: "GetMetricData hangs", served: nil,
			inject: func(w *world) { w.cw.Inject(faultproxy.Rule{Operation: "GetMetricData", Fault: faultproxy.Hang()}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, "awsfake", []string{"hot", "steady", "idle"})
			w.opts.PollInterval = 2 * time.Second
			w.restart()
			tt.inject(w)
			now := t0
			w.clock.set(now)
			w.publish(now)

			ctx, cancel := context.WithCancel(w.ctx)
			defer cancel()
			done := make(chan []controller.Outcome, 1)
			go func() { done <- w.ctrl.RunCycle(ctx) }()
			bound := 2 * w.opts.PollInterval
			var problems []string
			select {
			case outs := <-done:
				for _, o := range outs {
					s := w.byName[o.Stream]
					if contains(tt.served, s.role) && o.Err != nil {
						problems = append(problems, fmt.Sprintf("%s not served: %v", s.role, o.Err))
					}
				}
			case <-time.After(bound):
				problems = append(problems, fmt.Sprintf("the cycle was still running after %s (poll interval %s): one hung call stalls every stream",
					bound, w.opts.PollInterval))
				for _, p := range []*faultproxy.Proxy{w.kinesis, w.cw} {
					p.Clear()
					p.ReleaseHung()
				}
				<-done
			}
			if len(problems) > 0 {
				t.Errorf("%d problems:\n  %s", len(problems), strings.Join(problems, "\n  "))
			}
		})
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
