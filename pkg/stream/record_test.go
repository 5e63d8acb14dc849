package stream

import (
	"testing"
	"time"
)

func TestParseRecord(t *testing.T) {
	tests := []struct {
		name         string
		tags         map[string]string
		wantTerm     uint64
		wantPaused   bool
		wantShards   int
		wantProblems int
	}{
		{name: "empty values are parts the record lacks",
			tags: map[string]string{TagLastAction: "", TagCalls: "", TagShards: "", TagShardCalls: "", TagHotKeys: "", TagTerm: ""}},
		{name: "term and pause", tags: map[string]string{TagTerm: "12", TagPaused: "2026-11-25T13:00:00Z", TagShards: "4"},
			wantTerm: 12, wantPaused: true, wantShards: 4},
		{name: "a malformed term is ignored", tags: map[string]string{TagTerm: "-1"}, wantProblems: 1},
		{name: "a malformed pause still pauses", tags: map[string]string{TagPaused: "yes please"}, wantPaused: true, wantProblems: 1},
		{name: "old tags of both histories are read as one record",
			tags:       map[string]string{TagLastAction: "up 2 4 2026-11-25T13:30:00Z", TagShardCalls: "1795613400"},
			wantShards: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, problems := ParseRecord(tt.tags, now)
			if r.Term != tt.wantTerm || r.Paused.IsZero() == tt.wantPaused || r.History.Expected() != tt.wantShards || len(problems) != tt.wantProblems {
				t.Errorf("record %+v, problems %v", r, problems)
			}
		})
	}
	if r, _ := ParseRecord(map[string]string{TagPaused: "2026-11-25T13:00:00Z"}, now); !r.Paused.Equal(time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)) {
		t.Errorf("paused at %v", r.Paused)
	}
}
