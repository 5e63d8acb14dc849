package controller

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

func TestSummarise(t *testing.T) {
	busy := &ShardOutcome{Result: ResultRequested}
	tests := []struct {
		name       string
		out        []Outcome
		loadErr    error
		want       CycleSummary
		wantActing bool
	}{
		{
			name: "quiet cycle",
			out:  []Outcome{{Stream: "a"}, {Stream: "b"}},
			want: CycleSummary{Streams: 2, Leading: true},
		},
		{
			name: "an action, a split, a deferral and a failure",
			out: []Outcome{
				{Stream: "a", Result: ResultRequested},
				{Stream: "b", Shards: busy},
				{Stream: "c", Result: ResultDeferred},
				{Stream: "d", Err: errors.New("describe: 500")},
				{Stream: "e", Err: policy.ErrStreamBusy, Result: ResultBusy},
			},
			want:       CycleSummary{Streams: 5, Actions: 2, Deferred: 1, Errors: 1, Leading: true},
			wantActing: true,
		},
		{
			name:       "metrics unreadable",
			out:        []Outcome{{Stream: "a"}},
			loadErr:    errors.New("GetMetricData: timeout"),
			want:       CycleSummary{Streams: 1, Leading: true},
			wantActing: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Summarise(CycleReport{Leading: true, LoadErr: tt.loadErr, Took: time.Second}, tt.out, false)
			tt.want.LoadErr, tt.want.Took = tt.loadErr, time.Second
			if got != tt.want {
				t.Errorf("Summarise = %+v, want %+v", got, tt.want)
			}
			if got.Acting() != tt.wantActing {
				t.Errorf("Acting() = %v, want %v", got.Acting(), tt.wantActing)
			}
		})
	}
}

// TestLogDecisionUnknownIsNull checks that a stream without a known minute
// logs null utilisation, not 0, and that every line says whether it is a
// dry run.
func TestLogDecisionUnknownIsNull(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	state := policy.StreamState{OpenShards: 2, Status: policy.StatusActive}
	unknown := policy.Decision{Current: 2, Target: 2, Reason: "no metrics known for the stream"}
	minute := policy.Minute{Known: true}
	known := policy.Decision{Current: 2, Target: 2, Utilisation: policy.Utilisation{WriteBytes: 0.5}, Trigger: &minute}
	logDecision(log, zapcore.InfoLevel, unknown, state, true, false, true)
	logDecision(log, zapcore.InfoLevel, known, state, true, false, false)
	entries := logs.All()
	if len(entries) != 2 {
		t.Fatalf("%d lines, want 2", len(entries))
	}
	u := entries[0].ContextMap()
	if v, ok := u["write_bytes_util"]; !ok || v != nil {
		t.Errorf("unknown utilisation logged as %#v, want null", v)
	}
	var buf bytes.Buffer
	jsonLog := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&buf), zapcore.InfoLevel))
	logDecision(jsonLog, zapcore.InfoLevel, unknown, state, true, false, false)
	if !strings.Contains(buf.String(), `"write_bytes_util":null`) {
		t.Errorf("JSON line lacks a null utilisation: %s", buf.String())
	}
	if u["dry_run"] != true {
		t.Errorf("dry_run = %v, want true", u["dry_run"])
	}
	k := entries[1].ContextMap()
	if k["write_bytes_util"] != 0.5 || k["dry_run"] != false {
		t.Errorf("known line: %v", k)
	}
}

func TestLogOnlyActing(t *testing.T) {
	tests := []struct {
		name       string
		onlyActing bool
		summary    CycleSummary
		decision   policy.Decision
		wantInfo   int
	}{
		{name: "every cycle", onlyActing: false, summary: CycleSummary{Streams: 1}, decision: policy.Decision{Current: 2, Target: 2}, wantInfo: 2},
		{name: "quiet cycle, only acting", onlyActing: true, summary: CycleSummary{Streams: 1}, decision: policy.Decision{Current: 2, Target: 2}, wantInfo: 0},
		{
			name: "acting cycle, only acting", onlyActing: true, summary: CycleSummary{Streams: 1, Actions: 1},
			decision: policy.Decision{Current: 2, Target: 4, Direction: policy.DirectionUp}, wantInfo: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.DebugLevel)
			c := &Controller{log: zap.New(core), opts: Options{LogOnlyActing: tt.onlyActing}}
			logDecision(c.log, c.decisionLevel(tt.decision), tt.decision, policy.StreamState{OpenShards: 2}, true, false, false)
			c.logSummary(tt.summary)
			if got := logs.FilterLevelExact(zapcore.InfoLevel).Len(); got != tt.wantInfo {
				t.Errorf("%d info lines, want %d", got, tt.wantInfo)
			}
			if got := logs.Len(); got != 2 {
				t.Errorf("%d lines at any level, want 2 (the rest at debug)", got)
			}
		})
	}
}
