package config

import (
	"maps"
	"reflect"
	"testing"
	"time"
)

func TestTagFilter(t *testing.T) {
	tests := []struct {
		name string
		tags string
		want map[string]string
	}{
		{name: "empty", tags: "", want: map[string]string{}},
		{name: "one", tags: "autoscale=enabled", want: map[string]string{"autoscale": "enabled"}},
		{
			name: "several, spaces trimmed, empty value",
			tags: " autoscale = enabled ,team=data, reviewed=",
			want: map[string]string{"autoscale": "enabled", "team": "data", "reviewed": ""},
		},
		{name: "malformed pairs left out", tags: "autoscale,team=data", want: map[string]string{"team": "data"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Discover{Tags: tt.tags}.TagFilter()
			if !maps.Equal(got, tt.want) {
				t.Errorf("TagFilter(%q) = %v, want %v", tt.tags, got, tt.want)
			}
		})
	}
}

func TestWithTagValues(t *testing.T) {
	base := DefaultStreamSettings() // max_shards 16
	tests := []struct {
		name   string
		values map[string]string
		change func(s *StreamSettings)
		want   []Problem
	}{
		{name: "no tags", values: nil, change: func(*StreamSettings) {}},
		{
			name:   "good values apply",
			values: map[string]string{"max_shards": "12", "min_shards": "2", "cooldown_down": "2h", "scale_up_threshold": "0.8"},
			change: func(s *StreamSettings) {
				s.MaxShards, s.MinShards, s.CooldownDown, s.ScaleUpThreshold = 12, 2, 2*time.Hour, 0.8
			},
		},
		{
			name:   "ten thousand shards is not trusted",
			values: map[string]string{"max_shards": "10000"},
			change: func(*StreamSettings) {},
			want: []Problem{{Key: "max_shards", Reason: "10000 is above defaults.max_shards 16, the most a tag may ask for " +
				"(list the stream under streams to give it more)"}},
		},
		{
			name:   "malformed values are left out, the others apply",
			values: map[string]string{"max_shards": "lots", "scale_up_after": "5 minutes", "cooldown_up": "-1m", "min_shards": "3"},
			change: func(s *StreamSettings) { s.MinShards = 3 },
			want: []Problem{
				{Key: "cooldown_up", Reason: "-1m is below the minimum 0s"},
				{Key: "max_shards", Reason: `"lots" is not a whole number`},
				{Key: "scale_up_after", Reason: `"5 minutes" is not a duration (use e.g. 60s, 5m)`},
			},
		},
		{
			name:   "unknown setting",
			values: map[string]string{"max_shard": "8"},
			change: func(*StreamSettings) {},
			want:   []Problem{{Key: "max_shard", Reason: "unknown setting"}},
		},
		{
			name:   "inconsistent pair from tags is left out whole",
			values: map[string]string{"min_shards": "8", "max_shards": "4"},
			change: func(*StreamSettings) {},
			want: []Problem{
				{Key: "min_shards", Reason: "min_shards 8 is greater than max_shards 4"},
				{Key: "max_shards", Reason: "min_shards 8 is greater than max_shards 4"},
			},
		},
		{
			name:   "a tag that clashes with the defaults is left out",
			values: map[string]string{"scale_down_threshold": "0.7"},
			change: func(*StreamSettings) {},
			want:   []Problem{{Key: "scale_down_threshold", Reason: "scale_down_threshold 0.7 is not below scale_up_threshold 0.75 minus 0.1"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := base
			tt.change(&want)
			got, problems := base.WithTagValues(tt.values)
			if got != want {
				t.Errorf("settings = %+v, want %+v", got, want)
			}
			if !reflect.DeepEqual(problems, tt.want) {
				t.Errorf("problems = %q, want %q", problems, tt.want)
			}
		})
	}
}
